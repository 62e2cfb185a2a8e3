#!/usr/bin/env python3
"""The manual pages against the code: every page is clean under
`mandoc -Tlint`; every config option modgated accepts (its options table,
`modgated -O`) is documented in modgated.conf(5) with its type range and
default, and every option documented there exists; every rule key the
rules parser accepts is documented in modgate.rules(5) and every key
documented there is accepted; every metric the daemon exports is described
in modgated(8); ARCHITECTURE.md names the files that exist."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, DaemonProcess  # noqa: E402

MAN = os.path.join(harness.TOP, "man")
OURS = ("modgated.8", "modgate.1", "modgated.conf.5", "modgate.rules.5")
# Messages about the host's manual database, not about the page.
HOST_ONLY = ("referenced manual not found", "outdated mandoc.db")


def read(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def unmdoc(text):
    """Roughly the words of mdoc source: escapes resolved, macros gone."""
    text = text.replace("\\(dq", '"').replace("\\&", "").replace("\\e", "\\")
    text = re.sub(r"(?m)^\.[A-Z][a-z]\s*", "", text)
    return re.sub(r"\b(Ns|Pq|Qq|Li|Cm|Pa|Ic|Dv|Ql|Po|Pc|Xr)\b ?", "", text)


def items(page, heading_macro, section_name=None):
    """{(section, name): (item line, body)} of `.It Ic NAME` items, keyed by
    the enclosing heading of HEADING_MACRO (".Ss" or ".Sh"); with
    SECTION_NAME only that heading's items.  The body of an item holds
    its nested lists too."""
    out = {}
    section = None
    open_items = {}         # list depth -> item key
    depth = 0
    for line in page.splitlines():
        if line.startswith(heading_macro + " ") or line.startswith(".Sh "):
            section = None
            if line.startswith(heading_macro + " "):
                section = line[len(heading_macro) + 1:].strip()
            open_items = {}
            depth = 0
            continue
        if line.startswith(".Bl "):
            depth += 1
        elif line.startswith(".El"):
            open_items.pop(depth, None)
            depth -= 1
        elif line.startswith(".It "):
            open_items.pop(depth, None)
            m = re.match(r"^\.It Ic (\S+)(.*)$", line)
            if m and section is not None and \
                    (section_name is None or section == section_name):
                key = (section, m.group(1))
                if key in out:
                    raise AssertionError("%s documented twice" % (key,))
                out[key] = [line, ""]
                open_items[depth] = key
                continue
        for d, key in open_items.items():
            if d <= depth:
                out[key][1] += line + "\n"
    return {k: (v[0], v[1]) for k, v in out.items()}


def options():
    """[(name, type, range, default)] from modgated -O."""
    p = subprocess.run([harness.MODGATED, "-O"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = []
    for line in p.stdout.splitlines():
        f = line.split("\t")
        assert len(f) == 5, "bad options row %r" % line
        rows.append(tuple(f[:4]))
    assert len(rows) > 20, p.stdout
    return rows


def leaf(name):
    """("server", "uid") from "server.peer_policies[].uid"."""
    parts = name.split(".")
    return parts[0], parts[-1].replace("[]", "")


class ManLint(unittest.TestCase):
    def test_mandoc_lint(self):
        pages = sorted(glob.glob(os.path.join(MAN, "*.[1-9]")))
        self.assertTrue(set(OURS) <= {os.path.basename(p) for p in pages})
        for page in pages:
            p = subprocess.run(["mandoc", "-Tlint", page],
                               capture_output=True, text=True, timeout=60)
            msgs = [l for l in (p.stdout + p.stderr).splitlines()
                    if l and not any(h in l for h in HOST_ONLY)]
            self.assertEqual(msgs, [], page)
            p = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_lint_catches_errors(self):
        with tempfile.NamedTemporaryFile("w", suffix=".5") as f:
            f.write(".Dd $Mdocdate$\n.Dt X 5\n.Os\n.Sh NAME\n.Bl -tag\n")
            f.flush()
            p = subprocess.run(["mandoc", "-Tlint", "-Wwarning", f.name],
                               capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)

    def test_sections(self):
        for name in OURS:
            page = read(name)
            for sh in ("NAME", "DESCRIPTION", "FILES", "EXIT STATUS",
                       "EXAMPLES", "SEE ALSO"):
                self.assertIn("\n.Sh %s\n" % sh, page, "%s: %s" % (name, sh))


class StandsAlone(unittest.TestCase):
    def test_no_file_outside_the_repository(self):
        """The README and the manual pages are all a user gets: they name
        no file beside the repository (the training data, design notes)."""
        docs = [os.path.join(harness.TOP, "README.md")] + \
            sorted(glob.glob(os.path.join(MAN, "*.[1-9]")))
        for path in docs:
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    for word in ("../shared", "DESIGN.md", "STYLE.md"):
                        self.assertNotIn(word, line, "%s:%d" % (path, n))


class ConfigOptions(unittest.TestCase):
    def setUp(self):
        self.page = read("modgated.conf.5")
        self.doc = items(self.page, ".Ss")
        self.rows = options()

    def test_every_option_documented(self):
        for name, _, _, _ in self.rows:
            self.assertTrue(leaf(name) in self.doc,
                            "%s is not in modgated.conf(5)" % name)

    def test_every_documented_option_exists(self):
        code = {leaf(r[0]) for r in self.rows}
        for key in self.doc:
            self.assertIn(key, code, "modgated.conf(5) documents %s.%s, "
                          "which modgated -O does not list" % key)

    def test_types_ranges_defaults(self):
        for name, typ, rng, default in self.rows:
            if leaf(name) not in self.doc:
                continue        # test_every_option_documented says so
            line, body = self.doc[leaf(name)]
            text = unmdoc(body)
            m = re.match(r"^(-?[0-9.e+]+)\.\.(-?[0-9.e+]+)$", rng)
            if m:
                want = "%s to %s" % (m.group(1), m.group(2))
                self.assertIn(want, line, "%s: range %s" % (name, rng))
            elif "|" in rng:
                for choice in rng.split("|"):
                    self.assertRegex(line, r"\b%s\b" % re.escape(choice),
                                     "%s: choice %s" % (name, choice))
            elif rng.startswith("at most "):
                self.assertIn("at most " + rng.split()[2], line, name)
            if default == "(required)":
                self.assertRegex(text, r"[Rr]equired", name)
                continue
            self.assertIn("Default", body, "%s: no default" % name)
            text = text[text.index("Default"):]
            if default == "":
                want = "empty"
            elif default.startswith("(") and default != "()":
                want = default.strip("()")
            elif "/share/modgate/" in default:
                want = default[default.index("/share/modgate/"):]
            else:
                want = default
            self.assertIn(want, text, "%s: default %r not in %r" %
                          (name, default, text))
            if typ == "bool":
                self.assertIn("Pq boolean", line, name)
            if typ in ("int", "int64"):
                self.assertIn("integer", line, name)


class RuleKeys(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(harness.TOP, "src", "rules-parse.c")) as f:
            src = f.read()
        self.code = set(re.findall(r'word_is\(key, "([a-z_]+)"\)', src))
        self.doc = {k[1] for k in items(read("modgate.rules.5"), ".Sh",
                                         "RULE KEYS")}
        self.tmp = tempfile.mkdtemp(prefix="modgate-docs-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def lint(self, key_line):
        path = os.path.join(self.tmp, "k.rules")
        with open(path, "w") as f:
            f.write("rule t.k {\n    match /x/\n    category c\n"
                    "    %s\n}\n" % key_line)
        p = subprocess.run([harness.MODGATE, "lint", path],
                           capture_output=True, text=True, timeout=60)
        return p.stdout + p.stderr

    def test_keys_match(self):
        self.assertGreaterEqual(len(self.code), 8, self.code)
        self.assertEqual(self.doc, self.code,
                         "documented %s, parser %s" % (sorted(self.doc),
                                                       sorted(self.code)))

    def test_parser_accepts_documented_keys(self):
        # A bogus key is reported, so the check below can fail.
        self.assertIn("unknown key", self.lint("bogus 1"))
        for key in sorted(self.doc):
            self.assertNotIn("unknown key", self.lint(key + " x"), key)


    def test_examples_pass_lint(self):
        # The rules in EXAMPLES are real rules whose tests pass.
        out = subprocess.run(["mandoc", "-Tascii", os.path.join(
            MAN, "modgate.rules.5")], capture_output=True, text=True,
            timeout=60).stdout
        out = re.sub(r".\x08", "", out).expandtabs()
        ex = out[out.index("\nEXAMPLES\n"):out.index("\nSEE ALSO\n")]
        rules = re.findall(r"(?ms)^ *rule \S+ \{$.*?^ *\}$", ex)
        self.assertGreaterEqual(len(rules), 3, ex)
        path = os.path.join(self.tmp, "examples.rules")
        with open(path, "w") as f:
            f.write("\n".join(rules) + "\n")
        p = subprocess.run([harness.MODGATE, "lint", path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("%d rules OK" % len(rules), p.stdout)


class Metrics(unittest.TestCase):
    def test_every_metric_described(self):
        tmp = tempfile.mkdtemp(prefix="modgate-docs-")
        sock = os.path.join(tmp, "s")
        d = DaemonProcess(["-c", harness.write_config(
            tmp, harness.ops_config(tmp, sock))], logdir=tmp)
        try:
            d.wait_socket(sock)
            c = Client(sock)
            text = c.ask({"op": "metrics"})["metrics"]
            c.close()
        finally:
            d.stop()
            shutil.rmtree(tmp)
        names = re.findall(r"(?m)^# TYPE (\S+) ", text)
        self.assertGreater(len(names), 8)
        page = read("modgated.8")
        for n in names:
            self.assertIn(n, page, "metric %s not in modgated(8)" % n)


class ArchitectureMap(unittest.TestCase):
    """ARCHITECTURE.md stays true: every file it names exists, and it names
    every module of src/ (the subcommands as cmd-*.c)."""

    def test_files(self):
        with open(os.path.join(harness.TOP, "ARCHITECTURE.md")) as f:
            text = f.read()
        named = set(re.findall(r"(?<![\w*-])([a-z0-9][a-z0-9-]*\.[ch])\b",
                               text))
        for name in named:
            where = "include" if name.endswith(".h") else "src"
            self.assertTrue(os.path.exists(os.path.join(harness.TOP, where,
                                                        name)), name)
        for path in glob.glob(os.path.join(harness.TOP, "src", "*.c")):
            name = os.path.basename(path)
            if not name.startswith("cmd-"):
                self.assertIn(name, named, "%s not in ARCHITECTURE.md" % name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
