#!/usr/bin/env python3
"""The HTTP front of modgated with curl and http.client: every endpoint,
errors and status codes, limits, tokens, the Unix-socket listener and its
peer credentials, and the refusal of a TCP listener without tokens."""
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import MODGATED, Daemon, HttpDaemon  # noqa: E402


def curl(*args, timeout=30):
    """(status, body bytes) of curl ARGS."""
    r = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}",
                        *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("curl failed: %s" % r.stderr.decode())
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


class TcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpDaemon(http={"max_body_bytes": 4096},
                           server={"request_timeout": 5000})

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def auth(self):
        return ["-H", "Authorization: Bearer " + self.d.token]

    def test_moderate_curl(self):
        code, body = curl(*self.auth(), "-H", "Content-Type: application/json",
                          "--data-binary",
                          '{"id": "c1", "text": "mail bob@corp.io now"}',
                          self.d.base + "/v1/moderate")
        self.assertEqual(code, 200, body)
        a = json.loads(body)
        self.assertEqual(a["id"], "c1")
        self.assertEqual(a["verdict"], "rewrite")
        self.assertEqual(a["text"], "mail [email] now")
        self.assertEqual(a["matches"][0]["rule"], "t.email")
        self.assertEqual((a["matches"][0]["start"], a["matches"][0]["end"]),
                         (5, 16))

    def test_moderate_same_as_socket(self):
        for text in ("hello there", "you zorgblat", "darn, bob@x.io",
                     "i want to cut myself"):
            st, _, a = self.d.post("/v1/moderate", {"text": text,
                                                    "id": 7})
            self.assertEqual(st, 200)
            b = self.d.ask({"text": text, "id": 7})
            for k in ("verdict", "text", "matches", "flagged", "message",
                      "policy", "policy_version"):
                self.assertEqual(a.get(k), b.get(k), (text, k))
            self.assertEqual(a["id"], 7)

    def test_block_and_policy(self):
        st, _, a = self.d.post("/v1/moderate", {"text": "you zorgblat"})
        self.assertEqual(a["verdict"], "block")
        self.assertIn("message", a)
        st, _, a = self.d.post("/v1/moderate", {"text": "x",
                                                "policy": "nope"})
        self.assertEqual(st, 400)
        self.assertEqual(a["error"]["code"], "unknown_policy")

    def test_tokens(self):
        for tok in (False, "not-the-right-token-at-all"):
            st, hd, a = self.d.post("/v1/moderate", {"text": "x"},
                                    token=tok)
            self.assertEqual(st, 401)
            self.assertEqual(a["error"]["code"], "unauthorized")
            self.assertIn("bearer", hd["www-authenticate"].lower())
        st, _, _ = self.d.request("GET", "/metrics", token=False)
        self.assertEqual(st, 401)
        # Probes answer without a token.
        st, _, body = self.d.request("GET", "/healthz", token=False)
        self.assertEqual((st, json.loads(body)), (200, {"ok": True}))
        st, _, body = self.d.request("GET", "/readyz", token=False)
        self.assertEqual(st, 200)
        self.assertTrue(json.loads(body)["ready"])

    def test_not_found_and_methods(self):
        st, _, a = self.d.post("/v2/nothing", {"text": "x"})
        self.assertEqual(st, 404)
        self.assertEqual(a["error"]["code"], "not_found")
        st, hd, body = self.d.request("GET", "/v1/moderate")
        self.assertEqual(st, 405)
        self.assertEqual(hd["allow"], "POST")
        self.assertEqual(json.loads(body)["error"]["code"],
                         "method_not_allowed")
        st, hd, _ = self.d.request("POST", "/metrics", body="{}")
        self.assertEqual((st, hd["allow"]), (405, "GET, HEAD"))
        code, _ = curl("-X", "DELETE", self.d.base + "/healthz")
        self.assertEqual(code, 405)

    def test_content_type(self):
        code, body = curl(*self.auth(), "-d", '{"text": "x"}',
                          self.d.base + "/v1/moderate")
        self.assertEqual(code, 415, body)   # curl -d: form-urlencoded
        self.assertEqual(json.loads(body)["error"]["code"],
                         "unsupported_media_type")
        st, _, _ = self.d.post("/v1/moderate", {"text": "x"},
                               headers={"Content-Type":
                                        "application/json; charset=utf-8"})
        self.assertEqual(st, 200)

    def test_bad_bodies(self):
        for body, why in ((b'{"text": ', "malformed"),
                          (b'[1, 2]', "object"),
                          (b'{"text": 5}', "text must"),
                          (b'{"txt": "x"}', "unknown field"),
                          (b'{"text": "a\\u0000b"}', "NUL"),
                          (b'{"text": "\xff\xfe"}', "UTF-8"),
                          (b'{"text": "x", "meta": 3}', "meta"),
                          (b"[" * 100 + b"]" * 100, "nested")):
            st, _, a = self.d.request("POST", "/v1/moderate", body)
            self.assertEqual(st, 400, body)
            e = json.loads(a)["error"]
            self.assertEqual(e["code"], "bad_request")
            self.assertIn(why, e["message"], body)
        # The connection and the daemon are fine after all that.
        st, _, a = self.d.post("/v1/moderate", {"text": "ok"})
        self.assertEqual((st, a["verdict"]), (200, "allow"))

    def test_body_limit(self):
        near = {"text": "a" * (4096 - 40)}
        self.assertLessEqual(len(json.dumps(near)), 4096)
        st, _, a = self.d.post("/v1/moderate", near)
        self.assertEqual(st, 200)
        st, _, _ = self.d.request("POST", "/v1/moderate",
                                  {"text": "a" * 5000})
        self.assertEqual(st, 413)
        code, _ = curl(*self.auth(), "-H", "Content-Type: application/json",
                       "--data-binary", json.dumps({"text": "b" * 9000}),
                       self.d.base + "/v1/moderate")
        self.assertEqual(code, 413)

    def test_moderations(self):
        st, _, a = self.d.post("/v1/moderations",
                               {"input": "you zorgblat",
                                "model": "omni-moderation-latest"})
        self.assertEqual(st, 200, a)
        self.assertTrue(a["id"].startswith("modr-"))
        # The rules decided (no classifier here), not the model asked for.
        self.assertEqual(a["model"], "modgate-rules")
        self.assertEqual(len(a["results"]), 1)
        r = a["results"][0]
        self.assertEqual(set(r), {"flagged", "categories", "category_scores",
                                  "category_applied_input_types",
                                  "modgate"})
        self.assertTrue(r["flagged"])
        self.assertTrue(r["categories"]["hate"])
        self.assertEqual(r["category_scores"]["hate"], 1.0)
        self.assertEqual(r["category_applied_input_types"]["hate"], ["text"])
        self.assertFalse(r["categories"]["sexual"])
        self.assertEqual(r["modgate"]["verdict"], "block")
        for name in ("hate", "hate/threatening", "harassment",
                     "harassment/threatening", "self-harm",
                     "self-harm/intent", "self-harm/instructions", "sexual",
                     "sexual/minors", "violence", "violence/graphic",
                     "illicit", "illicit/violent"):
            self.assertIn(name, r["categories"])
            self.assertIsInstance(r["category_scores"][name], float)
            if name != "hate":      # no model, no rule of theirs hit
                self.assertEqual(r["category_applied_input_types"][name],
                                 [])
        self.assertEqual(len(r["categories"]), 13)

        st, _, a = self.d.post("/v1/moderations", {"input": [
            "hello", "i want to cut myself", "darn it, bob@corp.io"]})
        self.assertEqual(st, 200, a)
        rs = a["results"]
        self.assertEqual(len(rs), 3)
        self.assertFalse(rs[0]["flagged"])
        self.assertEqual(rs[0]["modgate"]["verdict"], "allow")
        self.assertTrue(rs[1]["categories"]["self-harm"])
        self.assertFalse(rs[1]["categories"]["self-harm/intent"])
        self.assertTrue(rs[1]["flagged"])
        self.assertEqual(rs[1]["modgate"]["verdict"], "allow")  # flag only
        # PII and profanity rewrite the text but are no harm category.
        self.assertFalse(rs[2]["flagged"])
        self.assertEqual(rs[2]["modgate"]["verdict"], "rewrite")
        self.assertEqual(rs[2]["modgate"]["text"], "d*** it, [email]")
        self.assertEqual(sorted(m["rule"] for m in rs[2]["modgate"]["matches"]),
                         ["t.email", "t.swear"])

        # Parts: the text parts are one input; the image is not checked.
        st, _, a = self.d.post("/v1/moderations", {"input": [
            {"type": "text", "text": "look:"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            {"type": "text", "text": "you zorgblat"}]})
        self.assertEqual(st, 200, a)
        self.assertEqual(len(a["results"]), 1)
        r = a["results"][0]
        self.assertTrue(r["categories"]["hate"])
        for types in r["category_applied_input_types"].values():
            self.assertNotIn("image", types)
        m = r["modgate"]["matches"][0]
        self.assertEqual((m["rule"], m["start"], m["end"]),
                         ("t.slur", 10, 18))     # in "look:\nyou zorgblat"

    def test_moderations_errors(self):
        # Every failure in the API's shape, with the API's status codes.
        def check(st, a, status, code, param=None, typ=None):
            self.assertEqual(st, status, a)
            self.assertEqual(set(a), {"error"})
            e = a["error"]
            self.assertEqual(set(e), {"message", "type", "param", "code"})
            self.assertIsInstance(e["message"], str)
            self.assertEqual(e["code"], code, a)
            self.assertEqual(e["param"], param, a)
            self.assertEqual(e["type"], typ or ("server_error" if status >= 500
                                                else "invalid_request_error"))

        for body, param, why in (
                ({}, "input", "input is required"),
                ({"input": []}, "input", "non-empty"),
                ({"input": 3}, "input", "input must be"),
                ({"input": ["x"] * 300}, "input", "at most 256"),
                ({"input": ["x", {"type": "text", "text": "y"}]}, "input",
                 "input[1]"),
                ({"input": [{"type": "image_url",
                             "image_url": {"url": "https://x/y.png"}}]},
                 "input", "no text part"),
                ({"input": [{"type": "video"}]}, "input", "unknown part"),
                ({"input": "x", "model": 5}, "model", "model must"),
                ({"input": "x", "meta": 5}, "meta", "meta must"),
                ({"input": "x", "policy": 5}, "policy", "policy must")):
            st, _, a = self.d.post("/v1/moderations", body)
            check(st, a, 400, "bad_request", param)
            self.assertIn(why, a["error"]["message"])
        st, _, a = self.d.post("/v1/moderations", {"input": "x",
                                                   "policy": "nope"})
        check(st, a, 400, "unknown_policy", "policy")
        for tok in (False, "not-the-right-token-at-all"):
            st, hd, a = self.d.post("/v1/moderations", {"input": "x"},
                                    token=tok)
            check(st, a, 401, "invalid_api_key")
        st, hd, body = self.d.request("GET", "/v1/moderations?x=1")
        check(st, json.loads(body), 405, "method_not_allowed")
        self.assertEqual(hd["allow"], "POST")
        st, _, body = self.d.request("POST", "/v1/moderations", '{"input": ')
        check(st, json.loads(body), 400, "bad_request")
        self.assertIn("malformed", json.loads(body)["error"]["message"])
        st, _, body = self.d.request("POST", "/v1/moderations",
                                     '{"input": "x"}', ctype="text/plain")
        check(st, json.loads(body), 415, "unsupported_media_type")
        # The protocol's shape elsewhere.
        st, _, a = self.d.post("/v1/moderate", {"text": "x", "policy": "no"})
        self.assertEqual(a["error"]["code"], "unknown_policy")
        self.assertIn("id", a)

    def test_metrics(self):
        self.d.post("/v1/moderate", {"text": "darn"})
        st, hd, body = self.d.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hd["content-type"].startswith("text/plain"))
        text = body.decode()
        self.assertIn('modgate_requests_total{policy="default",'
                      'verdict="rewrite"}', text)
        st, hd, body = self.d.request("HEAD", "/metrics")
        self.assertEqual(st, 200)

    def test_stats_and_metrics_agree(self):
        """One set of counters, whatever front answered: {"op": "stats"},
        {"op": "metrics"} and GET /metrics tell the same counts after
        checks, errors and a stream on both fronts."""
        c = self.d.client()
        try:
            self.assertEqual(c.ask({"text": "hello", "id": 1})["verdict"],
                             "allow")
            for text in ("one", "two", "three"):
                st, _, a = self.d.post("/v1/moderate", {"text": text})
                self.assertEqual((st, a["verdict"]), (200, "allow"))
            st, _, a = self.d.post("/v1/moderate", {"text": "you zorgblat"})
            self.assertEqual(a["verdict"], "block")
            st, _, a = self.d.post("/v1/moderate", {"text": "x",
                                                    "policy": "nope"})
            self.assertEqual(a["error"]["code"], "unknown_policy")
            self.assertEqual(c.ask({"id": 2})["error"]["code"],
                             "bad_request")
            sid = c.ask({"op": "stream_open"})["stream"]
            c.ask({"op": "stream_append", "stream": sid, "text": "darn"})
            self.assertEqual(c.ask({"op": "stream_close",
                                    "stream": sid})["verdict"], "rewrite")
            stats = c.ask({"op": "stats"})
            op_text = c.ask({"op": "metrics"})["metrics"]
        finally:
            c.close()
        st, _, body = self.d.request("GET", "/metrics")
        self.assertEqual(st, 200)
        for text in (op_text, body.decode()):
            got = {}
            for m in re.finditer(r'^modgate_requests_total\{policy="[^"]*",'
                                 r'verdict="(\w+)"\} (\d+)$', text, re.M):
                got[m.group(1)] = got.get(m.group(1), 0) + int(m.group(2))
            for verdict, n in stats["verdicts"].items():
                self.assertEqual(got.get(verdict, 0), n, (verdict, stats))
            for code, n in stats["errors"].items():
                m = re.search(r'^modgate_request_errors_total\{code="%s"\} '
                              r'(\d+)$' % code, text, re.M)
                self.assertEqual(int(m.group(1)) if m else 0, n,
                                 (code, stats))
        self.assertGreaterEqual(stats["verdicts"]["allow"], 4, stats)
        self.assertGreaterEqual(stats["verdicts"]["rewrite"], 1, stats)

    def test_audit_peer(self):
        self.d.post("/v1/moderate", {"text": "audit me", "id": "aud-1",
                                     "meta": {"k": "v"}})
        recs = [r for r in self.d.audit_records() if r.get("id") == "aud-1"]
        self.assertEqual(len(recs), 1)
        meta = recs[0]["meta"]
        self.assertEqual(meta["k"], "v")
        self.assertEqual(meta["http_peer"]["token"], "ci")
        self.assertEqual(meta["http_peer"]["transport"], "tcp")
        self.assertTrue(meta["http_peer"]["addr"].startswith("127.0.0.1:"))

    def test_keepalive_many(self):
        c = self.d.conn()
        try:
            for i in range(50):
                c.request("POST", "/v1/moderate",
                          body=json.dumps({"text": "n%d" % i, "id": i}),
                          headers={"Content-Type": "application/json",
                                   "Authorization": "Bearer " +
                                   self.d.token})
                r = c.getresponse()
                a = json.loads(r.read())
                self.assertEqual((r.status, a["id"]), (200, i))
        finally:
            c.close()


