#!/usr/bin/env python3
"""Proxy mode: modgated in front of an OpenAI-compatible chat server.  A
small stand-in server (standard library, started here on a loopback port)
answers by the request's model: clean, harmful, rewritten text, two
choices, slow beyond proxy.timeout, 500, malformed JSON, the upstream's
own 404 error.  Every answer is checked, with the audit records, and the
official `openai` npm client calls it too (test_openai_client.py installs
the package); then
moderate_input and an upstream whose port refuses connections, the
refusal of "stream": true, the 404 without a proxy section, and
modgated -t on bad proxy sections, and an upstream that never accepts
the connection (proxy.connect_timeout)."""
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MODGATED, RULES, HttpDaemon,  # noqa: E402
                     base_sections, free_port, write_config)
from test_openai_client import NPMDIR, npm_install  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

ANSWERS = {
    "clean": ["Hello there, how can I help you today?"],
    "harmful": ["Sure. you zorgblat"],
    "rewrite": ["mail bob@corp.io now"],
    "multi": ["a fine answer", "you zorgblat"],
}
UPSTREAM_KEY = "sk-test-upstream-key-0123456789"


class StandIn(http.server.BaseHTTPRequestHandler):
    """POST /v1/chat/completions the way the OpenAI API answers it."""
    protocol_version = "HTTP/1.1"
    seen = []           # (path, headers, body) of every request

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass        # the slow answer, after modgated gave up

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n))
        StandIn.seen.append((self.path, dict(self.headers), body))
        model = body.get("model")
        if model == "slow":
            time.sleep(3)
        if model == "error500":
            return self.send(500, b"upstream broke", "text/plain")
        if model == "malformed":
            return self.send(200, b'{"id": "x", "choices": [')
        if model not in ANSWERS and model != "slow":
            return self.send(404, {"error": {
                "message": "The model `%s` does not exist" % model,
                "type": "invalid_request_error", "param": None,
                "code": "model_not_found"}})
        texts = ANSWERS.get(model, ["late"])
        self.send(200, {
            "id": "chatcmpl-standin-1", "object": "chat.completion",
            "created": 1700000000, "model": model + "-2024",
            "system_fingerprint": "fp_x",
            "choices": [{"index": i, "message": {
                "role": "assistant", "content": t, "refusal": None},
                "logprobs": None, "finish_reason": "stop"}
                for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 9, "completion_tokens": 12,
                      "total_tokens": 21}})


