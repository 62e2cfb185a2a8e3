#!/usr/bin/env python3
"""Streaming moderation (stream_open / stream_append / stream_close) on the
socket and over HTTP (POST /v1/stream, SSE answer):

- on hundreds of texts built from the shipped rules' own test lines and
  filler, cut into random chunks, the verdict at stream_close equals the
  verdict on the whole text, and what the stream released, joined, is
  what the whole-text answer lets through;
- hold and release follow the hold-back bound, and never more than twice
  server.stream_holdback is held;
- a block stops the stream at the offset of the blocking hit;
- limits: open streams, bytes per stream, unknown and foreign stream ids,
  streams freed with their connection; calls pipelined on one connection
  run in order."""
import glob
import json
import os
import random
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TOP, Daemon, HttpDaemon, sse_events,  # noqa: E402
                     wait_for)

SEED = int(os.environ.get("MODGATE_STREAM_SEED", "8"))
FILLER = ("the quick brown fox jumps over a lazy dog while we talk about "
          "weather, tea, trains and the café déjà vu 東京 ☕ 😀 numbers 42 "
          "and 3.14 are fine").split()


def rule_test_lines():
    """The `test match` strings of the shipped rules."""
    out = []
    for path in sorted(glob.glob(os.path.join(TOP, "rules", "*.rules"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r'\s*test\s+match\s+("(?:[^"\\]|\\.)*")', line)
                if not m:
                    continue
                try:
                    out.append(json.loads(m.group(1)))
                except ValueError:
                    pass
    return out


def make_texts(rng, lines, n):
    texts = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 4)):
            parts.append(" ".join(rng.choice(FILLER) for _ in
                                  range(rng.randint(0, 60))))
            if rng.random() < 0.8:
                parts.append(rng.choice(lines))
        parts.append(" ".join(rng.choice(FILLER) for _ in
                              range(rng.randint(0, 80))))
        texts.append(" ".join(p for p in parts if p))
    return texts


def chunks_of(rng, text):
    out, i = [], 0
    while i < len(text):
        n = rng.choice((1, 2, 3, 5, 8, 13, 40, 120))
        out.append(text[i:i + n])
        i += n
    return out


def stream_over(client, chunks, policy=None):
    """Open, append CHUNKS pipelined, close; (open, appends, close)."""
    req = {"op": "stream_open"}
    if policy:
        req["policy"] = policy
    op = client.ask(req)
    assert "stream" in op, op
    sid = op["stream"]
    for i, ch in enumerate(chunks):
        client.send({"op": "stream_append", "stream": sid, "text": ch,
                     "id": i})
    client.send({"op": "stream_close", "stream": sid, "id": "close"})
    apps = [client.recv() for _ in chunks]
    close = client.recv()
    return op, apps, close


def whole_output(ans, text):
    if ans["verdict"] == "allow":
        return text
    if ans["verdict"] == "rewrite":
        return ans["text"]
    return None


def block_offset(ans):
    starts = [m["start"] for m in ans["matches"]
              if m["action"] == "block" and not m.get("monitor")]
    return min(starts) if starts else None


