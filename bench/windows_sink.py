#!/usr/bin/env python3
"""The order sink of the windows-sink scenario (bench/flashgate_bench/scenarios/windows_sink.py,
`scripts/bench.sh --only windows-sink`), its own process:

    python3 bench/windows_sink.py sink PORT DELAY_MS

a minimal HTTP/1.1 keep-alive server on asyncio (a ThreadingHTTPServer does
not keep up with thousands of calls a second) that answers every POST with
201 {"external_id": "..."} DELAY_MS after its last byte arrived, and every GET
at once with {"requests": n} (calls answered so far).
"""

import asyncio
import json
import re
import socket
import sys

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)


class SinkProtocol(asyncio.Protocol):
    answered = 0

    def __init__(self, delay):
        self.delay = delay
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            match = CONTENT_LENGTH.search(self.buffer, 0, head_end + 2)
            end = head_end + 4 + (int(match.group(1)) if match else 0)
            if len(self.buffer) < end:
                return
            is_get = self.buffer.startswith(b"GET ")
            self.buffer = self.buffer[end:]
            if is_get:
                self.send(b"200 OK", json.dumps({"requests": SinkProtocol.answered}).encode())
            else:
                asyncio.get_running_loop().call_later(self.delay, self.created)

    def created(self):
        SinkProtocol.answered += 1
        self.send(b"201 Created", b'{"external_id":"SINK-%d"}' % SinkProtocol.answered)

    def send(self, status, body):
        if self.transport.is_closing():
            return
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(body), body))


def serve_sink(port, delay_ms):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SinkProtocol(delay_ms / 1000), "127.0.0.1", port, backlog=4096)
        print(f"sink ready on 127.0.0.1:{port}, answering after {delay_ms} ms", flush=True)
        await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "sink":
        serve_sink(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)
