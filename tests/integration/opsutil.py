"""Helpers of the operations tests (systemd, install, access control,
metrics, docs): paths, a libconfig writer, a daemon runner and a JSON Lines
client.  Python standard library only."""
import json
import os
import signal
import socket
import subprocess
import time

TOP = os.path.abspath(os.environ.get("MODGATE_TOP", os.getcwd()))
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
MODGATED = os.path.join(BUILD, "modgated")
MODGATE = os.path.join(BUILD, "modgate")


class Octal(int):
    """An integer written in octal (socket_mode = 0660)."""


def _value(v, indent):
    pad = "    " * (indent + 1)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Octal):
        return "0%o" % v
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        body = "".join("%s%s = %s;\n" % (pad, k, _value(x, indent + 1))
                       for k, x in v.items())
        return "{\n%s%s}" % (body, "    " * indent)
    if isinstance(v, (list, tuple)):
        if v and isinstance(v[0], dict):
            return "(\n%s\n%s)" % (",\n".join(pad + _value(x, indent + 1)
                                              for x in v), "    " * indent)
        return "[ %s ]" % ", ".join(_value(x, indent) for x in v)
    raise TypeError(v)


def libconfig(sections):
    """Text of a libconfig file from a dict of sections."""
    return "".join("%s = %s;\n" % (k, _value(v, 0))
                   for k, v in sections.items())


def base_config(tmp, sock=None):
    """Sections of a working config in directory TMP, with the repository's
    rules and model and the audit log in TMP."""
    return {
        "server": {"socket": sock or os.path.join(tmp, "modgated.sock"),
                   "socket_mode": Octal(0o666)},
        "rules": {"paths": [os.path.join(TOP, "rules")]},
        "classifier": {"model": os.path.join(TOP, "models", "default")},
        "audit": {"path": os.path.join(tmp, "audit.jsonl")},
        "policies": [{"name": "default"}],
    }


def write_config(tmp, sections, name="modgated.conf"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(libconfig(sections))
    return path


def wait_for(pred, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


class Daemon:
    """modgated in the foreground; stderr kept in a file for the report."""

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


class Client:
    """One connection speaking JSON Lines."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, obj):
        line = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(line, str):
            line = line.encode()
        self.sock.sendall(line + b"\n")

    def recv(self):
        """The next answer, or None at end of stream."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        self.sock.close()