class PropertyTest(unittest.TestCase):
    """Final verdict = whole-text verdict, release = whole-text output."""

    def check_texts(self, d, texts, holdback, rng):
        """The whole-text answers of the streams that ended late."""
        c = d.client()
        lates = []
        for text in texts:
            whole = c.ask({"text": text, "id": "whole"})
            chunks = chunks_of(rng, text)
            op, apps, close = stream_over(c, chunks)
            self.assertEqual(op["holdback"], holdback)
            ctx = (text, chunks)
            for k in ("verdict", "text", "matches", "flagged", "message",
                      "policy", "policy_version", "scores"):
                self.assertEqual(close.get(k), whole.get(k), (k, ctx))
            self.assertEqual(close["bytes"], len(text.encode()))
            released = 0
            out = ""
            for i, a in enumerate(apps):
                self.assertEqual(a["id"], i)
                self.assertNotIn("error", a, ctx)
                self.assertLessEqual(a["held"], 2 * holdback, ctx)
                self.assertGreaterEqual(a["released"], released, ctx)
                released = a["released"]
                if a["verdict"] == "block":
                    self.assertEqual(a["held"], 0)   # never released
                else:
                    self.assertEqual(a["held"], a["bytes"] - a["released"])
                    if a["verdict"] != "rewrite":
                        self.assertEqual(a["verdict"] == "ok",
                                         a["held"] == 0)
                out += a["release"]
            out += close["release"]
            if close["late"]:
                lates.append(whole)
                continue
            # Hits an append acted on are hits of the whole text, once.
            seen = [(m["rule"], m["start"], m["end"]) for a in apps
                    for m in a["matches"]]
            self.assertEqual(len(seen), len(set(seen)), ctx)
            wm = {(m["rule"], m["start"], m["end"]) for m in
                  whole["matches"]}
            self.assertLessEqual(set(seen), wm, ctx)
            want = whole_output(whole, text)
            if want is not None:
                self.assertEqual(out, want, ctx)
                self.assertEqual(close["released"], len(text.encode()))
            else:
                off = block_offset(whole)
                if off is not None:
                    self.assertEqual(close["offset"], off, ctx)
                    self.assertLessEqual(released, off, ctx)
                    blocked = [a for a in apps if a["verdict"] == "block"]
                    for a in blocked:
                        self.assertEqual(a["offset"], off, ctx)
                self.assertEqual(close["release"], "")
        c.close()
        return lates

    def test_whole_text_equivalence(self):
        rng = random.Random(SEED)
        lines = rule_test_lines()
        self.assertGreater(len(lines), 100)
        texts = make_texts(rng, lines, 300)
        # Rules only: a classifier score may rightly make a stream late.
        with Daemon(classifier={"enabled": False}) as d:
            lates = self.check_texts(d, texts, 256, rng)
        # Late only on a hit longer than the hold-back: every test line is
        # far shorter than 256 bytes, but secret.private-key masks a key
        # cut before its END line up to the end of the text, so a hit of
        # it with filler after it spans more than the bound.
        for whole in lates:
            self.assertTrue(any(m["end"] - m["start"] > 256
                                for m in whole["matches"]), whole)

    def test_small_holdback(self):
        # With a hold-back of 16 bytes some hits are longer than the
        # bound: the final verdict still equals the whole-text one, and
        # those streams say "late".
        rng = random.Random(SEED + 1)
        texts = make_texts(rng, rule_test_lines(), 150)
        texts.append("mail me at a.very.long.address.indeed@example-"
                     "corporation.co.uk please " * 3)
        with Daemon(server={"stream_holdback": 16},
                    classifier={"enabled": False}) as d:
            lates = self.check_texts(d, texts, 16, rng)
        self.assertGreater(len(lates), 0)

    @unittest.skipUnless(os.path.exists(os.path.join(
        TOP, "models", "default", "config.json")), "no shipped model yet")
    def test_with_classifier(self):
        # With the shipped model (when the daemon loads it) the final
        # verdict, scores included, is still the whole-text one.
        rng = random.Random(SEED + 3)
        texts = make_texts(rng, rule_test_lines(), 40)
        with Daemon(classifier={"window": 64, "stride": 48}) as d:
            c = d.client()
            for text in texts:
                whole = c.ask({"text": text})
                _, apps, close = stream_over(c, chunks_of(rng, text))
                for k in ("verdict", "text", "matches", "flagged",
                          "scores", "stages"):
                    self.assertEqual(close.get(k), whole.get(k), (k, text))
                for a in apps:
                    self.assertNotIn("error", a)
            c.close()


class BehaviourTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpDaemon(server={"stream_holdback": 16,
                                   "stream_max": 3,
                                   "stream_max_bytes": 4096})

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_hold_and_release(self):
        c = self.d.client()
        sid = c.ask({"op": "stream_open"})["stream"]
        a = c.ask({"op": "stream_append", "stream": sid, "text": "hello"})
        self.assertEqual((a["verdict"], a["released"], a["held"]),
                         ("hold", 0, 5))
        a = c.ask({"op": "stream_append", "stream": sid,
                   "text": " there, nice weather today"})
        self.assertEqual(a["verdict"], "hold")
        self.assertEqual(a["held"], 16)
        self.assertEqual(a["release"], "hello there, ni")
        # An address arriving in pieces is held whole, then rewritten.
        a = c.ask({"op": "stream_append", "stream": sid,
                   "text": " write to bob@co"})
        self.assertNotIn("[email]", a["release"])
        self.assertNotIn("bob", a["release"])
        a = c.ask({"op": "stream_append", "stream": sid,
                   "text": "rp.io if you like, it is fine"})
        self.assertEqual(a["verdict"], "rewrite")
        self.assertIn("write to [email]", a["release"])
        self.assertEqual(a["matches"][0]["rule"], "t.email")
        close = c.ask({"op": "stream_close", "stream": sid,
                       "text": " bye"})
        self.assertEqual(close["verdict"], "rewrite")
        self.assertFalse(close["late"])
        self.assertEqual(close["text"], "hello there, nice weather today "
                         "write to [email] if you like, it is fine bye")
        a = c.ask({"op": "stream_append", "stream": sid, "text": "x"})
        self.assertEqual(a["error"]["code"], "bad_request")
        c.close()

    def test_block_offset(self):
        c = self.d.client()
        sid = c.ask({"op": "stream_open"})["stream"]
        pre = "all fine here, nothing to see, you "
        a = c.ask({"op": "stream_append", "stream": sid,
                   "text": pre + "zorg"})
        self.assertEqual(a["verdict"], "hold")
        out = a["release"]
        a = c.ask({"op": "stream_append", "stream": sid,
                   "text": "blat and then some more words"})
        off = len(pre)
        self.assertEqual((a["verdict"], a["offset"]), ("block", off))
        self.assertLessEqual(a["released"], off)
        out += a["release"]
        self.assertEqual(out, pre[:a["released"]])
        a = c.ask({"op": "stream_append", "stream": sid, "text": " more"})
        self.assertEqual((a["verdict"], a["offset"], a["release"]),
                         ("block", off, ""))
        close = c.ask({"op": "stream_close", "stream": sid})
        self.assertEqual((close["verdict"], close["offset"],
                          close["release"], close["late"]),
                         ("block", off, "", False))
        self.assertIn("message", close)
        c.close()
        rec = [r for r in self.d.audit_records()
               if r.get("meta", {}).get("stream", {}).get("id") == sid]
        self.assertEqual(len(rec), 1)
        self.assertEqual(rec[0]["verdict"], "block")
        self.assertEqual(rec[0]["meta"]["stream"]["blocked_at"], off)

    def test_limits(self):
        a = self.d.client()
        ids = [a.ask({"op": "stream_open"})["stream"] for _ in range(3)]
        e = a.ask({"op": "stream_open"})
        self.assertEqual(e["error"]["code"], "overloaded")
        # Bytes per stream: a refused append leaves the stream usable.
        r = a.ask({"op": "stream_append", "stream": ids[0],
                   "text": "x" * 4000})
        self.assertNotIn("error", r)
        r = a.ask({"op": "stream_append", "stream": ids[0],
                   "text": "y" * 200})
        self.assertEqual(r["error"]["code"], "too_large")
        r = a.ask({"op": "stream_append", "stream": ids[0], "text": "z"})
        self.assertEqual(r["bytes"], 4001)
        # Another connection cannot use these ids.
        b = self.d.client()
        r = b.ask({"op": "stream_append", "stream": ids[1], "text": "hi"})
        self.assertEqual(r["error"]["code"], "bad_request")
        r = b.ask({"op": "stream_close", "stream": "s999999"})
        self.assertEqual(r["error"]["code"], "bad_request")
        for bad in ({"op": "stream_append", "text": "x"},
                    {"op": "stream_append", "stream": ids[0]},
                    {"op": "stream_open", "text": "x"},
                    {"op": "stream_open", "stream": "s1"},
                    {"op": "stream_append", "stream": 5, "text": "x"}):
            r = b.ask(bad)
            self.assertEqual(r["error"]["code"], "bad_request", bad)
        # Closing the connection frees its streams.
        a.close()
        wait_for(lambda: "stream" in b.ask({"op": "stream_open"}), 60,
                 "streams of a closed connection to be freed")
        b.close()

    def test_unknown_policy(self):
        r = self.d.ask({"op": "stream_open", "policy": "nope"})
        self.assertEqual(r["error"]["code"], "unknown_policy")

    def test_http_sse(self):
        st, hd, body = self.d.request("POST", "/v1/stream", {
            "id": "h1", "chunks": ["hello there, ", "write to bob@c",
                                   "orp.io ", "and that is all folks"]})
        self.assertEqual(st, 200)
        self.assertEqual(hd["content-type"], "text/event-stream")
        ev = sse_events(body)
        self.assertEqual([e for e, _ in ev],
                         ["open", "verdict", "verdict", "verdict", "verdict",
                          "final"])
        out = "".join(o["release"] for e, o in ev if e != "open")
        final = ev[-1][1]
        self.assertEqual(final["verdict"], "rewrite")
        self.assertEqual(out, final["text"])
        self.assertEqual(final["id"], "h1")
        recs = [r for r in self.d.audit_records() if r.get("id") == "h1"]
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["meta"]["http_peer"]["token"], "ci")
        st = recs[0]["meta"]["stream"]
        self.assertEqual(st["appends"], 4)
        self.assertEqual(st["id"], ev[0][1]["stream"])
        self.assertEqual(st["released"], ev[-2][1]["released"])
        st, _, body = self.d.request("POST", "/v1/stream", {"chunks": 3})
        self.assertEqual(st, 400)
        st, _, body = self.d.request("POST", "/v1/stream",
                                     {"chunks": ["a"], "policy": "nope"})
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(body)["error"]["code"],
                         "unknown_policy")

    def test_pipelined_order(self):
        rng = random.Random(SEED + 2)
        text = " ".join(rng.choice(FILLER) for _ in range(300)) + \
            " mail bob@corp.io " + " ".join(rng.choice(FILLER)
                                             for _ in range(50))
        chunks = chunks_of(rng, text)
        c = self.d.client()
        _, piped, close1 = stream_over(c, chunks)
        sid = c.ask({"op": "stream_open"})["stream"]
        one = [c.ask({"op": "stream_append", "stream": sid, "text": ch,
                      "id": i}) for i, ch in enumerate(chunks)]
        close2 = c.ask({"op": "stream_close", "stream": sid, "id": "close"})
        strip = ("stream", "elapsed_us", "audit_seq")
        self.assertEqual([{k: v for k, v in a.items() if k not in strip}
                          for a in piped],
                         [{k: v for k, v in a.items() if k not in strip}
                          for a in one])
        self.assertEqual(close1["text"], close2["text"])
        c.close()



