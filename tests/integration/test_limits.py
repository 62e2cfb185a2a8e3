"""test_limits: modgated under resource exhaustion.  The daemon's open file
limit is lowered while it runs (prlimit) and clients connect until accept(2)
fails: the extra connections are told "overloaded" and closed, the event
loop does not spin, the burst is logged once, and the daemon serves again
once descriptors are free."""
import json
import os
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, HttpDaemon, wait_for  # noqa

SPARE = 8               # descriptors the daemon may open past its idle set
EXTRA = 6               # connections past those


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_bytes(s, timeout):
    """What S receives within TIMEOUT before EOF (b"" on a timeout)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except socket.timeout:
        pass
    return data


class Exhausted:
    """Lower the daemon's open file limit to its open descriptors plus
    SPARE, and restore it on exit."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.old = resource.prlimit(self.pid, resource.RLIMIT_NOFILE)
        n = open_fds(self.pid) + SPARE
        resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (n, self.old[1]))
        return self

    def __exit__(self, *exc):
        resource.prlimit(self.pid, resource.RLIMIT_NOFILE, self.old)
        return False


class DescriptorTest:
    """What both fronts must do; connect() opens one client socket."""

    def connect(self):
        raise NotImplementedError

    def serving(self):
        raise NotImplementedError

    def refusal(self, data):
        raise NotImplementedError

    def test_emfile_sheds_and_recovers(self):
        d = self.d
        pid = d.proc.pid
        wait_for(self.serving, 30, "the daemon to serve")
        time.sleep(0.3)         # until it closed that connection
        held = []
        try:
            with Exhausted(pid):
                for _ in range(SPARE + EXTRA):
                    held.append(self.connect())
                time.sleep(0.3)
                told = [first_bytes(s, 0.2) for s in held]
                shed = [x for x in told if x]
                self.assertGreaterEqual(len(shed), 1, d.output())
                for x in shed:
                    self.refusal(x)
                # Still out of descriptors: more clients come and are
                # told, and the loop does not spin meanwhile.
                cpu = cpu_seconds(pid)
                t0 = time.monotonic()
                refused = 0
                for _ in range(5):
                    s = self.connect()
                    x = first_bytes(s, 2)
                    if x:
                        self.refusal(x)
                        refused += 1
                        s.close()
                    else:       # a descriptor came free: accepted
                        held.append(s)
                    time.sleep(0.3)
                self.assertGreaterEqual(refused, 3, d.output())
                used = cpu_seconds(pid) - cpu
                wall = time.monotonic() - t0
                self.assertLess(used, 0.3 * wall,
                                "%.2fs of CPU in %.2fs" % (used, wall))
        finally:
            for s in held:
                s.close()
        wait_for(self.serving, 30, "the daemon to serve again")
        out = wait_for(lambda: "descriptors available again" in
                       d.output() and d.output(), 30, "the end of the burst")
        self.assertEqual(out.count("shedding new connections"), 1, out)
        stats = d.ask({"op": "stats"})
        self.assertGreaterEqual(stats["connections_refused"], 5, stats)


class SocketFront(DescriptorTest, unittest.TestCase):
    def setUp(self):
        self.d = Daemon(classifier={"enabled": False})

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0, self.d.output())
        self.d.close()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.sock)
        return s

    def serving(self):
        try:
            return self.d.ask({"id": "r", "text": "hello"}).get("verdict")
        except OSError:
            return None

    def refusal(self, data):
        ans = json.loads(data.decode().splitlines()[0])
        self.assertEqual(ans["error"]["code"], "overloaded", ans)
        self.assertIn("file descriptors", ans["error"]["message"])


class HttpFront(DescriptorTest, unittest.TestCase):
    def setUp(self):
        self.d = HttpDaemon()

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0, self.d.output())
        self.d.close()

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.d.port), 5)

    def serving(self):
        try:
            st, _, body = self.d.post("/v1/moderate", {"text": "hello"})
            return st == 200 and body["verdict"]
        except OSError:
            return None

    def refusal(self, data):
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 503 "), data)
        self.assertIn(b"Connection: close", head)
        ans = json.loads(body)
        self.assertEqual(ans["error"]["code"], "overloaded", ans)


if __name__ == "__main__":
    unittest.main()
