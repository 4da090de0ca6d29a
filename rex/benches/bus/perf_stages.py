#!/usr/bin/env python3
"""Where a message's server CPU goes, by stage, from a `perf` profile.

Reads `perf script -F comm,tid,ip,sym` output (with call chains, so the
profile must be recorded with `--call-graph dwarf`) on stdin and prints the
share of samples per stage of the message path. Each sample is given to the
first stage whose marker matches a frame, scanning from the leaf towards
the root, so the allocator, memcpy and the kernel count for the stage that
called them. Used by `docs/performance.md` ("Where a message's time goes");
the markers are names of functions in rex, hyper, tokio and the kernel.

    perf script -i rex-ingest-64.data -F comm,tid,ip,sym | python3 rex/benches/bus/perf_stages.py
"""

import re
import sys
from collections import Counter

# (stage, regex on a frame's symbol), tried in order on each frame from the
# leaf up; the first frame with a match decides the sample's stage.
STAGES = [
    ("kernel: send (TCP over loopback)", r"do_writev|__sys_sendto|__sys_sendmsg|ksys_write"),
    ("kernel: receive", r"__sys_recvfrom|ksys_read|__sys_recvmsg"),
    ("kernel: epoll wait (idle or ready list)", r"__x64_sys_epoll_wait|do_epoll_wait"),
    ("kernel: accept", r"__x64_sys_accept"),
    ("token lookup (SHA-256 + table)", r"SessionTable|sha2::|token_hash"),
    ("session activity (idle timeout)", r"idle::Activity"),
    ("rate limits (admission)", r"limits::Admission|bucket::"),
    ("event: app data to Value", r"encode_data|serde_json::value::ser|to_value"),
    ("event: line encode", r"log::Entry::encode"),
    ("log append + wake readers", r"EventLog::append|watch::Sender"),
    ("dedupe", r"dedupe::"),
    ("actor: the app's call, commit", r"actor::Actor::(dispatch|message|call)|app::Context::|bus::app::"),
    ("JSON decode (body, then kind + Value)", r"serde_json::de|read_json|RexMessage>::decode|PostMessage|deserialize"),
    ("body read (collect)", r"body::collect|Limited|Collect|Collected|to_bytes"),
    ("answer: JSON + response", r"json_response|call_error|ApiError"),
    ("security headers", r"hardening::apply"),
    ("request checks (Host, Origin, type)", r"guard::"),
    ("channel trip to the actor and back", r"sync::mpsc|sync::oneshot|batch_semaphore|chan::Tx|chan::Rx|list::Tx|list::Rx"),
    ("connection bookkeeping (busy slot)", r"conns::|Tracked|StallGuard|stall::"),
    ("HTTP parse (request head)", r"role::Server.*>::parse|httparse|poll_read_head|parse_headers|record_header_indices"),
    ("HTTP encode + write (answer)", r"role::Server.*>::encode|poll_write|WriteBuf|write_buf|poll_flush|encode_head"),
    ("HTTP body channel (hyper)", r"body::incoming|hyper::body"),
    ("routing residual", r"rex::server::routes::"),
    ("actor loop residual", r"rex::server::actor::"),
    ("hyper dispatch residual", r"hyper::"),
    ("headers / URI (http crate)", r"http::header|http::uri|HeaderMap"),
    ("tokio: I/O driver", r"runtime::io::|scheduled_io|mio::|driver::"),
    ("tokio: scheduler, wake-ups, timers", r"tokio::runtime|tokio::time|Waker|wake"),
    ("bench child (not REx)", r"bus::child|core_affinity"),
]
COMPILED = [(name, re.compile(rx)) for name, rx in STAGES]


def samples(lines):
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if line[0] not in " \t":
            continue  # the sample's header line (comm, tid)
        parts = line.strip().split(" ", 1)
        if len(parts) == 2:
            frames.append(parts[1])
    if frames:
        yield frames


def plain(frame):
    """The symbol without generic arguments: `a::B<C<D>>::f` -> `a::B::f`,
    so a marker never matches a type parameter (every task of the server is
    generic over the app)."""
    frame = frame.split(" (")[0]
    while True:
        stripped = re.sub(r"<[^<>]*>", "", frame)
        if stripped == frame:
            return frame
        frame = stripped


def stage_of(frames):
    for frame in map(plain, frames):
        for name, rx in COMPILED:
            if rx.search(frame):
                return name
    if frames and "kernel" in frames[0]:
        return "kernel: other (interrupts, faults)"
    return "other"


def main():
    counts = Counter(stage_of(f) for f in samples(sys.stdin))
    total = sum(counts.values()) or 1
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
