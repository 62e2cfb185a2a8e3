#!/usr/bin/env python3
"""Bodies over http.max_body_bytes and malformed chunked bodies, on raw
sockets: a Content-Length over the limit, a chunked body over it, one
chunk larger than the limit, all answered 413 in the endpoint's error
shape (the API's on /v1/moderations) with the body read and dropped, so
that the connection serves the next request; chunked bodies within the
limit answered as if sent with a Content-Length; a malformed chunked body
answered 400 and the connection closed, as is a header block libevent
would refuse on a known path; a client waiting for 100 Continue answered
413 at once and the connection closed."""
import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HttpDaemon  # noqa: E402

LIMIT = 4096


class Conn:
    """One keep-alive HTTP/1.1 connection on a raw socket."""

    def __init__(self, d, timeout=30):
        self.d = d
        self.s = socket.create_connection(("127.0.0.1", d.port), timeout)
        self.buf = b""

    def close(self):
        self.s.close()

    def head(self, path, extra):
        h = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\n" % (path, self.d.token))
        return (h + "".join("%s: %s\r\n" % kv for kv in extra) +
                "\r\n").encode()

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        b = self.s.recv(65536)
        if not b:
            raise EOFError("connection closed")
        self.buf += b

    def response(self):
        """(status, headers dict, body bytes) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hd = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hd[k.strip().lower()] = v.strip()
        n = int(hd.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hd, body

    def closed(self):
        """True when the server closes the connection with nothing more."""
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    return not self.buf
                self.buf += b
        except ConnectionResetError:
            return True


def chunked(data, size):
    out = b""
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


def moderations_body(n):
    return json.dumps({"input": "a" * n}).encode()


class BodyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = HttpDaemon(http={"max_body_bytes": LIMIT})

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.d.stop()
            out = cls.d.output()
        finally:
            cls.d.close()
        # Frames are freed with their connections (a sanitizer build
        # reports a leak or a bad access here).
        assert "Sanitizer" not in out and "runtime error" not in out, out
        assert rc == 0, (rc, out)

    def conn(self):
        c = Conn(self.d)
        self.addCleanup(c.close)
        return c

    def check_api_error(self, st, body, status, code):
        self.assertEqual(st, status, body)
        e = json.loads(body)
        self.assertEqual(set(e), {"error"}, e)
        self.assertEqual(set(e["error"]), {"message", "type", "param",
                                           "code"}, e)
        self.assertEqual(e["error"]["code"], code)
        self.assertIsInstance(e["error"]["message"], str)
        self.assertIsInstance(e["error"]["type"], str)

    def ok_after(self, c):
        """The connection still answers a request within the limit."""
        body = moderations_body(10)
        c.send(c.head("/v1/moderations",
                      [("Content-Length", len(body))]) + body)
        st, _, b = c.response()
        self.assertEqual(st, 200, b)
        self.assertEqual(len(json.loads(b)["results"]), 1)

    def test_content_length_over(self):
        c = self.conn()
        body = moderations_body(3 * LIMIT)
        c.send(c.head("/v1/moderations",
                      [("Content-Length", len(body))]) + body)
        st, hd, b = c.response()
        self.check_api_error(st, b, 413, "too_large")
        self.assertEqual(hd["content-type"], "application/json")
        self.assertNotEqual(hd.get("connection", "").lower(), "close")
        self.ok_after(c)

    def test_content_length_far_over(self):
        # A body far over the limit, sent while the answer comes back.
        c = self.conn()
        body = moderations_body(2 * 1024 * 1024)
        c.send(c.head("/v1/moderations", [("Content-Length", len(body))]))
        c.send(body)
        st, _, b = c.response()
        self.check_api_error(st, b, 413, "too_large")
        self.ok_after(c)

    def test_chunked_over(self):
        c = self.conn()
        c.send(c.head("/v1/moderations",
                      [("Transfer-Encoding", "chunked")]) +
               chunked(moderations_body(3 * LIMIT), 1000))
        st, _, b = c.response()
        self.check_api_error(st, b, 413, "too_large")
        self.ok_after(c)

    def test_chunk_larger_than_limit(self):
        c = self.conn()
        c.send(c.head("/v1/moderations",
                      [("Transfer-Encoding", "chunked")]) +
               chunked(moderations_body(5 * LIMIT), 5 * LIMIT + 100))
        st, _, b = c.response()
        self.check_api_error(st, b, 413, "too_large")
        self.ok_after(c)

    def test_chunked_within(self):
        c = self.conn()
        body = json.dumps({"input": ["you zorgblat", "hello"]}).encode()
        for size in (1, 7, len(body)):
            c.send(c.head("/v1/moderations",
                          [("Transfer-Encoding", "chunked")]) +
                   chunked(body, size))
            st, _, b = c.response()
            self.assertEqual(st, 200, b)
            a = json.loads(b)
            self.assertEqual([r["flagged"] for r in a["results"]],
                             [True, False], (size, a))

    def test_trickled(self):
        # A request and a chunked one, a byte per send.
        c = self.conn()
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = moderations_body(20)
        data = c.head("/v1/moderations", [("Content-Length", len(body))]) + body
        data += c.head("/v1/moderations",
                       [("Transfer-Encoding", "chunked")]) + chunked(body, 9)
        for i in range(len(data)):
            c.send(data[i:i + 1])
        for _ in range(2):
            st, _, b = c.response()
            self.assertEqual(st, 200, b)

    def test_pipelined(self):
        c = self.conn()
        big, small = moderations_body(2 * LIMIT), moderations_body(5)
        c.send(c.head("/v1/moderations", [("Content-Length", len(big))]) +
               big +
               c.head("/v1/moderations", [("Transfer-Encoding", "chunked")]) +
               chunked(big, 512) +
               c.head("/v1/moderations", [("Content-Length", len(small))]) +
               small)
        self.assertEqual([c.response()[0] for _ in range(3)],
                         [413, 413, 200])

    def test_protocol_shape(self):
        # Other endpoints answer in the protocol's error shape.
        c = self.conn()
        body = json.dumps({"text": "a" * 2 * LIMIT}).encode()
        c.send(c.head("/v1/moderate", [("Content-Length", len(body))]) +
               body)
        st, _, b = c.response()
        self.assertEqual(st, 413)
        e = json.loads(b)["error"]
        self.assertEqual((e["code"], e["type"]), ("too_large", "too_large"))

    def test_malformed_chunked(self):
        for bad in (b"zz\r\nabc\r\n0\r\n\r\n",          # not a size
                    b"3\r\nabcXY0\r\n\r\n",              # no CRLF after data
                    b"5" * 2000 + b"\r\n"):              # size line too long
            c = self.conn()
            c.send(c.head("/v1/moderations",
                          [("Transfer-Encoding", "chunked")]) + bad)
            st, hd, b = c.response()
            self.check_api_error(st, b, 400, "bad_request")
            self.assertEqual(hd.get("connection", "").lower(), "close")
            self.assertTrue(c.closed())

    def test_expect_continue(self):
        # The client waits for 100 Continue: the 413 comes instead.
        c = self.conn()
        c.send(c.head("/v1/moderations", [("Content-Length", 10 * LIMIT),
                                          ("Expect", "100-continue")]))
        st, hd, b = c.response()
        self.check_api_error(st, b, 413, "too_large")
        self.assertEqual(hd.get("connection", "").lower(), "close")
        self.assertTrue(c.closed())

    def test_mark_not_forged(self):
        # The frame's own header, sent by a client, is dropped.
        c = self.conn()
        body = moderations_body(5)
        c.send(c.head("/v1/moderations", [("Content-Length", len(body)),
                                          ("Modgate-Body", "too_large")]) +
               body)
        st, _, b = c.response()
        self.assertEqual(st, 200, b)

    def test_before_token(self):
        # Without a token: the body's size is refused first, as ever.
        c = self.conn()
        body = moderations_body(3 * LIMIT)
        c.send(("POST /v1/moderations HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)).encode() + body)
        st, _, b = c.response()
        self.check_api_error(st, b, 413, "too_large")
        self.ok_after(c)

    def test_malformed_headers(self):
        # A header block libevent would refuse, on a known path.
        for path, lines in (("/v1/moderations", "no colon here\r\n"),
                            ("/v1/moderations", "Content-Length: 12x\r\n"),
                            ("/v1/moderate", " continued\r\n")):
            c = self.conn()
            c.send(("POST %s HTTP/1.1\r\n%s\r\n{}" % (path, lines))
                   .encode())
            st, hd, b = c.response()
            if path == "/v1/moderations":
                self.check_api_error(st, b, 400, "bad_request")
            else:
                self.assertEqual(st, 400)
                self.assertEqual(json.loads(b)["error"]["code"],
                                 "bad_request")
            self.assertEqual(hd.get("connection", "").lower(), "close")
            self.assertTrue(c.closed())


if __name__ == "__main__":
    unittest.main()
