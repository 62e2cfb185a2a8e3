#!/usr/bin/env python3
"""modgate eval per functionality, on a fixture written here and the small
golden model (tests/data/model-golden):

1. With a config: a case is flagged when the pipeline does not allow it or
   flags a model category.  The figures eval reports per functionality
   (cases, harmful, harmless, harmless flagged, harmful caught, shares, and
   the "all" row) are recomputed here from the scores `modgate logits`
   prints, the policy's thresholds and a rule that blocks, and checked
   against the verdicts `modgate scan` gives on the same config.
2. Without a config: flagged when some score reaches 0.5.
3. The table names each functionality with the same figures; a line whose
   functionality is not a string is a bad line.
Standard library only."""

import json
import os
import subprocess
import tempfile
import unittest

from harness import MODGATE, TOP, base_sections, config_text, merge

GOLDEN = os.path.join(TOP, "tests", "data", "model-golden")
LABELS = ["hate", "harassment", "sexual", "violence", "self_harm",
          "jailbreak"]
WINDOW, STRIDE = 32, 24
WORDS = ("the quiet river carried small boats past old mills and the "
         "children waved from a bridge while rain fell on red roofs and "
         "a dog barked at nobody in particular near the market").split()


def labels(harm):
    d = {k: 0 for k in LABELS}
    if harm:
        d[harm] = 1
    return d


def fixture():
    """Cases of three functionalities, lines without one, a line with
    partial labels, and a few texts the site rule blocks."""
    out = []
    for i in range(36):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(3 + i % 9)]
        if i % 11 == 4:
            words.insert(1, "forbiddenword")
        func = ("alpha", "beta", "gamma")[i % 3]
        harm = ("hate", "violence", None, None)[i % 4]
        line = {"text": " ".join(words), "labels": labels(harm),
                "functionality": func}
        if i % 13 == 12:
            del line["functionality"]
        if i == 17:
            line["labels"] = {"hate": 0}    # neither harmful nor harmless
        out.append(line)
    return out


def run(*args, stdin=None):
    return subprocess.run([MODGATE] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=300)


def scores(lines):
    inp = "".join(json.dumps({"text": l["text"]}) + "\n" for l in lines)
    p = run("logits", "-m", GOLDEN, "-w", str(WINDOW), "-s", str(STRIDE),
            stdin=inp)
    assert p.returncode == 0, p.stderr
    return [json.loads(l)["scores"] for l in p.stdout.splitlines()]


def thresholds(sc):
    """Per label, a cut between two distinct scores near the 80th
    percentile (never equal to a score)."""
    out = []
    for j in range(len(LABELS)):
        v = sorted(set(s[j] for s in sc))
        k = int(len(v) * 0.8)
        out.append((v[k - 1] + v[k]) / 2)
    return out


def expected(lines, flags):
    groups = {}
    for l, f in zip(lines, flags):
        if "functionality" not in l:
            continue
        g = groups.setdefault(l["functionality"], dict(
            n=0, harmful=0, harmless=0, harmless_flagged=0,
            harmful_caught=0))
        g["n"] += 1
        ys = [l["labels"].get(k) for k in LABELS]
        if 1 in ys:
            g["harmful"] += 1
            g["harmful_caught"] += f
        elif all(y == 0 for y in ys):
            g["harmless"] += 1
            g["harmless_flagged"] += f
    return groups


