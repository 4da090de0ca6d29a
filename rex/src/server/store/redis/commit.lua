-- One group commit of a room, atomically: events, the app's state,
-- sessions, dedupe outcomes and a front trim. Refused, with nothing
-- written, when the caller no longer holds the room's lease (fencing) or
-- the stored head is not the one the batch follows.
-- KEYS: meta, log, sessions, dedupe, lease
-- ARGV: [1] fence token ('' = unfenced), [2] head the batch follows,
--       [3] events, [4] joined, [5] left, [6] dedupe records,
--       [7] trim before ('' = none), [8] clock_ms, [9] '1' if a state
--       follows, [10] the state, [11] dedupe window,
--       then 3 per event (index, to, line), 2 per joined session
--       (id, value), 1 per left session (id), 2 per dedupe record
--       (field, value).
-- Returns the head after the batch.
if ARGV[1] ~= '' then
  local lease = redis.call('GET', KEYS[5])
  if (not lease) or string.sub(lease, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then
    return redis.error_reply('REXFENCED this host no longer holds the room')
  end
end
local head = redis.call('HGET', KEYS[1], 'head')
if not head then
  return redis.error_reply('REXMISSING the room is not stored')
end
if head ~= ARGV[2] then
  return redis.error_reply('REXHEAD ' .. head)
end
local i = 12
local events = tonumber(ARGV[3])
for _ = 1, events do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-1', 'to', ARGV[i + 1], 'line', ARGV[i + 2])
  i = i + 3
end
local new_head = string.format('%d', tonumber(head) + events)
local meta = {'head', new_head}
local clock = redis.call('HGET', KEYS[1], 'clock')
if (not clock) or tonumber(ARGV[8]) > tonumber(clock) then
  table.insert(meta, 'clock')
  table.insert(meta, ARGV[8])
end
if ARGV[9] == '1' then
  table.insert(meta, 'state')
  table.insert(meta, ARGV[10])
  table.insert(meta, 'state_head')
  table.insert(meta, new_head)
end
for _ = 1, tonumber(ARGV[4]) do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local left = {}
for _ = 1, tonumber(ARGV[5]) do
  table.insert(left, ARGV[i])
  i = i + 1
end
for _ = 1, tonumber(ARGV[6]) do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local window = tonumber(ARGV[11])
for _, session in ipairs(left) do
  redis.call('HDEL', KEYS[3], session)
  local slots = {}
  for slot = 0, window - 1 do
    table.insert(slots, session .. ':' .. slot)
  end
  redis.call('HDEL', KEYS[4], unpack(slots))
end
if ARGV[7] ~= '' then
  local oldest = redis.call('HGET', KEYS[1], 'oldest')
  if tonumber(ARGV[7]) > tonumber(oldest) then
    redis.call('XTRIM', KEYS[2], 'MINID', ARGV[7] .. '-0')
    table.insert(meta, 'oldest')
    table.insert(meta, ARGV[7])
  end
end
redis.call('HSET', KEYS[1], unpack(meta))
return new_head
