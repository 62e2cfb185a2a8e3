"""test_cli_help: -h and --help on every program and subcommand print the
usage on stdout and exit 0; a bad option still prints it on stderr and
exits 64 (EX_USAGE)."""
import subprocess
import unittest

from harness import MODGATE, MODGATED

SUBCOMMANDS = [["audit"], ["audit", "verify"], ["audit", "show"],
               ["audit", "query"], ["audit", "keygen"], ["check"], ["eval"],
               ["lint"], ["logits"], ["reload"], ["scan"], ["stats"]]


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


class Help(unittest.TestCase):
    def test_programs(self):
        for argv in ([MODGATE, "-h"], [MODGATE, "--help"], [MODGATE, "help"],
                     [MODGATED, "-h"], [MODGATED, "--help"]):
            r = run(argv)
            self.assertEqual(r.returncode, 0, (argv, r.stderr))
            self.assertTrue(r.stdout.startswith("usage: "), (argv, r.stdout))
            self.assertEqual(r.stderr, "", argv)
        self.assertIn("modgate check", run([MODGATE, "-h"]).stdout)

    def test_subcommands(self):
        for sub in SUBCOMMANDS:
            for flag in ("-h", "--help"):
                r = run([MODGATE] + sub + [flag])
                self.assertEqual(r.returncode, 0, (sub, flag, r.stderr))
                self.assertTrue(r.stdout.startswith("usage: modgate " +
                                                    sub[0]), (sub, r.stdout))
        # after other options too, and not after "--"
        r = run([MODGATE, "scan", "-q", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("modgate scan", r.stdout)
        r = run([MODGATE, "check", "-s", "/nonexistent.sock", "--", "-h"])
        self.assertEqual(r.returncode, 69, r.stderr)  # EX_UNAVAILABLE

    def test_bad_option(self):
        for argv in ([MODGATE, "check", "-Z"], [MODGATE, "lint", "-Z"],
                     [MODGATED, "-Z"], [MODGATE]):
            r = run(argv)
            self.assertEqual(r.returncode, 64, argv)
            self.assertIn("usage:", r.stderr, argv)


if __name__ == "__main__":
    unittest.main()
