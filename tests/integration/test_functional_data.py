#!/usr/bin/env python3
"""The functional test suite itself (tests/data/functional/): every file
parses, every case has its fields, ids are unique, every pair exists and
names its case back, every functionality has enough cases, identity_neutral
covers enough terms (train/functional.py check()); and that check finds each
kind of defect in a small suite written here.  Standard library only."""

import json
import os
import shutil
import sys
import tempfile
import unittest

TOP = os.environ.get("MODGATE_TOP") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "train"))

import functional  # noqa: E402

ZERO = {k: 0 for k in functional.LABELS}


def case(func, n, text, pair, harm=None, **extra):
    labels = dict(ZERO)
    if harm:
        labels[harm] = 1
    c = {"id": "%s-%03d" % (func, n), "functionality": func, "text": text,
         "labels": labels, "pair": "%s-%03d" % (func, pair)}
    c.update(extra)
    return c


def good_suite(func="threats"):
    """MIN_CASES cases of FUNC in pairs: odd harmful, even harmless."""
    out = []
    for i in range(1, functional.MIN_CASES + 1, 2):
        out.append(case(func, i, "I will hurt you, %s %d" % (func, i), i + 1,
                        "violence"))
        out.append(case(func, i + 1, "I will help you, %s %d" % (func, i), i))
    return out


class Suite(unittest.TestCase):
    def test_shipped_suite(self):
        errs = functional.check(functional.load())
        self.assertEqual(errs, [], "\n".join(errs[:40]))

    def test_cli(self):
        import subprocess
        p = subprocess.run([sys.executable, os.path.join(
            TOP, "train", "functional.py"), "--check"], capture_output=True,
            timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode())


class Defects(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="modgate-func-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def run_check(self, files):
        for name, lines in files.items():
            with open(os.path.join(self.dir, name + ".jsonl"), "w",
                      encoding="utf-8") as f:
                for l in lines:
                    f.write((l if isinstance(l, str) else json.dumps(l)) +
                            "\n")
        return functional.check(functional.load(self.dir))

    def assert_finds(self, files, *words):
        errs = self.run_check(files)
        self.assertTrue(errs, "no problem found")
        text = "\n".join(errs)
        for w in words:
            self.assertIn(w, text)

    def test_good(self):
        self.assertEqual(self.run_check({"threats": good_suite()}), [])

    def test_bad_json(self):
        s = good_suite()
        s[3] = '{"id": "threats-004", '
        self.assert_finds({"threats": s}, "threats.jsonl:4: not a JSON")

    def test_missing_label(self):
        s = good_suite()
        del s[5]["labels"]["jailbreak"]
        self.assert_finds({"threats": s}, "threats.jsonl:6:", "labels")

    def test_label_not_int(self):
        s = good_suite()
        s[0]["labels"]["violence"] = True
        self.assert_finds({"threats": s}, "threats.jsonl:1:", "labels")

    def test_duplicate_id(self):
        s = good_suite()
        s.append(dict(s[0], text="another text"))
        self.assert_finds({"threats": s}, "threats.jsonl:%d: id threats-001"
                          % len(s))

    def test_pair_missing(self):
        s = good_suite()
        s[0]["pair"] = "threats-999"
        self.assert_finds({"threats": s}, "pair threats-999 does not exist")

    def test_pair_not_back(self):
        s = good_suite()
        s[2]["pair"] = "threats-002"      # 002 names 001, not 003
        self.assert_finds({"threats": s}, "threats.jsonl:3:", "names "
                          "threats-001 back")

    def test_pair_self(self):
        s = good_suite()
        s[0]["pair"] = s[0]["id"]
        self.assert_finds({"threats": s}, "its own pair")

    def test_too_few(self):
        s = good_suite()[:-2]
        self.assert_finds({"threats": s}, "threats.jsonl: %d cases" %
                          (functional.MIN_CASES - 2))

    def test_wrong_functionality(self):
        s = good_suite()
        s[1]["functionality"] = "idioms"
        self.assert_finds({"threats": s}, "threats.jsonl:2:",
                          "not the file's name")

    def test_bad_id(self):
        s = good_suite()
        s[1]["id"] = "idioms-002"
        self.assert_finds({"threats": s}, "threats.jsonl:2: id")

    def test_unknown_field_and_text(self):
        s = good_suite()
        s[0]["lables"] = {}
        s[1]["text"] = " padded "
        self.assert_finds({"threats": s}, "unknown field lables",
                          "threats.jsonl:2: text")

    def test_same_text(self):
        s = good_suite()
        s[4]["text"] = s[0]["text"]
        self.assert_finds({"threats": s}, "same text as threats.jsonl:1")

    def test_cross_file_pair(self):
        a, b = good_suite("aa"), good_suite("bb")
        a[0]["pair"], b[0]["pair"] = "bb-001", "aa-001"
        a[1]["pair"], b[1]["pair"] = "bb-002", "aa-002"
        self.assertEqual(self.run_check({"aa": a, "bb": b}), [])

    def test_identity_coverage(self):
        s = good_suite(functional.IDENTITY_FILE)
        for i, c in enumerate(s):
            c["identity"] = "group%d" % (i % 10)
        self.assert_finds({functional.IDENTITY_FILE: s}, "10 identity terms")
        del s[7]["identity"], s[17]["identity"]
        self.assert_finds({functional.IDENTITY_FILE: s},
                          "identity_neutral.jsonl:8: no identity term",
                          "group7")


if __name__ == "__main__":
    unittest.main()
