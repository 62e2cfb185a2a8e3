#!/usr/bin/env python3
"""Operational logging: every line about a request carries its id, both on
stderr (-F) and through syslog (detached daemon); on a journald stream
(JOURNAL_STREAM names stderr) every line carries its syslog priority; with
audit.syslog every audit record also goes to syslog as one JSON object.
The syslog parts need root and a machine without /dev/log: the test binds
a datagram socket of its own there for the duration of the test."""
import json
import os
import re
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

# Hyperscan cannot take the backreference, so PCRE2 runs it alone, and it
# backtracks exponentially on a run of a's: the match limit stops it.
RULES = r'''
rule slow.backref {
    match     /^(a|aa)+\1$/
    on        raw
    category  test
    action    block
}
'''


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modgate-log-")
        self.sock = os.path.join(self.tmp, "modgated.sock")
        rules = os.path.join(self.tmp, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "slow.rules"), "w") as f:
            f.write(RULES)
        cfg = harness.ops_config(self.tmp, self.sock)
        cfg["rules"] = {"paths": [rules], "match_limit": 1000}
        cfg["audit"]["syslog"] = True
        cfg["policies"] = {"default": {"on_error": "allow"}}
        self.conf = harness.write_config(self.tmp, cfg)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def slow_request(self, rid):
        c = Client(self.sock)
        ans = c.ask({"id": rid, "text": "a" * 40 + "b"})
        c.close()
        self.assertTrue(ans.get("degraded"), ans)
        return ans


class StderrTests(Base):
    def test_request_id_on_stderr(self):
        d = DaemonProcess(["-c", self.conf], logdir=self.tmp)
        try:
            d.wait_socket(self.sock)
            self.slow_request("req-42")
        finally:
            d.stop()
        with open(os.path.join(self.tmp, "modgated-%d.log" %
                               os.getpid())) as f:
            lines = [l for l in f.read().splitlines() if "limit" in l]
        self.assertTrue(lines, "no limit warning logged")
        for l in lines:
            self.assertIn("[req-42] ", l)

    def test_journal_priorities(self):
        lines = self.journal_lines("req-43")
        warn = [l for l in lines if "limit" in l]
        self.assertTrue(warn, lines)
        self.assertTrue(warn[0].startswith("<3>[req-43] "), warn)
        self.assertTrue(any(l.startswith("<6>") for l in lines), lines)

    def test_request_id_escaped(self):
        # An id that would forge a line of priority 0 and clear a terminal.
        lines = self.journal_lines("x\n<0>forged\r\x1b[2J\x7f\t")
        self.assertFalse([l for l in lines if l.startswith("<0>")], lines)
        warn = [l for l in lines if "limit" in l]
        self.assertTrue(warn, lines)
        self.assertTrue(warn[0].startswith(
            "<3>[x\\n<0>forged\\r\\x1b[2J\\x7f\\t] "), warn)

    def journal_lines(self, rid):
        """The lines the daemon writes to a journald stream while it
        answers one slow request with id RID; each has its priority."""
        logpath = os.path.join(self.tmp, "journal-stream")
        log = open(logpath, "w")
        st = os.fstat(log.fileno())
        env = dict(os.environ,
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        d = DaemonProcess(["-c", self.conf], env=env, logdir=self.tmp)
        # Point the daemon's stderr at the "journal" file.
        d.proc.kill()
        d.proc.wait()
        d.log.close()
        import subprocess
        p = subprocess.Popen([harness.MODGATED, "-F", "-c", self.conf],
                             stdin=subprocess.DEVNULL, stdout=log,
                             stderr=log, env=env)
        try:
            harness.wait_for(lambda: os.path.exists(self.sock), 60,
                             "socket")
            time.sleep(0.2)
            self.slow_request(rid)
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0)
            log.close()
        with open(logpath, newline="\n") as f:
            lines = f.read().split("\n")[:-1]
        self.assertTrue(lines)
        for l in lines:
            self.assertRegex(l, r"^<[0-7]>", "no priority: %r" % l)
            self.assertNotRegex(l, r"[\x00-\x1f\x7f]", "raw control: %r" % l)
        return lines


def daemon_pid(argv):
    """The pid of the detached daemon started with exactly ARGV (its
    socket's SO_PEERCRED names the parent that bound it, which exited)."""
    want = "\0".join(argv) + "\0"
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d) as f:
                if f.read() == want:
                    return int(d)
        except OSError:
            continue
    return None


@unittest.skipUnless(os.geteuid() == 0 and not os.path.exists("/dev/log"),
                     "needs root and no syslog daemon on /dev/log")
class SyslogTests(Base):
    def setUp(self):
        super().setUp()
        self.syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.syslog.bind("/dev/log")
        self.syslog.settimeout(0.2)

    def tearDown(self):
        self.syslog.close()
        os.unlink("/dev/log")
        super().tearDown()

    def messages(self, seconds=2.0, until=None):
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                out.append(self.syslog.recv(65536).decode(errors="replace"))
            except socket.timeout:
                continue
            if until and until(out):
                break
        return out

    def test_detached_daemon_logs_to_syslog(self):
        # Without -F the daemon detaches; its pid comes from SO_PEERCRED.
        import subprocess
        argv = [harness.MODGATED, "-c", self.conf]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        pid = harness.wait_for(lambda: daemon_pid(argv), 30, "daemon pid")
        try:
            harness.wait_for(lambda: os.path.exists(self.sock), 60, "socket")
            self.slow_request("req-44")
            msgs = self.messages(5, lambda m: any(
                "[req-44]" in x and "limit" in x for x in m) and any(
                '"id":"req-44"' in x for x in m))
        finally:
            os.kill(pid, signal.SIGTERM)
            harness.wait_for(lambda: not os.path.exists("/proc/%d" % pid),
                             30, "daemon exit")
        # "<PRI>Mon dd hh:mm:ss modgated[PID]: [req-44] rules: ..."
        ops = [m for m in msgs if "limit" in m]
        self.assertTrue(ops, msgs)
        self.assertRegex(ops[0], r"^<27>.*modgated\[%d\]: \[req-44\] " % pid)
        # The audit record of the request, as JSON, facility authpriv.
        recs = []
        for m in msgs:
            mm = re.match(r"^<(\d+)>.*?modgated(?:\[\d+\])?: (\{.*\})$", m)
            if mm:
                recs.append((int(mm.group(1)), json.loads(mm.group(2))))
        mine = [r for pri, r in recs if r.get("id") == "req-44"]
        self.assertEqual(len(mine), 1, msgs)
        self.assertEqual(mine[0]["verdict"], "allow")
        self.assertTrue(mine[0]["degraded"])
        self.assertIn("prev", mine[0])
        self.assertEqual([pri for pri, r in recs if r.get("id") ==
                          "req-44"], [10 * 8 + 6])   # authpriv.info


if __name__ == "__main__":
    unittest.main(verbosity=2)
