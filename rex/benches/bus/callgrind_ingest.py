#!/usr/bin/env python3
"""Instructions per message of a bench server, counted by callgrind.

Issue 19's development tool: the bus bench's time figures move by ±20 %
between runs on a shared VM, while callgrind counts the instructions the
server runs in user space, the same for the same binary and load whatever
else the machine does. It does not count the kernel (the same for REx and
the floor: the socket calls) nor cache misses, so it ranks changes to
REx's own work, and the bench says what they are worth in time.

    python3 rex/benches/bus/callgrind_ingest.py target/release/deps/bus-HASH rex 64 20000
    python3 rex/benches/bus/callgrind_ingest.py target/release/deps/bus-HASH floor 64 20000
    python3 rex/benches/bus/callgrind_ingest.py target/release/deps/bus-HASH rex 1000 200 --fanout 1

Starts the bench binary as a server child (`REX_BENCH_SERVER=<server>`)
under `valgrind --tool=callgrind` with instrumentation off, opens `c`
keep-alive connections each with its own session, sends a few warm-up
messages, then switches instrumentation on (`callgrind_control -i on`),
sends `n` messages in all (each connection waits for its answer before
sending again, as the bench's ingest does), switches it off and prints
the instructions per message. With `--fanout B` it opens `c` event
streams instead, drained by one reader thread, has the server append `n`
events, `B` per turn (the child's `append` command: REx's `AppHandle`),
and prints the instructions per delivery. `--out FILE` keeps the profile
for `callgrind_annotate`. Loopback only.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading

BODY = b'{"kind":"say","data":{"text":"hello from the load generator"}}'


def request(method, path, token, body):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self, req):
        self.sock.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            self.more()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            self.buf = rest
            self.more()
            rest = self.buf
        self.buf = rest[length:]
        return status, rest[:length]

    def more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buf += chunk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("server", help="rex, floor, baseline")
    ap.add_argument("c", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--out", default="/tmp/callgrind-ingest.out")
    ap.add_argument("--fanout", type=int, default=0, metavar="B")
    args = ap.parse_args()

    folder = os.path.dirname(args.out) or "."
    for name in os.listdir(folder):
        if name.startswith(os.path.basename(args.out)):
            os.remove(os.path.join(folder, name))
    env = dict(os.environ, REX_BENCH_SERVER=args.server)
    child = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no",
         f"--callgrind-out-file={args.out}", args.binary],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        line = child.stdout.readline().decode()
        if not line.startswith("addr "):
            sys.exit(f"the server child said {line!r}, not its address")
        addr = line.split()[1]
        if args.fanout:
            return fanout(args, child, addr)
        conns = []
        for _ in range(args.c):
            conn = Conn(addr)
            status, body = conn.call(request("POST", "/rex/v0/sessions", None, b"{}"))
            if status != 201:
                sys.exit(f"creating a session answered {status}: {body!r}")
            conns.append((conn, request("POST", "/rex/v0/messages", json.loads(body)["token"], BODY)))

        def send(conn, req, count):
            for _ in range(count):
                status, body = conn.call(req)
                if status != 200:
                    raise RuntimeError(f"a message answered {status}: {body!r}")

        def round_(count):
            threads = [threading.Thread(target=send, args=(conn, req, count)) for conn, req in conns]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        round_(20)
        control(child, "-i", "on")
        per = max(1, args.n // args.c)
        round_(per)
        control(child, "-i", "off")
        control(child, "-d")
    finally:
        child.stdin.close()
        child.wait(timeout=120)
    messages = per * args.c
    print(f"{args.server} c={args.c}: {messages} messages, {total_of(args.out)} instructions, "
          f"{total_of(args.out) / messages:.0f} per message")


def control(child, *what):
    subprocess.run(["callgrind_control", *what, str(child.pid)], check=True,
                   stdout=subprocess.DEVNULL)


def fanout(args, child, addr):
    import selectors
    host, port = addr.rsplit(":", 1)
    sel = selectors.DefaultSelector()
    received = [0]
    needle = b'"index"'
    for _ in range(args.c):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"GET /rex/v0/events?start=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.setblocking(False)
        # The end of what came before, so a line split between two reads
        # is counted once.
        sel.register(sock, selectors.EVENT_READ, data=[b""])
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                try:
                    chunk = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                seen = key.data[0] + chunk
                received[0] += seen.count(needle)
                key.data[0] = seen[-(len(needle) - 1):]

    reader = threading.Thread(target=drain)
    reader.start()

    def append(count):
        child.stdin.write(f"append {count} 0 600000 {args.fanout}\n".encode())
        child.stdin.flush()
        line = child.stdout.readline().decode()
        if not line.startswith("appended"):
            raise RuntimeError(f"the child said {line!r}")

    def settle(expected):
        import time
        deadline = time.time() + 600
        while received[0] < expected:
            if time.time() > deadline:
                raise RuntimeError(f"{received[0]} of {expected} deliveries arrived")
            time.sleep(0.05)

    try:
        append(args.fanout)
        settle(args.fanout * args.c)
        control(child, "-i", "on")
        append(args.n)
        settle((args.fanout + args.n) * args.c)
        control(child, "-i", "off")
        control(child, "-d")
    finally:
        stop.set()
        reader.join()
    deliveries = args.n * args.c
    total = total_of(args.out)
    print(f"{args.server} fan-out to {args.c}, {args.fanout} per turn: {deliveries} deliveries, "
          f"{total} instructions, {total / deliveries:.0f} per delivery")


def total_of(out):
    total = 0
    for name in os.listdir(os.path.dirname(out) or "."):
        path = os.path.join(os.path.dirname(out) or ".", name)
        if name.startswith(os.path.basename(out)) and os.path.isfile(path):
            with open(path) as f:
                for row in f:
                    if row.startswith("summary:") or row.startswith("totals:"):
                        total = max(total, int(row.split()[1]))
    return total


if __name__ == "__main__":
    main()