class SessionTest(unittest.TestCase):
    """Streams over HTTP one request per op: POST /v1/streams, then
    /v1/streams/ID per chunk and /v1/streams/ID/close."""

    def test_sessions(self):
        with HttpDaemon(server={"stream_holdback": 16,
                                "idle_timeout": 2}) as d:
            rng = random.Random(SEED + 4)
            for text in make_texts(rng, rule_test_lines(), 20):
                whole = d.ask({"text": text})
                st, _, op = d.post("/v1/streams", {"id": "o"})
                self.assertEqual(st, 200, op)
                sid = op["stream"]
                out = ""
                for ch in chunks_of(rng, text):
                    st, _, a = d.post("/v1/streams/" + sid, {"text": ch})
                    self.assertEqual(st, 200, a)
                    self.assertLessEqual(a["held"], 32)
                    out += a["release"]
                st, _, close = d.post("/v1/streams/%s/close" % sid,
                                      {"id": "c"})
                self.assertEqual((st, close["id"]), (200, "c"))
                for k in ("verdict", "text", "matches", "scores"):
                    self.assertEqual(close.get(k), whole.get(k), text)
                out += close["release"]
                if not close["late"] and whole["verdict"] != "block":
                    self.assertEqual(out, whole.get("text", text))
                st, _, e = d.post("/v1/streams/" + sid, {"text": "x"})
                self.assertEqual((st, e["error"]["code"]),
                                 (400, "bad_request"))

            # Errors, and a stream another client cannot touch.
            st, _, a = d.post("/v1/streams", {"policy": "nope"})
            self.assertEqual((st, a["error"]["code"]),
                             (400, "unknown_policy"))
            sid = d.post("/v1/streams", {})[2]["stream"]
            st, _, a = d.post("/v1/streams/" + sid, {})
            self.assertEqual(st, 400)               # no text
            st, _, a = d.post("/v1/streams/" + sid, {"text": "x",
                                                     "bogus": 1})
            self.assertEqual(st, 400)
            st, _, a = d.post("/v1/streams/" + sid, {"text": "x"},
                              token=False)
            self.assertEqual(st, 401)
            st, _, _ = d.request("GET", "/v1/streams/" + sid)
            self.assertEqual(st, 405)
            st, _, _ = d.post("/v1/streams/%s/nope" % sid, {})
            self.assertEqual(st, 404)
            r = d.ask({"op": "stream_append", "stream": sid, "text": "x"})
            self.assertEqual(r["error"]["code"], "bad_request")
            # Idle for longer than server.idle_timeout: closed, unaudited.
            st, _, a = d.post("/v1/streams/" + sid, {"text": "y"})
            self.assertEqual(st, 200)
            wait_for(lambda: "idle for" in d.output(), 60,
                     "the idle stream to be dropped")
            st, _, a = d.post("/v1/streams/" + sid, {"text": "z"})
            self.assertEqual(st, 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
