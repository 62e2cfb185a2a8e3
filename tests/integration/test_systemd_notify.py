#!/usr/bin/env python3
"""The daemon under systemd's protocols, without systemd: a listening socket
passed the way the service manager passes it (LISTEN_FDS, LISTEN_PID, fd 3)
and NOTIFY_SOCKET naming a datagram socket of this test, which must receive
READY=1, RELOADING=1 (with MONOTONIC_USEC) then READY=1 on SIGHUP, STOPPING=1
on SIGTERM, and WATCHDOG=1 every half of WATCHDOG_USEC."""
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, DaemonProcess  # noqa: E402


class Notify:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path = path
        self.seen = []

    def wait(self, pred, timeout=60.0):
        """Read messages until PRED(fields) holds; return those fields."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            fields = dict(l.split("=", 1) for l in data.split("\n") if l)
            self.seen.append(fields)
            if pred(fields):
                return fields
        raise AssertionError("no matching notification; seen %r" % self.seen)

    def drain(self, seconds):
        end = time.monotonic() + seconds
        got = []
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            got.append(dict(l.split("=", 1) for l in data.split("\n") if l))
        self.seen.extend(got)
        return got


def listening_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.listen(64)
    return s


def activated(fd):
    """preexec_fn: put FD at 3, where systemd puts the first socket."""
    def child():
        if fd != 3:
            os.dup2(fd, 3)
        os.set_inheritable(3, True)
    return child


# LISTEN_PID must name the daemon itself: a shell exports its own pid and
# execs the daemon in its place.
ACTIVATE = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"']


class NotifyTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modgate-notify-")
        self.conf_sock = os.path.join(self.tmp, "from-config.sock")
        self.conf = harness.write_config(
            self.tmp, harness.ops_config(self.tmp, self.conf_sock))
        self.notify = Notify(os.path.join(self.tmp, "notify"))
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.stop()
        self.notify.sock.close()

    def env(self, **extra):
        env = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                  "WATCHDOG_USEC", "WATCHDOG_PID", "NOTIFY_SOCKET"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify.path
        env.update(extra)
        return env

    def test_activation_and_notifications(self):
        act_path = os.path.join(self.tmp, "activated.sock")
        lsock = listening_socket(act_path)
        # Clients may connect before the daemon runs: systemd's promise.
        early = Client(act_path)
        early.send({"op": "ping"})
        # Watchdog at 400 ms: a ping every 200 ms.
        self.daemon = DaemonProcess(["-c", self.conf],
                             env=self.env(WATCHDOG_USEC="400000"),
                             pass_fds=(lsock.fileno(), 3),
                             preexec_fn=activated(lsock.fileno()),
                             prefix=ACTIVATE, logdir=self.tmp)
        lsock.close()
        try:
            ready = self.notify.wait(lambda f: f.get("READY") == "1")
        except AssertionError:
            raise AssertionError(self.daemon.output())
        self.assertNotIn("STOPPING", ready)

        # The early connection is served on the inherited socket, and the
        # daemon did not create the socket named in its configuration.
        ans = early.recv()
        self.assertIsNotNone(ans, self.daemon.output())
        self.assertNotIn("error", ans)
        early.close()
        c = Client(act_path)
        ans = c.ask({"id": "a", "text": "hello there"})
        self.assertIn(ans.get("verdict"), ("allow", "rewrite", "block"), ans)
        c.close()
        self.assertFalse(os.path.exists(self.conf_sock))

        # Watchdog pings from the event loop, about every 200 ms.
        got = self.notify.drain(1.2)
        pings = [f for f in got if f.get("WATCHDOG") == "1"]
        self.assertGreaterEqual(len(pings), 3, got)
        self.assertLessEqual(len(pings), 12, got)

        # SIGHUP: RELOADING=1 with a fresh CLOCK_MONOTONIC stamp, READY=1.
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        self.daemon.signal(signal.SIGHUP)
        rel = self.notify.wait(lambda f: f.get("RELOADING") == "1")
        usec = int(rel["MONOTONIC_USEC"])
        # The watchdog is reset as the (event-loop blocking) load begins.
        self.assertEqual(rel.get("WATCHDOG"), "1", rel)
        after = time.clock_gettime(time.CLOCK_MONOTONIC)
        self.assertGreaterEqual(usec, int(before * 1e6) - 1000)
        self.assertLessEqual(usec, int(after * 1e6) + 1000)
        self.notify.wait(lambda f: f.get("READY") == "1")
        c = Client(act_path)
        self.assertNotIn("error", c.ask({"op": "ping"}))
        c.close()

        # SIGTERM: STOPPING=1, then a clean exit.
        self.daemon.signal(signal.SIGTERM)
        self.notify.wait(lambda f: f.get("STOPPING") == "1")
        rc = self.daemon.proc.wait(30)
        self.assertEqual(rc, 0, self.daemon.output())

    @unittest.skipUnless(shutil.which("systemd-socket-activate"),
                         "no systemd-socket-activate")
    def test_systemd_socket_activate(self):
        # systemd's own tool: it listens, and on the first connection execs
        # the daemon with the socket as fd 3 and LISTEN_PID set (and only
        # the environment it is told to pass).
        act_path = os.path.join(self.tmp, "sa.sock")
        self.daemon = DaemonProcess(["-c", self.conf], env=self.env(),
                             prefix=["systemd-socket-activate", "-l",
                                     act_path, "-E", "NOTIFY_SOCKET=" +
                                     self.notify.path], logdir=self.tmp)
        harness.wait_for(lambda: os.path.exists(act_path), 30, "listener")
        c = Client(act_path)
        ans = c.ask({"op": "ping"})
        self.assertTrue(ans.get("ok"), ans)
        ans = c.ask({"id": "sa", "text": "hello"})
        self.assertIn(ans.get("verdict"), ("allow", "rewrite", "block"), ans)
        c.close()
        self.notify.wait(lambda f: f.get("READY") == "1")
        self.assertFalse(os.path.exists(self.conf_sock))
        self.assertIn("using the socket passed by systemd",
                      self.daemon.output())
        self.daemon.signal(signal.SIGTERM)
        self.notify.wait(lambda f: f.get("STOPPING") == "1")
        self.assertEqual(self.daemon.proc.wait(30), 0)

    def test_no_watchdog_without_request(self):
        self.daemon = DaemonProcess(["-c", self.conf], env=self.env(),
                             logdir=self.tmp)
        self.notify.wait(lambda f: f.get("READY") == "1")
        self.daemon.wait_socket(self.conf_sock)
        got = self.notify.drain(0.6)
        self.assertFalse([f for f in got if "WATCHDOG" in f], got)

    def test_runs_without_systemd(self):
        env = self.env()
        del env["NOTIFY_SOCKET"]
        self.daemon = DaemonProcess(["-c", self.conf], env=env,
                                    logdir=self.tmp)
        self.daemon.wait_socket(self.conf_sock)
        c = Client(self.conf_sock)
        self.assertNotIn("error", c.ask({"op": "ping"}))
        c.close()
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon = None
        self.assertEqual(self.notify.drain(0.2), [])

    def test_bad_inherited_socket(self):
        # A datagram socket is no listening stream socket: refuse to start.
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bad.bind(os.path.join(self.tmp, "bad.sock"))
        self.daemon = DaemonProcess(["-c", self.conf], env=self.env(),
                             pass_fds=(bad.fileno(), 3),
                             preexec_fn=activated(bad.fileno()),
                             prefix=ACTIVATE, logdir=self.tmp)
        bad.close()
        rc = self.daemon.proc.wait(60)
        out = self.daemon.output()
        self.daemon.log.close()
        self.daemon = None
        self.assertNotEqual(rc, 0, out)
        self.assertIn("socket", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
