#!/usr/bin/env python3
"""blns-seeds.py NAME DIR: add seeds for fuzz target NAME to DIR, made from
the Big List of Naughty Strings in ../shared/data/blns (blns.json and every
entry of blns.base64.json decoded to raw bytes, invalid UTF-8 included).
The data is read at run time, never copied into the repository.  Does
nothing when the data is absent."""
import base64
import json
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLNS = os.path.join(TOP, "..", "shared", "data", "blns")


def strings():
    out = []
    try:
        with open(os.path.join(BLNS, "blns.json"), encoding="utf-8") as f:
            out += [s.encode("utf-8", "surrogatepass") for s in json.load(f)]
        with open(os.path.join(BLNS, "blns.base64.json")) as f:
            out += [base64.b64decode(s) for s in json.load(f)]
    except OSError:
        return []
    return out


def esc(b):
    """A JSON string of bytes B, invalid UTF-8 passed through raw."""
    s = b.decode("utf-8", "surrogateescape")
    return json.dumps(s, ensure_ascii=False).encode(
        "utf-8", "surrogateescape")


def seeds(name, raw):
    if name == "protocol":
        for i, b in enumerate(raw):
            yield b'{"id":%d,"text":%s}' % (i, esc(b))
            yield b'{"id":%s,"text":"x","meta":{"k":%s}}' % (esc(b), esc(b))
            yield b
    elif name == "config":
        for b in raw:
            yield b'server: { socket = %s; };\n' % esc(b)
            yield (b'policies: { default: { message = %s; }; };\n' %
                   esc(b))
            yield b
    elif name in ("model-load", "safetensors", "audit-verify"):
        return
    else:
        yield from raw


def main():
    name, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for i, s in enumerate(seeds(name, strings())):
        with open(os.path.join(out, "blns-%04d" % i), "wb") as f:
            f.write(s)


main()