def chat(model, text="hi", **extra):
    body = {"model": model, "messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": text}]}
    body.update(extra)
    return body


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
        cls.up.daemon_threads = True
        threading.Thread(target=cls.up.serve_forever, daemon=True).start()
        cls.tmp = tempfile.TemporaryDirectory()
        key = os.path.join(cls.tmp.name, "upstream.key")
        with open(key, "w") as f:
            f.write(UPSTREAM_KEY + "\n")
        cls.d = HttpDaemon(proxy={
            "upstream": "http://127.0.0.1:%d/v1/" % cls.up.server_port,
            "timeout": 1000, "connect_timeout": 500, "key_file": key})

    @classmethod
    def tearDownClass(cls):
        close_checked(cls.d)
        cls.up.shutdown()
        cls.up.server_close()
        cls.tmp.cleanup()

    def setUp(self):
        StandIn.seen.clear()

    def records(self, model):
        return [r for r in self.d.audit_records()
                if r.get("meta", {}).get("proxy", {}).get("model") == model]

    def test_clean_passes_unchanged(self):
        st, _, a = self.d.post("/v1/chat/completions",
                               chat("clean", policy="default",
                                    meta={"conv": "c1"}))
        self.assertEqual(st, 200, a)
        self.assertEqual(a["id"], "chatcmpl-standin-1")
        self.assertEqual(a["model"], "clean-2024")
        self.assertEqual(a["usage"]["total_tokens"], 21)
        self.assertEqual(a["system_fingerprint"], "fp_x")
        self.assertEqual(a["choices"][0]["message"]["content"],
                         ANSWERS["clean"][0])
        self.assertEqual(a["choices"][0]["finish_reason"], "stop")
        # What the upstream got: its path, the key, no modgate fields.
        path, headers, body = StandIn.seen[0]
        self.assertEqual(path, "/v1/chat/completions")
        self.assertEqual(headers.get("Authorization"),
                         "Bearer " + UPSTREAM_KEY)
        self.assertNotIn("policy", body)
        self.assertNotIn("meta", body)
        self.assertEqual(body["messages"][1]["content"], "hi")
        recs = harness_wait(lambda: self.records("clean-2024"))
        self.assertEqual(recs[-1]["verdict"], "allow")
        self.assertEqual(recs[-1]["meta"]["proxy"]["part"], "output")
        self.assertEqual(recs[-1]["meta"]["conv"], "c1")
        self.assertEqual(recs[-1]["meta"]["http_peer"]["token"], "ci")

    def test_harmful_is_blocked(self):
        st, _, a = self.d.post("/v1/chat/completions", chat("harmful"))
        self.assertEqual(st, 200, a)
        c = a["choices"][0]
        self.assertEqual(c["finish_reason"], "content_filter")
        self.assertEqual(c["message"]["content"], "This content was blocked.")
        self.assertNotIn("zorgblat", json.dumps(a))
        self.assertEqual(a["id"], "chatcmpl-standin-1")
        self.assertEqual(a["usage"]["completion_tokens"], 12)
        recs = harness_wait(lambda: self.records("harmful-2024"))
        self.assertEqual(recs[-1]["verdict"], "block")

    def test_rewrite(self):
        st, _, a = self.d.post("/v1/chat/completions", chat("rewrite"))
        self.assertEqual(st, 200, a)
        self.assertEqual(a["choices"][0]["message"]["content"],
                         "mail [email] now")
        self.assertEqual(a["choices"][0]["finish_reason"], "stop")

    def test_each_choice(self):
        st, _, a = self.d.post("/v1/chat/completions", chat("multi", n=2))
        self.assertEqual(st, 200, a)
        self.assertEqual(a["choices"][0]["message"]["content"],
                         "a fine answer")
        self.assertEqual(a["choices"][0]["finish_reason"], "stop")
        self.assertEqual(a["choices"][1]["finish_reason"], "content_filter")

    def test_unknown_policy(self):
        st, _, a = self.d.post("/v1/chat/completions",
                               chat("clean", policy="nope"))
        self.assertEqual(st, 400, a)
        self.assertEqual(a["error"]["code"], "unknown_policy")

    def test_slow_upstream_times_out(self):
        t0 = time.monotonic()
        st, _, a = self.d.post("/v1/chat/completions", chat("slow"))
        self.assertEqual(st, 504, a)
        self.assertLess(time.monotonic() - t0, 2.5)
        self.assertEqual(a["error"]["code"], "upstream_timeout")
        self.assertEqual(a["error"]["type"], "server_error")

    def test_upstream_500(self):
        st, _, a = self.d.post("/v1/chat/completions", chat("error500"))
        self.assertEqual(st, 502, a)
        self.assertEqual(a["error"]["code"], "upstream_error")
        self.assertIn("500", a["error"]["message"])

    def test_malformed_json(self):
        st, _, a = self.d.post("/v1/chat/completions", chat("malformed"))
        self.assertEqual(st, 502, a)
        self.assertEqual(a["error"]["code"], "upstream_error")

    def test_upstream_error_passed_on(self):
        st, _, a = self.d.post("/v1/chat/completions", chat("no-such"))
        self.assertEqual(st, 404, a)
        self.assertEqual(a["error"]["code"], "model_not_found")

    def test_stream_refused(self):
        st, _, a = self.d.post("/v1/chat/completions",
                               chat("clean", stream=True))
        self.assertEqual(st, 400, a)
        self.assertIn("not supported yet", a["error"]["message"])
        self.assertEqual(a["error"]["param"], "stream")
        self.assertEqual(StandIn.seen, [])

    def test_bad_requests(self):
        for body in ({"model": "clean"}, {"model": "clean", "messages": []},
                     {"model": 3, "messages": [{"role": "user",
                                                "content": "x"}]}):
            st, _, a = self.d.post("/v1/chat/completions", body)
            self.assertEqual(st, 400, (body, a))
            self.assertEqual(a["error"]["type"], "invalid_request_error")
        st, _, a = self.d.post("/v1/chat/completions", chat("clean"),
                               token=False)
        self.assertEqual(st, 401)
        st, _, _ = self.d.request("GET", "/v1/chat/completions")
        self.assertEqual(st, 405)
        self.assertEqual(StandIn.seen, [])

    def test_openai_client(self):
        """The official openai npm client's chat.completions.create."""
        npm_install()
        r = subprocess.run(["node", os.path.join(HERE, "openai_chat.mjs"),
                            NPMDIR, self.d.base + "/v1", self.d.token],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = json.loads(r.stdout)
        self.assertEqual(out["clean"]["choices"][0]["message"]["content"],
                         ANSWERS["clean"][0])
        self.assertEqual(out["clean"]["usage"]["total_tokens"], 21)
        h = out["harmful"]["choices"][0]
        self.assertEqual(h["finish_reason"], "content_filter")
        self.assertEqual(h["message"]["content"], "This content was blocked.")
        self.assertEqual(out["rewrite"]["choices"][0]["message"]["content"],
                         "mail [email] now")
        self.assertNotIn("policy", StandIn.seen[2][2])
        e = out["errors"]
        self.assertEqual((e["stream"]["status"], e["stream"]["name"],
                          e["stream"]["param"]),
                         (400, "BadRequestError", "stream"))
        self.assertEqual((e["error500"]["status"], e["error500"]["code"]),
                         (502, "upstream_error"))
        self.assertEqual((e["slow"]["status"], e["slow"]["code"]),
                         (504, "upstream_timeout"))
        self.assertEqual((e["malformed"]["status"], e["malformed"]["code"]),
                         (502, "upstream_error"))

    def test_concurrent_and_still_alive(self):
        import concurrent.futures
        models = ["clean", "harmful", "error500", "malformed", "slow"] * 2
        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            res = list(ex.map(lambda m: self.d.post(
                "/v1/chat/completions", chat(m))[0], models))
        self.assertEqual(res, [200, 200, 502, 502, 504] * 2)
        self.assertTrue(self.d.alive())


def close_checked(d):
    """Stop D and close it: it must exit 0 without a sanitizer report."""
    try:
        status = d.stop()
        out = d.output()
    finally:
        d.close()
    assert status == 0 and "Sanitizer" not in out and \
        "runtime error" not in out, "modgated exit %s:\n%s" % (status, out)


def harness_wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        r = pred()
        if r or time.monotonic() > end:
            return r
        time.sleep(0.05)


class InputTest(unittest.TestCase):
    """moderate_input, in front of a port nobody listens on."""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = HttpDaemon(proxy={
            "upstream": "http://127.0.0.1:%d/v1" % cls.port,
            "moderate_input": True})

    @classmethod
    def tearDownClass(cls):
        close_checked(cls.d)

    def test_blocked_input_answers_at_once(self):
        st, _, a = self.d.post("/v1/chat/completions",
                               chat("gpt-x", "you zorgblat"))
        self.assertEqual(st, 200, a)
        self.assertEqual(a["object"], "chat.completion")
        self.assertEqual(a["model"], "gpt-x")
        self.assertEqual(a["choices"][0]["finish_reason"], "content_filter")
        self.assertEqual(a["choices"][0]["message"]["content"],
                         "This content was blocked.")
        recs = harness_wait(lambda: [
            r for r in self.d.audit_records()
            if r.get("meta", {}).get("proxy", {}).get("part") == "input"])
        self.assertEqual(recs[-1]["verdict"], "block")

    def test_refused_port(self):
        st, _, a = self.d.post("/v1/chat/completions",
                               chat("gpt-x", "hello there"))
        self.assertEqual(st, 502, a)
        self.assertEqual(a["error"]["code"], "upstream_error")

    def test_text_parts(self):
        body = chat("gpt-x")
        body["messages"][1]["content"] = [
            {"type": "text", "text": "hello"},
            {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
            {"type": "text", "text": "you zorgblat"}]
        st, _, a = self.d.post("/v1/chat/completions", body)
        self.assertEqual(st, 200, a)
        self.assertEqual(a["choices"][0]["finish_reason"], "content_filter")


class ConnectTimeoutTest(unittest.TestCase):
    def test_connect_timeout(self):
        """An upstream whose accept queue is full never completes a
        connect: 504 after proxy.connect_timeout, not proxy.timeout."""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(0)
        fill = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(ls.getsockname())
            fill.append(s)
        d = HttpDaemon(proxy={
            "upstream": "http://127.0.0.1:%d/v1" % ls.getsockname()[1],
            "connect_timeout": 300, "timeout": 5000})
        try:
            t0 = time.monotonic()
            st, _, a = d.post("/v1/chat/completions", chat("x"))
            self.assertEqual(st, 504, a)
            self.assertIn("connect_timeout", a["error"]["message"])
            self.assertLess(time.monotonic() - t0, 3)
        finally:
            close_checked(d)
            for s in fill:
                s.close()
            ls.close()


class NoProxyTest(unittest.TestCase):
    def test_404_without_a_proxy_section(self):
        d = HttpDaemon()
        try:
            st, _, a = d.post("/v1/chat/completions", chat("clean"))
            self.assertEqual(st, 404, a)
        finally:
            close_checked(d)


class CheckConfig(unittest.TestCase):
    def check(self, proxy, http=True):
        with tempfile.TemporaryDirectory() as tmp:
            s = base_sections(tmp)
            s["classifier"] = {"enabled": False}
            rules = os.path.join(tmp, "test.rules")
            with open(rules, "w") as f:
                f.write(RULES)
            s["rules"] = {"paths": [rules]}
            if http:
                s["http"] = {"enabled": True,
                             "listen": "unix:" + os.path.join(tmp, "h.sock")}
            s["proxy"] = proxy
            path = write_config(tmp, s)
            return subprocess.run([MODGATED, "-t", "-c", path],
                                  capture_output=True, text=True, timeout=60)

    def test_good(self):
        r = self.check({"upstream": "http://127.0.0.1:8000/v1",
                        "moderate_input": True, "max_concurrent": 8})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad(self):
        for proxy, http, want in (
                ({}, True, "proxy.upstream is required"),
                ({"upstream": "https://api.example.com/v1"}, True,
                 "https is not supported"),
                ({"upstream": "http://127.0.0.1:8000/v1"}, False,
                 "http.enabled"),
                ({"upstream": "http://127.0.0.1:8000/v1",
                  "key_file": "/nonexistent/key"}, True, "key_file"),
                ({"upstream": "http://127.0.0.1:8000/v1", "timeout": 0},
                 True, "timeout"),
                ({"upstream": "http://127.0.0.1:8000/v1", "bogus": 1},
                 True, "bogus")):
            r = self.check(proxy, http)
            self.assertNotEqual(r.returncode, 0, proxy)
            self.assertIn(want, r.stderr, proxy)


if __name__ == "__main__":
    unittest.main()
