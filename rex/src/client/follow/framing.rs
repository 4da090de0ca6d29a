//! The two framings of the event stream (`docs/protocol.md` §3), pure over
//! a [`BytesMut`] of received bytes: NDJSON (one JSON record a line) and
//! Server-Sent Events (frames of `field: value` lines ended by a blank
//! line). Each gives "payloads": one record's JSON, or an empty payload for
//! a heartbeat. Line ends may be `\n` or `\r\n`; the protocol does not
//! promise which, and proxies and other servers differ.

use bytes::{BufMut, BytesMut};

/// How the body of an event stream is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `application/x-ndjson`, what the typed client reads.
    Ndjson,
    /// `text/event-stream`, what browsers read (and `rex tail --sse`, the
    /// only user outside tests).
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    Sse,
}

impl Framing {
    /// The `Accept` header that asks for this framing; none for NDJSON,
    /// the server's default.
    pub(crate) fn accept(self) -> Option<&'static str> {
        match self {
            Framing::Ndjson => None,
            Framing::Sse => Some("text/event-stream"),
        }
    }

    /// Takes the next complete payload off the front of `buf`: a record's
    /// JSON, or an empty payload for a heartbeat. `None` while the bytes do
    /// not yet hold a complete line (NDJSON) or frame (SSE).
    pub(crate) fn take(self, buf: &mut BytesMut) -> Option<BytesMut> {
        match self {
            Framing::Ndjson => take_line(buf),
            Framing::Sse => take_sse_data(buf),
        }
    }
}

/// The next complete line, without its `\n` or `\r\n`.
pub(crate) fn take_line(buf: &mut BytesMut) -> Option<BytesMut> {
    let end = buf.iter().position(|b| *b == b'\n')?;
    let mut line = buf.split_to(end + 1);
    line.truncate(trim_cr(&line[..end]).len());
    Some(line)
}

/// The data of the next complete SSE frame: its `data:` lines joined with
/// `\n`, comments (`:` heartbeats) and other fields (`id`, `event`,
/// `retry`) skipped. Empty for a frame without data, which the SSE spec
/// does not dispatch: a heartbeat.
pub(crate) fn take_sse_data(buf: &mut BytesMut) -> Option<BytesMut> {
    let end = frame_end(buf)?;
    let frame = buf.split_to(end);
    let mut data = BytesMut::new();
    let mut first = true;
    for line in frame[..].split(|b| *b == b'\n').map(trim_cr) {
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        // `field: value`, one space after the colon optional; a line with
        // no colon is a field with an empty value.
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        if field == b"data" {
            if !first {
                data.put_u8(b'\n');
            }
            data.extend_from_slice(value);
            first = false;
        }
    }
    Some(data)
}

/// Where the first frame of `buf` ends: just past its blank line.
fn frame_end(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        let newline = start + buf[start..].iter().position(|b| *b == b'\n')?;
        if trim_cr(&buf[start..newline]).is_empty() {
            return Some(newline + 1);
        }
        start = newline + 1;
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every payload `framing` finds when `wire` arrives in chunks of
    /// `chunk` bytes.
    fn payloads(framing: Framing, wire: &[u8], chunk: usize) -> Vec<String> {
        let mut buf = BytesMut::new();
        let mut found = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(p) = framing.take(&mut buf) {
                found.push(String::from_utf8(p.to_vec()).unwrap());
            }
        }
        found
    }

    #[test]
    fn ndjson_lines_survive_any_chunk_boundary_and_crlf() {
        let wire = b"{\"a\":1}\n\n{\"b\":2}\r\n\r\n{\"c\":";
        for chunk in 1..=wire.len() {
            assert_eq!(
                payloads(Framing::Ndjson, wire, chunk),
                ["{\"a\":1}", "", "{\"b\":2}", ""],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_partial_line_waits_for_its_end() {
        let mut buf = BytesMut::from(&b"{\"index\":"[..]);
        assert!(take_line(&mut buf).is_none());
        assert_eq!(&buf[..], b"{\"index\":", "nothing is consumed");
    }

    #[test]
    fn sse_frames_survive_any_chunk_boundary_and_crlf() {
        let wire = b":\n\nid: 3\nevent: said\ndata: {\"x\":1}\n\n\
                     id: 4\r\ndata:{\"y\":\r\ndata: 2}\r\n\r\n: hb\r\n\r\nid: 5\ndata: {";
        for chunk in 1..=wire.len() {
            assert_eq!(
                payloads(Framing::Sse, wire, chunk),
                ["", "{\"x\":1}", "{\"y\":\n2}", ""],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn sse_fields_follow_the_spec() {
        // Only one space after the colon is dropped; `data` with no colon
        // is an empty line of data; unknown fields are ignored.
        let mut buf = BytesMut::from(&b"data:  two\ndata\nretry: 10\nfoo\n\n"[..]);
        assert_eq!(&take_sse_data(&mut buf).unwrap()[..], b" two\n");
        assert!(buf.is_empty());
    }
}
