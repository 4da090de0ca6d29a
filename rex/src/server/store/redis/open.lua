-- Opens a room's record: creates its meta when nothing is stored.
-- KEYS: meta, lease
-- ARGV: fence token ('' = unfenced), format, app, epoch, started_unix_ms
-- Returns 1 if the room was created, 0 if it was already stored.
if ARGV[1] ~= '' then
  local lease = redis.call('GET', KEYS[2])
  if (not lease) or string.sub(lease, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then
    return redis.error_reply('REXFENCED this host does not hold the room')
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'format', ARGV[2], 'app', ARGV[3], 'epoch', ARGV[4],
  'started', ARGV[5], 'head', '0', 'oldest', '0', 'clock', '0')
return 1