class LimitsTest(unittest.TestCase):
    def test_overloaded(self):
        # One worker, one waiting request: a burst must see 503s, with
        # Retry-After, and every other request its verdict.
        with HttpDaemon(server={"workers": 1, "queue_max": 1}) as d:
            text = "bob@corp.io " * 20000

            def one(i):
                return d.post("/v1/moderate", {"text": text, "id": i})
            with concurrent.futures.ThreadPoolExecutor(16) as ex:
                res = list(ex.map(one, range(48)))
            codes = sorted(set(st for st, _, _ in res))
            self.assertIn(503, codes)
            for st, hd, a in res:
                if st == 503:
                    self.assertEqual(a["error"]["code"], "overloaded")
                    self.assertEqual(hd["retry-after"], "1")
                else:
                    self.assertEqual((st, a["verdict"]), (200, "rewrite"))

    def test_request_timeout(self):
        # Answers that miss server.request_timeout are 503 timeout; the
        # jobs still running finish on their own, and the daemon serves on.
        with HttpDaemon(server={"workers": 1, "request_timeout": 1}) as d:
            text = "bob@corp.io darn " * 5000

            def one(i):
                return d.post("/v1/moderations", {"input": [text] * 3})
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                res = list(ex.map(one, range(16)))
            timeouts = [a for st, _, a in res if st == 503]
            self.assertTrue(timeouts)
            for a in timeouts:
                self.assertIn(a["error"]["code"], ("timeout", "overloaded"))
                self.assertEqual(a["error"]["type"], "server_error")
            self.assertIn("timeout", [a["error"]["code"] for a in timeouts])
            d.sections["server"]["request_timeout"] = 0
            st, _, body = d.request("GET", "/healthz")
            self.assertEqual(st, 200)
            self.assertTrue(d.alive())

    def test_io_timeout(self):
        with HttpDaemon(http={"timeout": 1}) as d:
            s = socket.create_connection(("127.0.0.1", d.port), 5)
            s.sendall(b"POST /v1/moderate HTTP/1.1\r\nHost: x\r\n")
            s.settimeout(10)
            t0 = time.monotonic()
            try:
                data = s.recv(4096)
                while data:
                    data = s.recv(4096)
            except ConnectionResetError:
                pass
            self.assertLess(time.monotonic() - t0, 8)
            s.close()

    def test_tcp_without_tokens_refused(self):
        d = Daemon(start=False)
        try:
            d.sections["http"] = {"enabled": True,
                                  "listen": "127.0.0.1:1"}
            d.sections["rules"]["paths"] = []
            d.write_config()
            r = subprocess.run([MODGATED, "-F", "-c", d.conf, "-s", d.sock],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"needs bearer tokens", r.stdout)
            self.assertFalse(os.path.exists(d.sock))
            # modgated -t says so too.
            r = subprocess.run([MODGATED, "-t", "-c", d.conf],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"needs bearer tokens", r.stdout)
            self.assertNotIn(b"configuration OK", r.stdout)
        finally:
            d.close()

    def test_bad_tokens_file(self):
        d = Daemon(start=False)
        try:
            bad = os.path.join(d.tmp, "tokens")
            with open(bad, "w") as f:
                f.write("ci short\n")
            d.sections["http"] = {"enabled": True, "listen": "127.0.0.1:1",
                                  "tokens_file": bad}
            d.sections["rules"]["paths"] = []
            d.write_config()
            r = subprocess.run([MODGATED, "-F", "-c", d.conf, "-s", d.sock],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"tokens:1: a token is 16 to 256 bytes",
                          r.stdout)
        finally:
            d.close()


