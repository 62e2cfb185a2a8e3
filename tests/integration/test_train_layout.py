#!/usr/bin/env python3
"""The training code's own contracts, without training anything:
train/sources.tsv parses and maps every label a loader can emit; the
modules of train/ import one another without a cycle and none is named
after a Python builtin or standard module; the mapping of a few rows of
each kind comes out as the taxonomy says (train/TAXONOMY.md); the shipped
policies carry the shipped model's thresholds."""
import ast
import builtins
import os
import sys
import unittest

TOP = os.environ.get("MODGATE_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TRAIN = os.path.join(TOP, "train")
sys.path.insert(0, TRAIN)
import data as D  # noqa: E402  (no torch needed)


def local_imports(path, names):
    """The modules of train/ that the file at path imports."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in names}
        elif isinstance(node, ast.ImportFrom) and node.module in names:
            out.add(node.module)
    return out


def find_cycle(graph):
    """A list of modules forming an import cycle, or None."""
    state = {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                c = visit(n, stack + [n])
                if c:
                    return c
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            c = visit(m, [m])
            if c:
                return c
    return None


class Layout(unittest.TestCase):
    def modules(self):
        return {f[:-3] for f in os.listdir(TRAIN) if f.endswith(".py")}

    def test_no_import_cycle(self):
        names = self.modules()
        graph = {m: local_imports(os.path.join(TRAIN, m + ".py"), names) - {m} for m in names}
        self.assertIsNone(find_cycle(graph))
        # the checker itself finds a cycle when there is one
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"a"}}), ["a", "b", "a"])

    def test_no_module_shadows_builtin_or_stdlib(self):
        std = set(sys.stdlib_module_names) | set(dir(builtins))
        self.assertEqual(sorted(self.modules() & std), [])


class Table(unittest.TestCase):
    def setUp(self):
        self.table = D.load_table()

    def test_every_category_column_and_role(self):
        for key, t in self.table.items():
            self.assertIn(t["role"], D.ROLES, key)
            if t["role"] == "positive" and not t["row"]:
                self.assertIn(1, t["labels"].values(), key)
            if t["role"] in ("negative", "hard_negative"):
                self.assertNotIn(1, t["labels"].values(), key)

    def test_taxonomy_choices(self):
        # profanity-laden "offensive" is not harassment: text only
        self.assertEqual(self.table[("davidson", "offensive")]["role"], "pretrain")
        # counter-speech and identity mentions are clean hard negatives
        for key in (("crowdcounter", "counterspeech"), ("holisticbias", "neutral"),
                    ("hatexplain", "normal"), ("cssrs", "supportive")):
            t = self.table[key]
            self.assertEqual(t["role"], "hard_negative", key)
            self.assertEqual(sorted(t["labels"].values()), [0] * 6, key)
        # self-harm disclosure is self_harm
        self.assertEqual(self.table[("cssrs", "ideation")]["labels"]["self_harm"], 1)

    def test_apply_maps_and_rejects_unknown(self):
        rows = [D.raw("some text", "davidson", "hate"),
                D.raw("more text", "davidson", "offensive"),
                D.raw("a reply", "crowdcounter", "counterspeech")]
        pre = []
        out = D.apply_table(rows, self.table, pre)
        self.assertEqual(pre, ["more text"])
        self.assertEqual([e["labels"].get("hate") for e in out], [1, 0])
        self.assertNotIn("harassment", out[0]["labels"])      # unknown, masked
        self.assertEqual(out[1]["role"], "hard_negative")
        with self.assertRaises(SystemExit):
            D.apply_table([D.raw("x", "davidson", "no-such-label")], self.table)


TORCH_PY = "/usr/bin/python3"     # Debian's python3-torch


def pretrain_resume_check():
    """Pretrain a tiny encoder 6 steps at once, and 3 steps then 3 more from
    the checkpoint: the weights must be equal, and must have moved.  Run
    under Debian's Python (python3-torch); prints "equal" or raises."""
    import tempfile
    import torch
    import pretrain as PT
    import tokenizer as TK
    from model import Encoder
    texts = ["case %d: the quick brown fox jumps over the lazy dog" % i for i in range(200)]
    tok = TK.train(texts, vocab_size=200)
    quiet = open(os.devnull, "w")

    def encoder():
        torch.manual_seed(1)
        return Encoder(len(tok), 16, 1, 2, 32, 16, 6, 1e-5, 0.1, "cls")
    ck = os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
    whole = encoder()
    PT.pretrain(whole, tok, texts, 6, batch=4, log=quiet)

    def at3(m, head, opt, step):
        if step == 3:
            PT.save_checkpoint(ck, m, head, opt, step, {})
    PT.pretrain(encoder(), tok, texts, 6, batch=4, checkpoint=at3, every=3, log=quiet)
    state = torch.load(ck)
    assert state["step"] == 3
    resumed = encoder()
    PT.pretrain(resumed, tok, texts, 6, batch=4, resume=state, log=quiet)
    a, b, c = whole.state_dict(), resumed.state_dict(), encoder().state_dict()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) == 0.0, "resumed run differs"
    assert max(float((a[k] - c[k]).abs().max()) for k in a) > 0.0, "weights did not move"
    print("equal")


