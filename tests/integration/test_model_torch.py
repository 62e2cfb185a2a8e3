#!/usr/bin/env python3
"""The C classifier against PyTorch, live (CI re-check of the committed
golden fixtures).

1. train/golden.py (PyTorch) rebuilds the tiny random-weight model and its
   expected ids, spans, window logits and scores into a temporary
   directory; `modgate logits` must give the same ids and spans, logits
   within 1e-4, scores within 1e-4 and the same best span; the same for
   its [CLS]-pooling variant with a window-count term (golden.py's DIR-cls).
2. `modgate eval -j` on labelled lines: AUPRC, ROC-AUC and precision,
   recall, F1 recomputed here from the scores `modgate logits` prints.
3. The C tokenizer against the Python one (the golden vocabulary) on 5000
   texts of the shared data (tweets, clean LLM answers) when ../shared/data
   is beside the repository.
4. With models/default present: the C tokenizer against the Python one on
   the held-out validation texts (train/make_model.py --write-val, up to
   1000 lines), and the shipped model's logits on the first 150.

Without ../shared/data, 1 scores the committed fixtures with PyTorch
(golden.py needs the data to rebuild them), 3 is skipped, and 4 uses the
texts of the golden cases.

Standard library only; PyTorch runs in /usr/bin/python3 subprocesses.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

TOP = os.environ.get("MODGATE_TOP") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
MODGATE = os.path.join(TOP, BUILD, "modgate")
PY = "/usr/bin/python3"
SHARED = os.path.join(TOP, "..", "shared", "data")
FIXTURES = os.path.join(TOP, "tests", "data")
TOL = 1e-4
LABELS = ["hate", "harassment", "sexual", "violence", "self_harm",
          "jailbreak"]


def have_torch():
    return subprocess.run([PY, "-c", "import torch"],
                          capture_output=True).returncode == 0


def jsonl(out):
    """The JSON lines of a program's output (split at newlines only: texts
    may hold U+2028 and other characters str.splitlines splits at)."""
    return [json.loads(l) for l in out.decode("utf-8").split("\n") if l]


def run_logits(model, texts, window, stride):
    inp = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    p = subprocess.run([MODGATE, "logits", "-m", model, "-w", str(window),
                        "-s", str(stride)], input=inp.encode(),
                       capture_output=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("modgate logits: %s" % p.stderr.decode())
    return jsonl(p.stdout)


def compare(tc, want, got, stats, logits=True):
    tc.assertEqual(got["ids"], want["ids"], want["text"][:80])
    tc.assertEqual(got["spans"], want["spans"], want["text"][:80])
    if not logits or "windows" not in want:
        return
    tc.assertEqual(len(got["windows"]), len(want["windows"]))
    for gw, ww in zip(got["windows"], want["windows"]):
        tc.assertEqual((gw["start"], gw["len"]), (ww["start"], ww["len"]))
        d = max(abs(a - b) for a, b in zip(gw["logits"], ww["logits"]))
        stats["logits"] = max(stats["logits"], d)
        tc.assertLessEqual(d, TOL, want["text"][:80])
    d = max(abs(a - b) for a, b in zip(got["scores"], want["scores"]))
    stats["scores"] = max(stats["scores"], d)
    tc.assertLessEqual(d, TOL)
    if got["span"] != want["span"]:
        # only a tie may go either way: windows of the same tokens (a run of
        # repeated characters) score alike, and each side may pick any of
        # them; the window C chose must score as the one PyTorch chose
        def window_at(span):
            for w in want["windows"]:
                a, b = w["start"], w["start"] + w["len"] - 2
                if [want["spans"][a][0], want["spans"][b][1]] == list(span):
                    return [*w["logits"], *w.get("ngram", [])]
            tc.fail("no window spans %s: %s" % (span, want["text"][:80]))
        g, t = window_at(got["span"]), window_at(want["span"])
        tc.assertLessEqual(max(abs(a - b) for a, b in zip(g, t)), 2 * TOL,
                           "best span %s, torch %s: %s" % (
                               got["span"], want["span"], want["text"][:80]))


def read_cases(model):
    with open(os.path.join(model, "cases.jsonl"), encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def live_cases(model):
    """PyTorch's cases (train/golden.py --expect) for the texts, windows and
    strides of MODEL's cases.jsonl, in its order."""
    committed = read_cases(model)
    out = [None] * len(committed)
    groups = {}
    for i, c in enumerate(committed):
        groups.setdefault((c["window"], c["stride"]), []).append(i)
    for (w, s), idx in sorted(groups.items()):
        path = os.path.join(model, "texts-%d-%d.jsonl" % (w, s))
        with open(path, "w", encoding="utf-8") as f:
            for i in idx:
                f.write(json.dumps({"text": committed[i]["text"]}) + "\n")
        p = subprocess.run([PY, os.path.join(TOP, "train", "golden.py"),
                            "--expect", model, "--texts", path, "--window",
                            str(w), "--stride", str(s)], capture_output=True,
                           check=True, timeout=600)
        for i, case in zip(idx, jsonl(p.stdout)):
            out[i] = case
    assert None not in out, model
    return out