class EvalFunctional(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpd = tempfile.TemporaryDirectory(prefix="modgate-evalf-")
        cls.tmp = cls.tmpd.name
        cls.lines = fixture()
        cls.path = os.path.join(cls.tmp, "cases.jsonl")
        with open(cls.path, "w") as f:
            for l in cls.lines:
                f.write(json.dumps(l) + "\n")
        cls.scores = scores(cls.lines)
        cls.thr = thresholds(cls.scores)
        with open(os.path.join(cls.tmp, "site.rules"), "w") as f:
            f.write("rule site.block {\n  match /forbiddenword/\n"
                    "  category testing\n  action block\n}\n")
        cats = {k: {"block": 0.999, "rewrite": t}
                for k, t in zip(LABELS, cls.thr)}
        cats["jailbreak"] = {"block": cls.thr[5], "rewrite": cls.thr[5]}
        conf = merge(base_sections(cls.tmp), {
            "rules": {"paths": [os.path.join(cls.tmp, "site.rules")]},
            "classifier": {"model": GOLDEN, "window": WINDOW,
                           "stride": STRIDE},
            "policies": {"default": {"categories": cats}}})
        cls.conf = os.path.join(cls.tmp, "modgated.conf")
        with open(cls.conf, "w") as f:
            f.write(config_text(conf))

    @classmethod
    def tearDownClass(cls):
        cls.tmpd.cleanup()

    def check_report(self, rep, want):
        got = rep["functional"]["functionalities"]
        self.assertEqual(list(got), ["alpha", "beta", "gamma"])
        total = dict.fromkeys(want["alpha"], 0)
        for name, w in want.items():
            g = got[name]
            for k, v in w.items():
                self.assertEqual(g[k], v, "%s %s" % (name, k))
                total[k] += v
            self.assertAlmostEqual(g["harmless_flagged_share"],
                                   w["harmless_flagged"] / w["harmless"], 5)
            self.assertAlmostEqual(g["harmful_caught_share"],
                                   w["harmful_caught"] / w["harmful"], 5)
        for k, v in total.items():
            self.assertEqual(rep["functional"]["all"][k], v, k)

    def test_with_config(self):
        flags = [int("forbiddenword" in l["text"] or
                     any(x >= t for x, t in zip(s, self.thr)))
                 for l, s in zip(self.lines, self.scores)]
        want = expected(self.lines, flags)
        # the fixture has flagged and unflagged cases on both sides
        tot = {k: sum(g[k] for g in want.values()) for k in want["alpha"]}
        self.assertTrue(0 < tot["harmless_flagged"] < tot["harmless"], tot)
        self.assertTrue(0 < tot["harmful_caught"] < tot["harmful"], tot)
        self.assertEqual(tot["n"], tot["harmful"] + tot["harmless"] + 1)
        # the daemon's own verdicts on the same config agree
        p = run("scan", "-q", "-c", self.conf, self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        ans = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(flags, [int(a["verdict"] != "allow" or
                                     bool(set(a["flagged"]) & set(LABELS)))
                                 for a in ans])
        p = run("eval", "-j", "-c", self.conf, self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.check_report(json.loads(p.stdout), want)

    def test_without_config(self):
        flags = [int(any(x >= 0.5 for x in s)) for s in self.scores]
        want = expected(self.lines, flags)
        p = run("eval", "-j", "-m", GOLDEN, self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.check_report(json.loads(p.stdout), want)

    def test_table(self):
        p = run("eval", "-c", self.conf, self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        rep = json.loads(run("eval", "-j", "-c", self.conf,
                             self.path).stdout)["functional"]
        rows = {l.split()[0]: l.split() for l in p.stdout.splitlines()
                if l.split() and l.split()[0] in ("alpha", "beta", "gamma",
                                                  "all")}
        for name in ("alpha", "beta", "gamma", "all"):
            g = rep["all"] if name == "all" else rep["functionalities"][name]
            self.assertEqual(rows[name][1:], [
                str(g["n"]), str(g["harmful"]), str(g["harmless"]),
                str(g["harmless_flagged"]),
                "%.3f" % g["harmless_flagged_share"],
                str(g["harmful_caught"]),
                "%.3f" % g["harmful_caught_share"]])

    def test_no_functionality(self):
        path = os.path.join(self.tmp, "plain.jsonl")
        with open(path, "w") as f:
            f.write('{"text": "a plain line", "labels": {"hate": 0}}\n')
        p = run("eval", "-j", "-m", GOLDEN, path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("functional", json.loads(p.stdout))
        p = run("eval", "-m", GOLDEN, path)
        self.assertNotIn("functionality", p.stdout)

    def test_bad_functionality(self):
        path = os.path.join(self.tmp, "bad.jsonl")
        with open(path, "w") as f:
            f.write('{"text": "ok", "labels": {"hate": 0}, '
                    '"functionality": "alpha"}\n')
            f.write('{"text": "x", "labels": {"hate": 1}, '
                    '"functionality": 7}\n')
        p = run("eval", "-j", "-m", GOLDEN, path)
        self.assertNotEqual(p.returncode, 0)
        rep = json.loads(p.stdout)
        self.assertEqual((rep["lines"], rep["skipped"]), (1, 1))
        self.assertIn("bad.jsonl:2:", p.stderr)
        self.assertEqual(rep["functional"]["functionalities"]["alpha"]["n"],
                         1)


if __name__ == "__main__":
    unittest.main()
