"""harness: start the real modgated from $BUILD on a temporary socket with a
temporary config, talk to it, stop it.  Python standard library only; every
wait is bounded.

    with Daemon() as d:                  # or Daemon(server={...}, ...)
        c = d.client()
        ans = c.ask({"id": "1", "text": "hello"})
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.path.abspath(os.environ.get("MODGATE_TOP", os.getcwd()))
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
MODGATED = os.path.join(BUILD, "modgated")
MODGATE = os.path.join(BUILD, "modgate")
START_TIMEOUT = float(os.environ.get("MODGATE_START_TIMEOUT", "60"))


def _conf_value(v, depth=0):
    pad = "  " * (depth + 1)
    if isinstance(v, bool):
        return "true" if v else "false"
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
        "rules": {"paths": [os.path.join(TOP, "rules", "*.rules")]},
        "classifier": {"model": os.path.join(TOP, "models", "default")},
        "audit": {"path": os.path.join(tmp, "audit.jsonl")},
        "policies": {
            "default": {"categories": {"hate": {"block": 0.9,
                                                "rewrite": 0.7}}},
            "strict": {"on_error": "block"},
        },
    }


def merge(base, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


def wait_for(pred, timeout, what):
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


def socat(path, data, timeout=30):
    """Send DATA through socat(1) to the socket PATH; returns its output."""
    r = subprocess.run(["socat", "-t", "5", "-", "UNIX-CONNECT:" + path],
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("socat failed: %s" % r.stderr.decode())
    return r.stdout
