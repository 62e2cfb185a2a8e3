#!/usr/bin/env python3
"""systemd units: `systemd-analyze verify` is clean, the sandbox scores an
exposure of 2.0 or lower under `systemd-analyze security --offline`, and the
directives the daemon relies on are present.  Works without systemd as
PID 1: the units are checked as files, with ExecStart pointing at the built
daemon."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

TOP = os.environ.get("MODGATE_TOP", os.getcwd())
BUILD = os.path.join(TOP, os.environ.get("BUILD", "build"))
SYSTEMD = os.path.join(TOP, "systemd")


def units(tmp):
    """Copy the units into TMP with ExecStart naming the built daemon."""
    daemon = os.path.join(BUILD, "modgated")
    for name in ("modgated.service", "modgated.socket"):
        with open(os.path.join(SYSTEMD, name)) as f:
            text = f.read().replace("/usr/sbin/modgated", daemon)
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    return [os.path.join(tmp, n) for n in ("modgated.service",
                                           "modgated.socket")]


def directives(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


@unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
class UnitTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modgate-units-")
        self.service, self.socket = units(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_verify_clean(self):
        p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            self.service, self.socket],
                           capture_output=True, text=True, timeout=60)
        out = (p.stdout + p.stderr).strip()
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual(out, "", "systemd-analyze verify is not clean")

    def test_verify_catches_errors(self):
        # The check above can fail: a bad directive makes noise.
        with open(self.service, "a") as f:
            f.write("[Service]\nProtectSystem=bogus\n")
        p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            self.service], capture_output=True, text=True,
                           timeout=60)
        self.assertIn("bogus", p.stdout + p.stderr)

    def test_security_exposure(self):
        p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                            "--no-pager", self.service],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for modgated.service: "
                      r"([0-9.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        exposure = float(m.group(1))
        print("systemd-analyze security exposure: %.1f" % exposure)
        self.assertLessEqual(exposure, 2.0, p.stdout)

    def test_directives(self):
        d = directives(self.service)
        self.assertEqual(d["Type"], ["notify"])
        self.assertIn("/bin/kill -HUP $MAINPID", d["ExecReload"])
        self.assertTrue(d["WatchdogSec"][0])
        self.assertEqual(d["CapabilityBoundingSet"], [""])
        self.assertEqual(d["ProtectSystem"], ["strict"])
        self.assertEqual(d["RestrictAddressFamilies"], ["AF_UNIX"])
        self.assertEqual(d["MemoryDenyWriteExecute"], ["no"])
        for k in ("RuntimeDirectory", "LogsDirectory", "StateDirectory"):
            self.assertEqual(d[k], ["modgate"])
        self.assertEqual(d["User"], ["modgate"])
        # Open files above both listeners' default connection caps.
        self.assertGreaterEqual(int(d["LimitNOFILE"][0]), 2 * 1024 + 1024)
        # -F keeps the daemon in the foreground: Type=notify tracks MAINPID.
        self.assertIn(" -F", d["ExecStart"][0])
        s = directives(self.socket)
        self.assertEqual(s["ListenStream"], ["/run/modgate/modgated.sock"])
        self.assertEqual(s["SocketGroup"], ["modgate"])
        with open(os.path.join(SYSTEMD, "modgate.sysusers")) as f:
            self.assertRegex(f.read(), r"(?m)^u\s+modgate\s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