def average_precision(scores, labels):
    pairs = sorted(zip(scores, labels), key=lambda p: -p[0])
    pos = sum(labels)
    tp = fp = 0
    ap = prev = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            tp += pairs[j][1]
            fp += 1 - pairs[j][1]
            j += 1
        r = tp / pos
        ap += (r - prev) * tp / (tp + fp)
        prev = r
        i = j
    return ap


def roc_auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    win = 0.0
    for p in pos:
        for n in neg:
            win += 1.0 if p > n else 0.5 if p == n else 0.0
    return win / (len(pos) * len(neg))


@unittest.skipUnless(os.path.exists(MODGATE), "no modgate binary")
class ModelTorch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not have_torch():
            raise unittest.SkipTest("python3-torch is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="modgate-golden-")
        if os.path.isdir(SHARED):
            subprocess.run([PY, os.path.join(TOP, "train", "golden.py"),
                            "--out", cls.tmp], check=True, timeout=600)
            cls.cases = read_cases(cls.tmp)
            cls.cls_cases = read_cases(cls.tmp + "-cls")
            return
        # Without the shared data golden.py cannot rebuild the models (their
        # vocabulary comes from it): PyTorch scores the committed ones.
        for name, d in (("model-golden", cls.tmp),
                        ("model-golden-cls", cls.tmp + "-cls")):
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(os.path.join(FIXTURES, name), d)
        cls.cases = live_cases(cls.tmp)
        cls.cls_cases = live_cases(cls.tmp + "-cls")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        shutil.rmtree(cls.tmp + "-cls", ignore_errors=True)

    def golden_live(self, model, cases, least):
        stats = {"logits": 0.0, "scores": 0.0}
        groups = {}
        for c in cases:
            groups.setdefault((c["window"], c["stride"]), []).append(c)
        n = 0
        for (w, s), group in sorted(groups.items()):
            got = run_logits(model, [c["text"] for c in group], w, s)
            self.assertEqual(len(got), len(group))
            for g, c in zip(got, group):
                compare(self, c, g, stats)
                n += 1
        self.assertGreater(n, least)
        print("live %s: %d cases, max |C - torch| logits %.3g, "
              "scores %.3g" % (os.path.basename(model), n, stats["logits"],
                               stats["scores"]), file=sys.stderr)

    def test_golden_live(self):
        self.golden_live(self.tmp, self.cases, 500)

    def test_golden_cls_live(self):
        """[CLS] pooling and the window-count term."""
        self.golden_live(self.tmp + "-cls", self.cls_cases, 130)

    def test_committed_fixtures_match_live(self):
        """The committed fixtures are what golden.py makes today."""
        for name, live in (("model-golden", self.cases),
                           ("model-golden-cls", self.cls_cases)):
            committed = read_cases(os.path.join(TOP, "tests", "data", name))
            self.assertEqual(len(committed), len(live))
            for a, b in zip(committed, live):
                self.assertEqual(a["ids"], b["ids"])
                d = max(abs(x - y) for x, y in zip(a["scores"], b["scores"]))
                self.assertLessEqual(d, TOL)
                for wa, wb in zip(a["windows"], b["windows"]):
                    d = max(abs(x - y) for x, y in zip(wa["logits"],
                                                       wb["logits"]))
                    self.assertLessEqual(d, TOL)

    def test_eval_metrics(self):
        rnd = random.Random(7)
        texts = [c["text"] for c in self.cases if c["window"] == 16]
        lines = []
        for t in texts:
            labs = {k: rnd.randint(0, 1) for k in LABELS
                    if rnd.random() < 0.8}
            lines.append({"text": t, "labels": labs})
        path = os.path.join(self.tmp, "eval.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for l in lines:
                f.write(json.dumps(l) + "\n")
        p = subprocess.run([MODGATE, "eval", "-j", "-m", self.tmp, path],
                           capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        rep = json.loads(p.stdout)
        self.assertEqual(rep["lines"], len(lines))
        # eval without -c: window = max_positions (32), stride 24
        got = run_logits(self.tmp, texts, 32, 24)
        for j, lab in enumerate(LABELS):
            sc = [g["scores"][j] for g, l in zip(got, lines)
                  if lab in l["labels"]]
            ys = [l["labels"][lab] for l in lines if lab in l["labels"]]
            m = rep["categories"][lab]
            self.assertEqual(m["n"], len(ys))
            self.assertEqual(m["positives"], sum(ys))
            self.assertAlmostEqual(m["auprc"], average_precision(sc, ys), 5)
            self.assertAlmostEqual(m["roc_auc"], roc_auc(sc, ys), 5)
            tp = sum(1 for s, y in zip(sc, ys) if s >= 0.5 and y)
            fp = sum(1 for s, y in zip(sc, ys) if s >= 0.5 and not y)
            fn = sum(1 for s, y in zip(sc, ys) if s < 0.5 and y)
            self.assertAlmostEqual(m["precision"], tp / (tp + fp), 5)
            self.assertAlmostEqual(m["recall"], tp / (tp + fn), 5)
            self.assertAlmostEqual(m["f1"], 2 * tp / (2 * tp + fp + fn), 5)
        anys = [max(g["scores"]) for g in got]
        # any: positive when some label is 1, negative when all six are 0
        anyy = [1 if 1 in l["labels"].values() else
                0 if len(l["labels"]) == len(LABELS) else None
                for l in lines]
        keep = [(s, y) for s, y in zip(anys, anyy) if y is not None]
        self.assertEqual(rep["any"]["n"], len(keep))
        self.assertAlmostEqual(rep["any"]["auprc"], average_precision(
            [s for s, _ in keep], [y for _, y in keep]), 5)
        self.assertAlmostEqual(rep["any"]["roc_auc"], roc_auc(
            [s for s, _ in keep], [y for _, y in keep]), 5)

    @unittest.skipUnless(os.path.isdir(SHARED), "../shared/data absent")
    def test_tokenizer_corpus(self):
        data = SHARED
        texts = []
        with open(os.path.join(data, "davidson", "labeled_data.csv"),
                  newline="", encoding="utf-8") as f:
            import csv
            for i, row in enumerate(csv.DictReader(f)):
                if i >= 3000:
                    break
                texts.append(row["tweet"])
        with open(os.path.join(data, "alpacaeval-outputs",
                               "alpacaeval_outputs_5models.jsonl"),
                  encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 2000:
                    break
                texts.append(json.loads(line)["output"])
        texts = [t for t in texts if "\0" not in t]
        path = os.path.join(self.tmp, "corpus.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        p = subprocess.run([PY, os.path.join(TOP, "train", "golden.py"),
                            "--expect", self.tmp, "--texts", path,
                            "--logits", "0"], capture_output=True,
                           check=True, timeout=600)
        want = jsonl(p.stdout)
        with open(path, "rb") as f:
            inp = f.read()
        p = subprocess.run([MODGATE, "logits", "-t", "-m", self.tmp],
                           input=inp, capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        got = jsonl(p.stdout)
        self.assertEqual(len(got), len(want))
        ntok = 0
        for w, g in zip(want, got):
            compare(self, w, g, None, logits=False)
            ntok += len(w["ids"])
        print("tokenizer: %d texts, %d tokens alike" % (len(want), ntok),
              file=sys.stderr)

    def test_bad_eval_line(self):
        path = os.path.join(self.tmp, "bad.jsonl")
        with open(path, "w") as f:
            f.write('{"text": "fine", "labels": {"hate": 1}}\n')
            f.write('{"text": 3}\n')
            f.write('{"text": "x", "labels": {"hate": 2}}\n')
            f.write('not json\n')
            f.write('{"text": "ok", "labels": {"hate": 0}}\n')
        p = subprocess.run([MODGATE, "eval", "-j", "-m", self.tmp, path],
                           capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        rep = json.loads(p.stdout)
        self.assertEqual((rep["lines"], rep["skipped"]), (2, 3))
        err = p.stderr.decode()
        for n in (2, 3, 4):
            self.assertIn("bad.jsonl:%d:" % n, err)


SHIPPED = os.path.join(TOP, "models", "default")


@unittest.skipUnless(os.path.exists(os.path.join(SHIPPED,
                                                 "model.safetensors")),
                     "no shipped model yet")
@unittest.skipUnless(os.path.exists(MODGATE), "no modgate binary")
class ShippedModel(unittest.TestCase):
    def test_tokenizer_and_logits(self):
        if not have_torch():
            self.skipTest("python3-torch is not installed")
        tmp = tempfile.mkdtemp(prefix="modgate-val-")
        try:
            if os.path.isdir(SHARED):
                val = os.path.join(tmp, "val.jsonl")
                subprocess.run([PY, os.path.join(TOP, "train",
                                                 "make_model.py"),
                                "--write-val", val], check=True, timeout=900,
                               capture_output=True)
            else:       # the golden cases' texts stand in for held-out ones
                val = os.path.join(FIXTURES, "model-golden", "cases.jsonl")
            texts = []
            with open(val, encoding="utf-8") as f:
                for line in f:
                    texts.append(json.loads(line)["text"])
                    if len(texts) == 1000:
                        break
            self.assertGreater(len(texts), 100)
            small = os.path.join(tmp, "texts.jsonl")
            with open(small, "w", encoding="utf-8") as f:
                for t in texts:
                    f.write(json.dumps({"text": t}) + "\n")
            p = subprocess.run([PY, os.path.join(TOP, "train", "golden.py"),
                                "--expect", SHIPPED, "--texts", small,
                                "--window", "128", "--stride", "96",
                                "--logits", "150"], capture_output=True,
                               check=True, timeout=1200)
            want = jsonl(p.stdout)
            got = run_logits(SHIPPED, texts, 128, 96)
            stats = {"logits": 0.0, "scores": 0.0}
            for w, g in zip(want, got):
                compare(self, w, g, stats)
            print("shipped model: %d texts tokenized alike, max |C - torch|"
                  " logits %.3g, scores %.3g on the first 150" % (
                      len(texts), stats["logits"], stats["scores"]),
                  file=sys.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