@unittest.skipUnless(os.path.exists(TORCH_PY), "no %s" % TORCH_PY)
class PretrainResume(unittest.TestCase):
    def test_resumed_run_equals_uninterrupted(self):
        import subprocess
        p = subprocess.run([TORCH_PY, os.path.abspath(__file__), "--pretrain-resume"],
                           capture_output=True, text=True, timeout=300)
        if "No module named 'torch'" in p.stderr:
            self.skipTest("python3-torch is not installed")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "equal"), p.stderr[-2000:])


@unittest.skipUnless(os.path.exists(TORCH_PY), "no %s" % TORCH_PY)
class MissingData(unittest.TestCase):
    """Training without its data ends with one line saying what it needs."""

    def run_tool(self, *args):
        import subprocess
        p = subprocess.run([TORCH_PY] + list(args), capture_output=True, text=True,
                           timeout=120, cwd=TOP)
        if "No module named 'torch'" in p.stderr:
            self.skipTest("python3-torch is not installed")
        self.assertEqual(p.returncode, 1, p.stderr[-2000:])
        self.assertNotIn("Traceback", p.stderr)
        return p.stderr.strip().splitlines()[-1]

    def test_make_model_missing_file(self):
        last = self.run_tool("train/make_model.py", "--data", "/nonexistent/x.jsonl",
                             "--out", "/nonexistent/out")
        self.assertEqual(last, "/nonexistent/x.jsonl: No such file or directory")

    def test_make_model_missing_directory(self):
        last = self.run_tool("train/make_model.py", "--shared", "/nonexistent",
                             "--out", "/nonexistent/out")
        self.assertIn("data directory /nonexistent not found", last)

    def test_pretrain_missing_directory(self):
        last = self.run_tool("train/pretrain.py", "--shared", "/nonexistent",
                             "--out", "/nonexistent/out")
        self.assertIn("needs the data directory /nonexistent", last)


class ShippedPolicies(unittest.TestCase):
    def test_conf_has_model_thresholds(self):
        import shutil
        import subprocess
        import tempfile
        tool = os.path.join(TOP, "scripts", "policy-thresholds.py")
        model = os.path.join(TOP, "models", "default")
        conf = os.path.join(TOP, "etc", "modgated.conf")
        p = subprocess.run([sys.executable, tool, "--check", model, conf],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        # and the check fails on a conf whose default policy was edited
        tmp = tempfile.mkdtemp()
        try:
            bad = os.path.join(tmp, "modgated.conf")
            with open(conf) as f:
                text = f.read()
            i = text.index("categories = {", text.index("default: {"))
            j = text.index("rewrite = ", i)
            with open(bad, "w") as f:
                f.write(text[:j] + "rewrite = 0.0001; #" + text[j:])
            p = subprocess.run([sys.executable, tool, "--check", model, bad],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 1)
        finally:
            shutil.rmtree(tmp)


@unittest.skipUnless(os.path.isdir(D.DEFAULT_DATA), "../shared/data absent")
class SharedData(unittest.TestCase):
    def test_small_sources_map_completely(self):
        # every label these loaders emit has a row (a full load_shared is
        # what make model does; these are the sources with derived labels)
        rows = D.load_shared(only={"jbb", "guest", "edos", "cssrs", "counsel-chat", "rbr-gold",
                                   "advbench", "spam"}, log=None)
        kinds = {(e["source"].split(":")[0], e["role"]) for e in rows}
        self.assertIn(("cssrs", "positive"), kinds)
        self.assertIn(("counsel-chat", "hard_negative"), kinds)
        self.assertIn(("spamassassin", "positive"), kinds)


if __name__ == "__main__":
    if sys.argv[1:] == ["--pretrain-resume"]:
        pretrain_resume_check()
    else:
        unittest.main(verbosity=2)
