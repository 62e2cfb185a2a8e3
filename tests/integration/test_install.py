#!/usr/bin/env python3
"""make install / uninstall: a DESTDIR staging install lays out the FHS
tree a package would ship, with a config naming the installed rules and
model; the installed daemon runs from there (modgated -t, then a real
request on a temporary socket); a PREFIX install runs with its installed
config as it is, its systemd units pass `systemd-analyze verify` (man
pages found) and its logrotate snippet passes `logrotate -d`; an upgrade
keeps a locally edited config; uninstall removes what install added and
keeps the audit log."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, DaemonProcess  # noqa: E402

TOP = harness.TOP


def make(*args):
    p = subprocess.run(["make", "-s", "-j2"] + list(args), cwd=TOP,
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise AssertionError("make %s failed:\n%s%s" %
                             (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def files_under(root):
    out = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            out.add(os.path.relpath(os.path.join(d, f), root))
    return out


def libconfig_value(text, key):
    m = re.search(r'(?m)^\s*%s\s*=\s*(.*?);' % re.escape(key), text)
    return m.group(1) if m else None


class InstallTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="modgate-install-")
        # A build of our own: the paths compiled in differ from build/'s.
        cls.build = os.path.join(cls.tmp, "build")
        cls.san = os.environ.get("SAN", "0")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def install(self, *args):
        return make("install", "BUILD=" + self.build, "SAN=" + self.san,
                    "SYSUSERS=:", *args)

    def uninstall(self, *args):
        return make("uninstall", "BUILD=" + self.build, "SAN=" + self.san,
                    *args)

    def test_destdir(self):
        dest = os.path.join(self.tmp, "dest")
        args = ("DESTDIR=" + dest, "PREFIX=/usr", "SYSCONFDIR=/etc")
        self.install(*args)
        got = files_under(dest)
        rules = {os.path.basename(r) for r in
                 glob.glob(os.path.join(TOP, "rules", "*.rules"))}
        self.assertTrue(rules)
        want = {"usr/sbin/modgated", "usr/bin/modgate",
                "etc/modgate/modgated.conf",
                "usr/share/modgate/models/default/config.json",
                "usr/share/man/man8/modgated.8",
                "usr/share/man/man1/modgate.1",
                "usr/share/man/man5/modgated.conf.5",
                "usr/share/man/man5/modgate.rules.5",
                "usr/lib/systemd/system/modgated.service",
                "usr/lib/systemd/system/modgated.socket",
                "usr/lib/sysusers.d/modgate.conf",
                "etc/logrotate.d/modgate"}
        want |= {"etc/modgate/rules/" + r for r in rules}
        self.assertEqual(want - got, set(), "missing from the install")
        for f in os.listdir(os.path.join(TOP, "models", "default")):
            self.assertIn("usr/share/modgate/models/default/" + f, got)
        self.assertTrue(os.access(os.path.join(dest, "usr/sbin/modgated"),
                                  os.X_OK))

        # The installed config names installed files, nothing in the tree.
        with open(os.path.join(dest, "etc/modgate/modgated.conf")) as f:
            conf = f.read()
        self.assertNotIn('"../', conf)
        self.assertEqual(libconfig_value(conf, "paths"),
                         '[ "/etc/modgate/rules/*.rules" ]')
        self.assertEqual(libconfig_value(conf, "model"),
                         '"/usr/share/modgate/models/default"')
        self.assertEqual(libconfig_value(conf, "socket"),
                         '"/run/modgate/modgated.sock"')
        self.assertEqual(libconfig_value(conf, "path"),
                         '"/var/log/modgate/audit.jsonl"')
        with open(os.path.join(dest,
                               "usr/lib/systemd/system/modgated.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/sbin/modgated -F -c "
                      "/etc/modgate/modgated.conf\n", unit)
        with open(os.path.join(dest, "etc/logrotate.d/modgate")) as f:
            lr = f.read()
        self.assertIn("/var/log/modgate/audit.jsonl {", lr)
        self.assertIn("-s USR1 modgated.service", lr)

        # Run the staged daemon: its config with every installed path
        # moved under DESTDIR, the socket and audit log in a temp dir.
        run = os.path.join(self.tmp, "destrun")
        os.mkdir(run)
        staged = conf.replace('"/etc/modgate/', '"%s/etc/modgate/' % dest)
        staged = staged.replace('"/usr/share/', '"%s/usr/share/' % dest)
        staged = staged.replace('"/var/log/modgate/', '"%s/' % run)
        staged = staged.replace('"/var/lib/modgate"', '"%s"' % run)
        self.assertNotIn('"/etc/', staged)
        self.assertNotIn('"/usr/', staged)
        cpath = os.path.join(run, "modgated.conf")
        with open(cpath, "w") as f:
            f.write(staged)
        modgated = os.path.join(dest, "usr/sbin/modgated")
        p = subprocess.run([modgated, "-t", "-c", cpath], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("configuration OK", p.stdout)
        sock = os.path.join(run, "s.sock")
        d = DaemonProcess(["-c", cpath, "-s", sock], logdir=run,
                          binary=modgated)
        try:
            d.wait_socket(sock)
            c = Client(sock)
            ans = c.ask({"id": "i1", "text": "write to bob@corp.io today"})
            c.close()
            self.assertIn(ans.get("verdict"), ("allow", "rewrite", "block"),
                          ans)
            self.assertEqual(ans["id"], "i1")
        finally:
            self.assertEqual(d.stop(), 0)
        with open(os.path.join(run, "audit.jsonl")) as f:
            self.assertIn('"i1"', f.read())

        # uninstall leaves only the (empty) state and log directories.
        self.uninstall(*args)
        left = files_under(dest)
        self.assertEqual(left, set(), left)
        self.assertFalse(os.path.exists(os.path.join(dest, "usr/sbin",
                                                     "modgated")))

    def test_prefix(self):
        root = os.path.join(self.tmp, "prefix")
        args = ("PREFIX=" + root, "LOCALSTATEDIR=" + root + "/var",
                "RUNSTATEDIR=" + root + "/run")
        self.install(*args)
        conf = os.path.join(root, "etc/modgate/modgated.conf")
        modgated = os.path.join(root, "sbin/modgated")
        modgate = os.path.join(root, "bin/modgate")
        # The daemon's compiled-in default config is the installed one.
        p = subprocess.run([modgated, "-t"], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("configuration OK", p.stdout)

        # systemd creates the runtime directory; here the test does.
        os.makedirs(os.path.join(root, "run/modgate"))
        sock = os.path.join(root, "run/modgate/modgated.sock")
        d = DaemonProcess(["-c", conf], logdir=self.tmp, binary=modgated)
        log = os.path.join(root, "var/log/modgate/audit.jsonl")
        snippet = os.path.join(root, "etc/logrotate.d/modgate")
        codes = {"allow": 0, "rewrite": 2, "block": 3}
        try:
            d.wait_socket(sock)
            p = subprocess.run([modgate, "check", "-j", "-s", sock,
                                "mail me at bob@corp.io"],
                               capture_output=True, text=True, timeout=60)
            ans = json.loads(p.stdout.splitlines()[0])
            self.assertEqual(p.returncode, codes[ans["verdict"]], ans)
            p = subprocess.run([modgate, "stats", "--prometheus", "-s", sock],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("modgate_requests_total{", p.stdout)
            # Rotation as logrotate does it: rename, then SIGUSR1 (the
            # snippet's systemctl line needs systemd; the test signals).
            if shutil.which("logrotate"):
                p = subprocess.run(["logrotate", "-f", "-s",
                                    os.path.join(self.tmp, "lr.state"),
                                    snippet], capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual(len(glob.glob(log + "-*")), 1)
                self.assertFalse(os.path.exists(log))
                d.signal(signal.SIGUSR1)
                harness.wait_for(lambda: os.path.exists(log), 30,
                                 "the reopened audit log")
                p = subprocess.run([modgate, "check", "-s", sock, "hello"],
                                   capture_output=True, text=True,
                                   timeout=60)
                self.assertIn(p.returncode, codes.values(), p.stderr)
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertTrue(os.path.getsize(log) > 0)
        # One chain across the rotated file and the new one, oldest first.
        files = sorted(glob.glob(log + "-*")) + [log]
        p = subprocess.run([modgate, "audit", "verify"] + files,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # The installed units verify, with the installed binary and pages.
        units = os.path.join(root, "lib/systemd/system")
        if shutil.which("systemd-analyze"):
            env = dict(os.environ, MANPATH=os.path.join(root, "share/man"))
            p = subprocess.run(["systemd-analyze", "verify",
                                os.path.join(units, "modgated.service"),
                                os.path.join(units, "modgated.socket")],
                               capture_output=True, text=True, timeout=120,
                               env=env)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
            p = subprocess.run(["systemd-analyze", "security",
                                "--offline=true", "--no-pager",
                                os.path.join(units, "modgated.service")],
                               capture_output=True, text=True, timeout=120)
            m = re.search(r"Overall exposure level for modgated.service: "
                          r"([0-9.]+)", p.stdout)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0)
        # The sysusers snippet creates the modgate user (in a scratch root).
        if shutil.which("systemd-sysusers"):
            sysroot = os.path.join(self.tmp, "sysroot")
            os.makedirs(os.path.join(sysroot, "etc"))
            p = subprocess.run(["systemd-sysusers", "--root=" + sysroot,
                                os.path.join(root, "lib/sysusers.d",
                                             "modgate.conf")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(sysroot, "etc/passwd")) as f:
                self.assertRegex(f.read(), r"(?m)^modgate:x:\d+:\d+:")
        # The logrotate snippet parses and would rotate the audit log.
        if shutil.which("logrotate"):
            p = subprocess.run(["logrotate", "-d", "-s",
                                os.path.join(self.tmp, "lr-d.state"),
                                os.path.join(root, "etc/logrotate.d",
                                             "modgate")],
                               capture_output=True, text=True, timeout=60)
            out = p.stdout + p.stderr
            self.assertEqual(p.returncode, 0, out)
            self.assertIn("considering log " + log, out)
            self.assertNotIn("error", out.lower())

        # Upgrade: a local edit to the config survives a new install.
        with open(conf, "a") as f:
            f.write("# local edit\n")
        out = self.install(*args)
        self.assertIn("kept", out)
        with open(conf) as f:
            self.assertIn("# local edit", f.read())
        self.assertTrue(os.path.exists(conf + ".new"))

        # Uninstall: the edited config and the audit log stay.
        self.uninstall(*args)
        self.assertFalse(os.path.exists(modgated))
        self.assertFalse(os.path.exists(conf + ".new"))
        self.assertTrue(os.path.exists(conf))
        self.assertTrue(os.path.exists(log))
        left = files_under(root)
        self.assertEqual({f for f in left if not f.startswith("var/")},
                         {"etc/modgate/modgated.conf"}, left)


if __name__ == "__main__":
    unittest.main(verbosity=2)
