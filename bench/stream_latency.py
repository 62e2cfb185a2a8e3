#!/usr/bin/env python3
"""stream_latency.py SOCKET [STREAMS] [CHUNKS] [CHUNK_BYTES [HTTP TOKEN]]:
the latency a
streaming client sees per appended chunk.  For each of STREAMS streams it
opens a stream, appends CHUNKS chunks of about CHUNK_BYTES bytes of words
one at a time (each waits for its verdict, as a chatbot proxy forwarding
tokens would), and closes it.  Baselines on the same connection: op ping
(socket and event loop only) and a whole check of one chunk.  Prints p50
and p99 in microseconds, and the latency appending adds over ping.  With
HTTP (http://127.0.0.1:PORT) and TOKEN, the same over POST /v1/streams/ID
on one keep-alive connection, against GET /healthz."""
import http.client
import urllib.parse
import json
import random
import socket
import sys
import time

WORDS = ("the quick brown fox jumps over a lazy dog while we talk about "
         "weather tea trains and numbers like 42 and 3.14 mail bob@corp.io "
         "darn it").split()


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def ask(self, obj):
        t0 = time.perf_counter_ns()
        self.s.sendall(json.dumps(obj).encode() + b"\n")
        line = self.f.readline()
        dt = (time.perf_counter_ns() - t0) / 1000.0
        a = json.loads(line)
        if "error" in a:
            raise SystemExit("stream_latency: %s" % a["error"])
        return a, dt


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def chunk(rng, n):
    out = ""
    while len(out) < n:
        out += rng.choice(WORDS) + " "
    return out


def main():
    path = sys.argv[1]
    streams = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    nchunks = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    nbytes = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    rng = random.Random(1)
    c = Conn(path)
    ping, check, append, close = [], [], [], []
    held = 0
    for _ in range(streams):
        sid = c.ask({"op": "stream_open"})[0]["stream"]
        for _ in range(nchunks):
            text = chunk(rng, nbytes)
            ping.append(c.ask({"op": "ping"})[1])
            check.append(c.ask({"text": text})[1])
            a, dt = c.ask({"op": "stream_append", "stream": sid,
                           "text": text})
            append.append(dt)
            held = max(held, a["held"])
        close.append(c.ask({"op": "stream_close", "stream": sid})[1])
    print("streaming: %d streams x %d chunks of ~%d bytes, one at a time, "
          "Unix socket" % (streams, nchunks, nbytes))
    print("%-30s %10s %10s" % ("", "p50 us", "p99 us"))
    for name, v in (("ping (baseline)", ping),
                    ("check of one chunk", check),
                    ("stream_append", append),
                    ("stream_close (whole text)", close)):
        print("%-30s %10.0f %10.0f" % (name, pct(v, 0.5), pct(v, 0.99)))
    added = [a - p for a, p in zip(append, ping)]
    print("%-30s %10.0f %10.0f" % ("added per chunk (append-ping)",
                                   pct(added, 0.5), pct(added, 0.99)))
    print("most bytes held back: %d" % held)
    if len(sys.argv) > 6:
        http_part(sys.argv[5], sys.argv[6], streams, nchunks, nbytes)


def http_part(base, token, streams, nchunks, nbytes):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    hdr = {"Authorization": "Bearer " + token,
           "Content-Type": "application/json"}

    def call(method, path, body=None):
        t0 = time.perf_counter_ns()
        conn.request(method, path, body=None if body is None else
                     json.dumps(body), headers=hdr)
        r = conn.getresponse()
        data = r.read()
        dt = (time.perf_counter_ns() - t0) / 1000.0
        if r.status != 200:
            raise SystemExit("stream_latency: %s %s: %d %s" %
                             (method, path, r.status, data[:200]))
        return json.loads(data), dt

    rng = random.Random(2)
    health, append = [], []
    for _ in range(streams):
        sid = call("POST", "/v1/streams", {})[0]["stream"]
        for _ in range(nchunks):
            health.append(call("GET", "/healthz")[1])
            append.append(call("POST", "/v1/streams/" + sid,
                               {"text": chunk(rng, nbytes)})[1])
        call("POST", "/v1/streams/%s/close" % sid, {})
    conn.close()
    print()
    print("the same over HTTP/1.1 (loopback TCP, keep-alive)")
    print("%-30s %10s %10s" % ("", "p50 us", "p99 us"))
    print("%-30s %10.0f %10.0f" % ("GET /healthz (baseline)",
                                   pct(health, 0.5), pct(health, 0.99)))
    print("%-30s %10.0f %10.0f" % ("POST /v1/streams/ID", pct(append, 0.5),
                                   pct(append, 0.99)))
    added = [a - h for a, h in zip(append, health)]
    print("%-30s %10.0f %10.0f" % ("added per chunk", pct(added, 0.5),
                                   pct(added, 0.99)))


if __name__ == "__main__":
    main()
