#!/usr/bin/env python3
"""Holds many server-sent event streams open against one gateway.

    sse_hold.py --port PORT --tickets FILE [--start I] [--count N] [--concurrency C]

Opens one GET /api/orders/events?ticket=T per ticket (lines I .. I+N-1 of
FILE), at most C opening at a time, and counts a stream as open once its first
`event: status` has arrived. Then it prints one line

    OPENED {"opened": n, "failed": n, "seconds": s}

and holds every stream (reading and discarding what comes: heartbeats,
position updates) until a line arrives on stdin or stdin closes; then it
prints

    CLOSED {"held": n, "lost": n}

(`lost`: streams the server closed while held) and closes them all. One
process holds as many streams as its descriptor limit allows (the soft limit
is raised to the hard one); bench/runner.py starts several for more.
"""

import argparse
import asyncio
import json
import resource
import sys
import time


class Stream(asyncio.Protocol):
    def __init__(self, request, opened):
        self.request = request
        self.opened = opened
        self.buffer = b""
        self.transport = None
        self.lost = False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        if self.opened.done():
            return  # held: heartbeats and updates are read and dropped
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        if not self.buffer.startswith(b"HTTP/1.1 200"):
            self.opened.set_exception(RuntimeError(self.buffer[:200].decode(errors="replace")))
            return
        body = self.buffer[head_end + 4 :]
        at = body.find(b"event: status")
        if at >= 0 and body.find(b"\n\n", at) >= 0:
            self.buffer = b""
            self.opened.set_result(True)

    def connection_lost(self, exc):
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before the first event"))


async def open_one(loop, port, ticket, gate, streams, timeout):
    async with gate:
        opened = loop.create_future()
        request = (
            f"GET /api/orders/events?ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: Stream(request, opened), "127.0.0.1", port), timeout
            )
            await asyncio.wait_for(opened, timeout)
        except (OSError, RuntimeError, asyncio.TimeoutError) as e:
            return str(e)[:200] or type(e).__name__
        streams.append(protocol)
        return None


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tickets", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with open(args.tickets) as f:
        tickets = [line.strip() for line in f if line.strip()]
    tickets = tickets[args.start : args.start + args.count]

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(args.concurrency)
    streams = []
    began = time.monotonic()
    results = await asyncio.gather(*(open_one(loop, args.port, t, gate, streams, args.timeout) for t in tickets))
    failures = [r for r in results if r]
    report = {"opened": len(streams), "failed": len(failures), "seconds": round(time.monotonic() - began, 3)}
    if failures:
        report["first_failure"] = failures[0]
    print("OPENED " + json.dumps(report), flush=True)

    await loop.run_in_executor(None, sys.stdin.readline)
    lost = sum(1 for s in streams if s.lost)
    print("CLOSED " + json.dumps({"held": len(streams) - lost, "lost": lost}), flush=True)
    for s in streams:
        if s.transport:
            s.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
