"""Helpers of the HTTP and streaming tests: a daemon with the HTTP listener
on a free loopback port (or a Unix socket), a bearer token, a rules file
of our own, and small HTTP clients.  Python standard library only."""
import http.client
import json
import os
import secrets
import socket
import stat

from harness import Daemon, wait_for

# Rules whose hits are known exactly: one per action, and categories that
# map to OpenAI names (slur -> hate, self_harm -> self-harm).
RULES = r"""
rule t.email {
    match     /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/i
    on        raw
    category  pii
    action    rewrite "[email]"
    test match "write to bob@corp.io today"
}
rule t.slur {
    match     /\bzorgblat\b/
    category  slur
    action    block
    test match "you zorgblat"
}
rule t.harm {
    match     /\bcut myself\b/
    category  self_harm
    action    flag
    test match "i want to cut myself"
}
rule t.swear {
    match     /\bdarn\w*/
    category  profanity
    action    rewrite "d***"
    test match "darn it"
}
"""


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HttpDaemon(Daemon):
    """modgated with http enabled.  TCP (default) gets a tokens file with
    one token named "ci"; unix=True listens on a Unix socket without
    tokens.  Extra keyword sections are merged as in Daemon; the classifier
    is off unless classifier={"enabled": True} asks for it."""

    def __init__(self, unix=False, tokens=True, http=None, **sections):
        super().__init__(start=False, **sections)
        self.token = secrets.token_urlsafe(24)
        self.tokens_file = os.path.join(self.tmp, "tokens")
        with open(self.tokens_file, "w") as f:
            f.write("# name token\nci %s\n" % self.token)
        os.chmod(self.tokens_file, stat.S_IRUSR | stat.S_IWUSR)
        rules = os.path.join(self.tmp, "test.rules")
        with open(rules, "w") as f:
            f.write(RULES)
        self.sections["rules"]["paths"] = [rules]
        self.sections.setdefault("classifier", {}).setdefault("enabled", False)
        hc = {"enabled": True}
        if unix:
            self.http_sock = os.path.join(self.tmp, "http.sock")
            hc["listen"] = "unix:" + self.http_sock
            self.port = None
        else:
            self.port = free_port()
            hc["listen"] = "127.0.0.1:%d" % self.port
        if tokens:
            hc["tokens_file"] = self.tokens_file
        hc.update(http or {})
        self.sections["http"] = hc
        self.write_config()
        self.start()
        if not unix:
            wait_for(self._tcp_up, 30, "the HTTP port")

    def _tcp_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def conn(self, timeout=30):
        if self.port is None:
            return UnixHTTPConnection(self.http_sock, timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, token=True, headers=None,
                ctype="application/json"):
        """(status, headers dict, body bytes) of one request."""
        h = {}
        if ctype is not None and body is not None:
            h["Content-Type"] = ctype
        if token is True:
            h["Authorization"] = "Bearer " + self.token
        elif token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def post(self, path, body, **kw):
        st, hd, data = self.request("POST", path, body, **kw)
        return st, hd, json.loads(data) if data else None

    def audit_records(self):
        with open(self.sections["audit"]["path"]) as f:
            return [json.loads(x) for x in f if x.strip()]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def sse_events(data):
    """[(event, json)] of a text/event-stream body."""
    out = []
    for block in data.decode().split("\n\n"):
        ev, payload = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                payload.append(line[6:])
        if ev is not None:
            out.append((ev, json.loads("\n".join(payload))))
    return out