class TokensFileTest(unittest.TestCase):
    def test_format(self):
        # Comments, blank lines, named and unnamed tokens; a request with
        # the unnamed one is audited under "line-N".
        unnamed = "u" * 20 + "-unnamed-token"
        with HttpDaemon(tokens=True, http={}) as d:
            with open(d.tokens_file, "a") as f:
                f.write("\n   # a comment\n%s\n\tops   %s  \n" %
                        (unnamed, "o" * 32))
            d.stop()
            d.start()
            st, _, _ = d.post("/v1/moderate", {"text": "x", "id": "t1"},
                              token=unnamed)
            self.assertEqual(st, 200)
            st, _, _ = d.post("/v1/moderate", {"text": "x", "id": "t2"},
                              token="o" * 32)
            self.assertEqual(st, 200)
            st, _, _ = d.post("/v1/moderate", {"text": "x"},
                              token="o" * 31)
            self.assertEqual(st, 401)
            names = {r["id"]: r["meta"]["http_peer"]["token"]
                     for r in d.audit_records() if r.get("id") in
                     ("t1", "t2")}
            self.assertEqual(names, {"t1": "line-5", "t2": "ops"})

    def test_errors(self):
        for text, msg in (("ci tok%s extra\n" % ("x" * 20),
                           b"expected \"NAME TOKEN\""),
                          ("x" * 2000 + "\n", b"line too long")):
            d = Daemon(start=False)
            try:
                path = os.path.join(d.tmp, "tokens")
                with open(path, "w") as f:
                    f.write(text)
                d.sections["http"] = {"enabled": True,
                                      "listen": "127.0.0.1:1",
                                      "tokens_file": path}
                d.sections["rules"]["paths"] = []
                d.write_config()
                r = subprocess.run([MODGATED, "-t", "-c", d.conf],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=60)
                self.assertEqual(r.returncode, 1)
                self.assertIn(msg, r.stdout)
            finally:
                d.close()


