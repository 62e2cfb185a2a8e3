"""harness: the one test harness of the integration tests.  Start the real
modgated from $BUILD on a temporary socket with a temporary config, talk to
it (JSON Lines, HTTP, server-sent events), stop it.  Python standard
library only; every wait is bounded.

    with Daemon() as d:                  # or Daemon(server={...}, ...)
        c = d.client()
        ans = c.ask({"id": "1", "text": "hello"})

Daemon runs on base_sections() merged with the caller's sections;
HttpDaemon adds the HTTP listener, a bearer token and RULES;
DaemonProcess runs modgated with the caller's own arguments (the
operations tests: systemd, install, access control, logging, metrics,
docs), on a config from ops_config() and write_config().
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

TOP = os.path.abspath(os.environ.get("MODGATE_TOP", os.getcwd()))
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
MODGATED = os.path.join(BUILD, "modgated")
# Compiled rule databases shared by the tests' daemons (rules.cache_dir): a
# Hyperscan compile of the shipped rules takes about 2 s, 7 s under the
# sanitizers, and most tests start several daemons.
RULES_CACHE = os.path.join(BUILD, "rules-cache")
MODGATE = os.path.join(BUILD, "modgate")
START_TIMEOUT = float(os.environ.get("MODGATE_START_TIMEOUT", "60"))


class Octal(int):
    """An integer written in octal (socket_mode = 0660)."""


def _conf_value(v, depth=0):
    pad = "  " * (depth + 1)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Octal):
        return "0%o" % v
    if isinstance(v, int):
        return "%dL" % v if abs(v) >= 2 ** 31 else str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{\n%s%s}" % ("".join("%s%s = %s;\n" % (pad, k, _conf_value(
            x, depth + 1)) for k, x in v.items()), "  " * depth)
    if isinstance(v, (list, tuple)):
        if v and isinstance(v[0], dict):
            return "( %s )" % ", ".join(_conf_value(x, depth + 1) for x in v)
        return "[ %s ]" % ", ".join(_conf_value(x, depth) for x in v)
    raise TypeError(v)


def config_text(sections):
    """libconfig text of a dict of sections."""
    return "".join("%s = %s;\n" % (k, _conf_value(v)) for k, v in
                   sections.items())


def base_sections(tmp):
    """A working configuration in TMP, using the repository's rules and
    model and keeping the audit log in TMP."""
    return {
        "server": {"socket": os.path.join(tmp, "modgated.sock"),
                   "socket_mode": "0600", "workers": 2},
        "rules": {"paths": [os.path.join(TOP, "rules", "*.rules")],
                  "cache_dir": RULES_CACHE},
        "classifier": {"model": os.path.join(TOP, "models", "default")},
        "audit": {"path": os.path.join(tmp, "audit.jsonl")},
        "policies": {
            "default": {"categories": {"hate": {"block": 0.9,
                                                "rewrite": 0.7}}},
            "strict": {"on_error": "block"},
        },
    }


def ops_config(tmp, sock=None):
    """Sections of the operations tests' config in directory TMP: the
    socket open to every user (0666: the access tests run clients as
    other users), the repository's rules directory and model, one default
    policy, the audit log in TMP."""
    return {
        "server": {"socket": sock or os.path.join(tmp, "modgated.sock"),
                   "socket_mode": Octal(0o666)},
        "rules": {"paths": [os.path.join(TOP, "rules")],
                  "cache_dir": RULES_CACHE},
        "classifier": {"model": os.path.join(TOP, "models", "default")},
        "audit": {"path": os.path.join(tmp, "audit.jsonl")},
        "policies": [{"name": "default"}],
    }


def write_config(tmp, sections, name="modgated.conf"):
    """Write SECTIONS as the config file NAME in TMP; returns its path."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(config_text(sections))
    return path


def merge(base, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


def wait_for(pred, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        r = pred()
        if r:
            return r
        if time.monotonic() > end:
            raise AssertionError("timed out after %gs waiting for %s" %
                                 (timeout, what))
        time.sleep(0.02)


class Client:
    """One connection speaking JSON Lines; recv() is bounded by TIMEOUT."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, obj):
        if isinstance(obj, dict):
            obj = json.dumps(obj)
        if isinstance(obj, str):
            obj = obj.encode()
        if not obj.endswith(b"\n"):
            obj += b"\n"
        self.sock.sendall(obj)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_line(self):
        """The next line (bytes), or None at end of stream."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self):
        line = self.recv_line()
        return None if line is None else json.loads(line)

    def ask(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        self.sock.close()


class Daemon:
    """modgated -F on a temporary config and socket; stderr kept in a file.

    Keyword arguments are merged into base_sections() (e.g.
    server={"max_request_bytes": 1024}).
    """

    def __init__(self, start=True, **sections):
        self.tmp = tempfile.mkdtemp(prefix="modgate-test.")
        self.sections = merge(base_sections(self.tmp), sections)
        self.sock = self.sections["server"]["socket"]
        self.conf = os.path.join(self.tmp, "modgated.conf")
        self.write_config()
        self.proc = None
        self.log = open(os.path.join(self.tmp, "modgated.log"), "w+")
        if start:
            self.start()

    def write_config(self, text=None):
        with open(self.conf + ".new", "w") as f:
            f.write(text if text is not None else
                    config_text(self.sections))
        os.rename(self.conf + ".new", self.conf)

    def start(self):
        self.proc = subprocess.Popen(
            [MODGATED, "-F", "-c", self.conf, "-s", self.sock],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("modgated exited %d:\n%s" %
                                     (self.proc.returncode, self.output()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(1)
                s.connect(self.sock)
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_for(ready, START_TIMEOUT, "modgated to listen on " + self.sock)

    def client(self, timeout=30.0):
        return Client(self.sock, timeout)

    def sole_client(self, timeout=10.0):
        """A client once the daemon counts no other connection (earlier
        clients' closes are processed asynchronously)."""
        c = self.client()
        wait_for(lambda: c.ask({"op": "stats"})["connections"] == 1,
                 timeout, "earlier connections to close")
        return c

    def ask(self, obj):
        c = self.client()
        try:
            return c.ask(obj)
        finally:
            c.close()

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the daemon; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("modgated did not stop within %ds:\n%s" %
                                 (timeout, self.output()))

    def close(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stop()
        finally:
            self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class DaemonProcess:
    """modgated -F with the caller's arguments; stderr kept in a file for
    the report, checked for sanitizer errors at stop()."""

    def __init__(self, args, env=None, pass_fds=(), preexec_fn=None,
                 logdir=None, binary=MODGATED, prefix=()):
        self.log = open(os.path.join(logdir or "/tmp", "modgated-%d.log" %
                                     os.getpid()), "w+")
        self.proc = subprocess.Popen(list(prefix) + [binary, "-F"] +
                                     list(args), env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     pass_fds=pass_fds, preexec_fn=preexec_fn)

    def wait_socket(self, path, timeout=60.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("modgated exited %d:\n%s" %
                                     (self.proc.returncode, self.output()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_for(ready, timeout, "socket %s" % path)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        out = self.output()
        self.log.close()
        # Under SAN=1 a sanitizer report fails the test that ran it.
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:"):
            if mark in out:
                raise AssertionError("modgated: %s\n%s" % (mark, out))
        return rc


def socat(path, data, timeout=30):
    """Send DATA through socat(1) to the socket PATH; returns its output."""
    r = subprocess.run(["socat", "-t", "5", "-", "UNIX-CONNECT:" + path],
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("socat failed: %s" % r.stderr.decode())
    return r.stdout


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
