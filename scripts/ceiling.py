#!/usr/bin/env python3
"""The broker's ceiling for `amqp-publish -l`: a publisher that spends nothing per message.

    scripts/ceiling.py PORT LINES confirm|no-confirm

Publishes each line of the file LINES (without its newline) to the queue `bench.lines` through
the default exchange, on 127.0.0.1:PORT as guest/guest, with the properties the original
`amqp-publish` and ours send without `-p` (delivery mode 1, nothing else). Every frame is
serialised before the clock starts and written with one sendall, so the broker, not the client,
sets the pace: the rate this measures is the most any client sending these frames on one
channel can reach on this machine. With `confirm`, the channel is put in confirm mode
(confirm.select) and the run ends once the broker has confirmed the last message (basic.ack,
`multiple` honoured); with `no-confirm`, once channel.close-ok shows the broker has taken every
publish. Then connection.close.

Prints one JSON object: {"wall": seconds from the TCP connect to connection.close-ok,
"cpu": this process's user+sys seconds over the same span, "messages": N}. Exits non-zero on
anything unexpected (a channel or connection closed by the broker, a basic.nack).

scripts/bench runs it beside rows 3 and 3N (BENCHMARKS.md's details lines): the frames and the
AMQP 0-9-1 framing (spec 2.3.5, 4.2.3) are written out here by hand on purpose, as a
measuring instrument that has no per-message cost to hide behind.
"""

import json
import os
import socket
import struct
import sys
import threading
import time

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_END = 1, 2, 3, b"\xce"
CHANNEL = 1
QUEUE = b"bench.lines"


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + FRAME_END


def shortstr(s):
    return bytes([len(s)]) + s


def method(channel, class_id, method_id, args=b""):
    return frame(FRAME_METHOD, channel, struct.pack(">HH", class_id, method_id) + args)


def close_args(code=200):
    return struct.pack(">H", code) + shortstr(b"") + struct.pack(">HH", 0, 0)


def publishes(bodies):
    """basic.publish, content header (delivery-mode 1) and body frames of every message."""
    publish = method(CHANNEL, 60, 40, struct.pack(">H", 0) + shortstr(b"") + shortstr(QUEUE)
                     + b"\x00")
    out = bytearray()
    for body in bodies:
        out += publish
        out += frame(FRAME_HEADER, CHANNEL,
                     struct.pack(">HHQH", 60, 0, len(body), 0x1000) + b"\x01")
        if body:
            out += frame(FRAME_BODY, CHANNEL, body)
    return bytes(out)


class Reader:
    """Frames from the socket, read in large chunks."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, bytearray(), 0

    def frames(self):
        """Yields (channel, class_id, method_id, arguments) of method frames."""
        while True:
            while len(self.buf) - self.pos >= 8:
                kind, channel, size = struct.unpack_from(">BHI", self.buf, self.pos)
                if len(self.buf) - self.pos < 8 + size:
                    break
                payload = bytes(self.buf[self.pos + 7:self.pos + 7 + size])
                self.pos += 8 + size
                if kind == FRAME_METHOD:
                    class_id, method_id = struct.unpack_from(">HH", payload)
                    yield channel, class_id, method_id, payload[4:]
            del self.buf[:self.pos]
            self.pos = 0
            data = self.sock.recv(1 << 16)
            if not data:
                raise SystemExit("ceiling.py: the broker closed the connection")
            self.buf += data

    def expect(self, class_id, method_id):
        for _, c, m, args in self.frames():
            if (c, m) != (class_id, method_id):
                raise SystemExit(f"ceiling.py: expected {class_id}.{method_id}, got {c}.{m}")
            return args



def wait_for_acks(reader, count):
    """Reads basic.ack frames until the broker has confirmed message `count` (acks come in
    delivery-tag order; `multiple` covers the tags before). Anything else (a basic.nack, a
    close) fails the run."""
    acked = 0
    for _, c, m, args in reader.frames():
        if (c, m) != (60, 80):
            raise SystemExit(f"ceiling.py: unexpected method {c}.{m} (a nack or a close)")
        acked = max(acked, struct.unpack_from(">Q", args)[0])
        if acked >= count:
            return


def main(argv):
    if len(argv) != 4 or argv[3] not in ("confirm", "no-confirm"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    port, confirm = int(argv[1]), argv[3] == "confirm"
    with open(argv[2], "rb") as f:
        bodies = f.read().split(b"\n")
    if bodies and bodies[-1] == b"":
        bodies.pop()
    blob = publishes(bodies)
    if not confirm:
        blob += method(CHANNEL, 20, 40, close_args())

    t0, c0 = time.perf_counter(), os.times()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = Reader(sock)
    sock.sendall(b"AMQP\x00\x00\x09\x01")
    reader.expect(10, 10)  # connection.start
    response = b"\x00guest\x00guest"
    sock.sendall(method(0, 10, 11, struct.pack(">I", 0) + shortstr(b"PLAIN")
                        + struct.pack(">I", len(response)) + response + shortstr(b"en_US")))
    tune = reader.expect(10, 30)
    channel_max, frame_max, _ = struct.unpack(">HIH", tune[:8])
    sock.sendall(method(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, 0))
                 + method(0, 10, 40, shortstr(b"/") + shortstr(b"") + b"\x00")
                 + method(CHANNEL, 20, 10, shortstr(b"")))
    reader.expect(10, 41)  # connection.open-ok
    reader.expect(20, 11)  # channel.open-ok
    if confirm:
        sock.sendall(method(CHANNEL, 85, 10, b"\x00"))
        reader.expect(85, 11)
    writer = threading.Thread(target=sock.sendall, args=(blob,))
    writer.start()
    if confirm:
        wait_for_acks(reader, len(bodies))
    else:
        reader.expect(20, 41)  # channel.close-ok
    writer.join()
    if confirm:
        sock.sendall(method(CHANNEL, 20, 40, close_args()))
        reader.expect(20, 41)
    sock.sendall(method(0, 10, 50, close_args()))
    reader.expect(10, 51)
    sock.close()
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    print(json.dumps({"wall": wall, "cpu": cpu, "messages": len(bodies)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
