#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/TARGET/.

Byte-stream targets read a small plan first (see src/lib.rs): seeds here use that layout.
Targets whose input is decoded with `arbitrary` get deterministic pseudo-random seeds.
Run from anywhere: `python3 fuzz/gen-corpus.py`. Existing seed files are overwritten; files
added by fuzzing runs (named by hash) are left alone.
"""
import os
import random
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def cuts(*positions):
    return bytes([len(positions)]) + b"".join(struct.pack(">H", p) for p in positions)


def mask(payload, key):
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(opcode, payload, fin=True, key=b"\x37\xfa\x21\x3d", rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if key else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if key:
        return head + key + mask(payload, key)
    return head + payload


# 1. ws_frame_decode: raw frame headers (and a little payload).
T = "ws_frame_decode"
write(T, "text-small", frame(1, b"Hello", key=None))
write(T, "text-masked", frame(1, b"Hello"))
write(T, "binary-16bit", frame(2, b"x" * 256, key=None)[:4])
write(T, "binary-64bit-masked", frame(2, b"x" * 70000)[:14])
write(T, "close", frame(8, b"\x03\xe8bye", key=None))
write(T, "ping-masked", frame(9, b"", key=b"\x01\x02\x03\x04"))
write(T, "continuation-rsv1", frame(0, b"ab", fin=False, key=None, rsv=4))
write(T, "reserved-opcode", b"\x83\x00")
write(T, "non-minimal", b"\x82\x7e\x00\x10")

# 2. ws_server_handshake: [limits selector][cuts][request].
REQ = (
    b"GET /chat?room=1 HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-webkit-deflate-frame\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
MIN_REQ = (
    b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
T = "ws_server_handshake"
write(T, "rfc6455", b"\x00" + cuts() + REQ)
write(T, "rfc6455-split", b"\x00" + cuts(3, 40, 200) + REQ + frame(1, b"Hi"))
write(T, "minimal-with-frame", b"\x00" + cuts(1) + MIN_REQ + frame(1, b"Hello"))
write(T, "small-limits", b"\xc8\x01\x00\x08\x02\x01\x01" + cuts(17) + REQ)
write(T, "post", b"\x00" + cuts() + MIN_REQ.replace(b"GET", b"POST"))
write(T, "version-8", b"\x00" + cuts() + MIN_REQ.replace(b": 13", b": 8"))
write(T, "bare-lf", b"\x00" + cuts(5) + MIN_REQ.replace(b"\r\nHost", b"\nHost"))

# 3. ws_client_handshake: [limits selector][cuts][response]. Key: "the sample nonce".
RESP = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
)
T = "ws_client_handshake"
write(T, "101", b"\x00" + cuts() + RESP + b"\r\n")
write(T, "101-protocol-ext", b"\x00" + cuts(10, 60) + RESP
      + b"Sec-WebSocket-Protocol: chat\r\n"
      + b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"
      + frame(1, b"Hi", key=None))
write(T, "101-wrong-accept", b"\x00" + cuts() + RESP.replace(b"xOo=", b"xOx=") + b"\r\n")
write(T, "403-body", b"\x00" + cuts(4) +
      b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nX-Why: x\r\n\r\nnope!")
write(T, "small-limits", b"\xc8\x00\x80\x06\x01\x01\x01" + cuts(2) + RESP + b"\r\n")

# 4. ws_server_connection: [mfp u16][mms u16][mf u8][msb u16][flags][ki][kt][ms][cuts][frames].
def conn_plan(mfp, mms, mf, msb, flags, ki=0, kt=0, step=0):
    return struct.pack(">HHBHBBBB", mfp, mms, mf, msb, flags, ki, kt, step)

FRAMES = (
    frame(1, b"Hello")
    + frame(1, "κόσμε".encode(), fin=False) + frame(9, b"ping!") + frame(0, b" more")
    + frame(2, bytes(range(256)))
    + frame(10, b"unsolicited pong")
)
T = "ws_server_connection"
write(T, "messages", conn_plan(65535, 65535, 255, 65535, 4) + cuts(3, 9, 30) + FRAMES)
write(T, "messages-close", conn_plan(65535, 65535, 255, 65535, 4) + cuts(7)
      + FRAMES + frame(8, b"\x03\xe8done"))
write(T, "streaming", conn_plan(4096, 8192, 16, 1024, 1 | 4 | 8) + cuts(2, 12, 13, 14, 100)
      + FRAMES)
write(T, "small-limits", conn_plan(100, 200, 2, 16, 4) + cuts(5) + FRAMES)
write(T, "ping-flood", conn_plan(1024, 1024, 4, 64, 0) + cuts(20, 40, 60)
      + b"".join(frame(9, bytes([i]) * 20) for i in range(12)))
write(T, "keepalive", conn_plan(1024, 1024, 4, 1024, 2 | 4, 5, 50, 3) + cuts(6, 12)
      + frame(1, b"a") + frame(1, b"b"))
write(T, "invalid-utf8", conn_plan(1024, 1024, 4, 1024, 4) + cuts(8)
      + frame(1, b"ok\xce", fin=False) + frame(0, b"\xba!") + frame(1, b"\xf4\x90\x80\x80"))
write(T, "unmasked", conn_plan(1024, 1024, 4, 1024, 0) + cuts() + frame(1, b"x", key=None))
# Regressions (see ws-proto/tests/fuzz_regressions.rs): a ping with a 64-bit length whose top
# bit is set, split after its first two bytes; a protocol error followed by EOF, and by a due
# keepalive timeout, before the events are taken.
write(T, "regress-control-ext-len", conn_plan(1024, 1024, 4, 1024, 4) + cuts(2)
      + b"\x89\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04")
write(T, "regress-error-then-eof", conn_plan(1024, 1024, 4, 1024, 8) + cuts()
      + frame(1, b"ok") + frame(1, b"x", key=None))
write(T, "regress-error-then-timeout", conn_plan(1024, 1024, 4, 1024, 2, 0, 0, 5) + cuts(8)
      + frame(1, b"ok") + frame(1, b"x", key=None))

# 6. sse_parse_chunking: [selector][max line u16][max data u16][cuts][stream].
STREAM = (
    b"\xef\xbb\xbf: a comment\r\n"
    b"retry: 1500\r\n"
    b"event: update\r\nid: 42\r\ndata: first line\r\ndata:second\r\n\r\n"
    b"data: YHOO\ndata: +2\ndata: 10\n\n"
    b"id\rdata\r\rdata: caf\xc3\xa9 \xff\n\n"
    b"event: x\n\n"
    b"retry: 12x\nretry: 7\n"
    b"data: unfinished"
)
T = "sse_parse_chunking"
write(T, "whatwg", b"\x00\x00\x00\x00\x00" + cuts() + STREAM)
write(T, "split", b"\x00\x00\x00\x00\x00" + cuts(1, 2, 3, 17, 18, 50, 51, 90) + STREAM)
write(T, "crlf-split", b"\x00\x00\x00\x00\x00" + cuts(11, 12) + b"data: a\r\n\r\ndata: b\r\r")
write(T, "small-limits", b"\xff\x00\x10\x00\x20" + cuts(5, 30)
      + b"data: " + b"x" * 40 + b"\ndata: 1\n\n: " + b"c" * 30 + b"\ndata: ok\n\n")

# 5, 7, 8: targets decoded with `arbitrary`: any bytes are a valid input.
rng = random.Random(20261123)
for T, sizes in [
    ("ws_pair", [64, 128, 256, 512, 1024, 2048]),
    ("sse_roundtrip", [32, 64, 128, 256, 512]),
    ("longpoll_hub", [64, 128, 256, 512, 1024, 2048]),
    ("ws_inflate_limits", [32, 64, 128, 256, 512, 1024]),
]:
    for size in sizes:
        write(T, "random-%d" % size, bytes(rng.randrange(256) for _ in range(size)))

# ws_text_utf8: key, fragment point, cuts (2 bytes each, count first), payload.
T = "ws_text_utf8"
MIXED = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abc ".encode() * 4


def text_plan(frag, *positions, key=b"\x37\xfa\x21\x3d"):
    return key + struct.pack(">H", frag) + cuts(*positions)


write(T, "mixed-one-frame", text_plan(0) + MIXED)
write(T, "mixed-split", text_plan(0, 70, 71, 140, 141, 142) + MIXED)
write(T, "mixed-two-frames", text_plan(100, 90, 200) + MIXED)
write(T, "ascii-long", text_plan(0, 33) + b"a" * 300)
write(T, "surrogate-late", text_plan(0, 64) + MIXED[:150] + b"\xed\xa0\x80" + MIXED[:60])
write(T, "cut-code-point", text_plan(0, 72) + b"a" * 66 + "😀".encode() * 20)
write(T, "truncated-end", text_plan(0) + MIXED[:100] + "😀".encode()[:3])

# ws_kernels: key (4), alignment (1), cut count (1), cuts (2 bytes each), then the text.
T = "ws_kernels"


def kernel_plan(align, *positions, key=b"\x37\xfa\x21\x3d"):
    out = key + bytes([align, len(positions)])
    for p in positions:
        out += p.to_bytes(2, "big")
    return out


mixed = "κόσμε 世界 😀 héllo Ünïcödé Привет 🚀✓ 日本語 abc ".encode()
write(T, "empty", kernel_plan(0))
write(T, "ascii-125", kernel_plan(0) + b"a" * 125)
write(T, "mixed-whole", kernel_plan(3) + mixed * 4)
write(T, "mixed-cut", kernel_plan(17, 1, 64, 65, 130) + mixed * 4)
write(T, "cut-inside-code-point", kernel_plan(1, 62, 63) + b"a" * 62 + "😀".encode() + b"b" * 100)
write(T, "invalid-late", kernel_plan(5, 100) + mixed * 3 + b"\xed\xa0\x80" + b"tail")
write(T, "surrogate", kernel_plan(0) + b"\xed\xa0\x80")
write(T, "overlong", kernel_plan(0, 1) + b"\xc0\x80" + b"x" * 70)
write(T, "too-large", kernel_plan(63, 2) + b"\xf4\x90\x80\x80" * 20)