class UnixTest(unittest.TestCase):
    def test_unix_listener(self):
        with HttpDaemon(unix=True, tokens=False) as d:
            code, body = curl("--unix-socket", d.http_sock, "-H",
                              "Content-Type: application/json",
                              "--data-binary",
                              '{"id": "u1", "text": "darn"}',
                              "http://localhost/v1/moderate")
            self.assertEqual(code, 200, body)
            self.assertEqual(json.loads(body)["text"], "d***")
            st, _, a = d.post("/v1/moderations", {"input": "hello"},
                              token=False)
            self.assertEqual(st, 200)
            mode = os.stat(d.http_sock).st_mode & 0o777
            self.assertEqual(mode, 0o600)
            recs = [r for r in d.audit_records() if r.get("id") == "u1"]
            self.assertEqual(recs[0]["peer"]["uid"], os.getuid())
            self.assertEqual(recs[0]["meta"]["http_peer"]["transport"],
                             "unix")
            d.stop()
            self.assertFalse(os.path.exists(d.http_sock))

    def test_unix_socket_in_use(self):
        with HttpDaemon(unix=True, tokens=False) as d:
            e = Daemon(start=False)
            try:
                e.sections["http"] = {"enabled": True,
                                      "listen": "unix:" + d.http_sock}
                e.sections["rules"]["paths"] = []
                e.write_config()
                r = subprocess.run([MODGATED, "-F", "-c", e.conf, "-s",
                                    e.sock], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=60)
                self.assertEqual(r.returncode, 1)
                self.assertIn(b"another server is listening", r.stdout)
            finally:
                e.close()
            # The first daemon still serves on it.
            st, _, _ = d.post("/v1/moderate", {"text": "x"}, token=False)
            self.assertEqual(st, 200)

    def test_unix_with_tokens(self):
        with HttpDaemon(unix=True, tokens=True) as d:
            st, _, _ = d.post("/v1/moderate", {"text": "x"}, token=False)
            self.assertEqual(st, 401)
            st, _, _ = d.post("/v1/moderate", {"text": "x"})
            self.assertEqual(st, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
