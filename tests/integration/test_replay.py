"""test_replay: modgate replay runs the audit log of a real daemon (text
kept) and a JSONL corpus under the current configuration and a candidate,
and reports exactly the verdicts that flip."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import MODGATE, Daemon, base_sections, config_text, merge

EX_CONFIG = 78
RULES = """
rule profanity.darn {
    match /\\bdarn(ed)?\\b/
    category profanity
    action rewrite "d***"
}
rule pii.email {
    match /\\b[a-z0-9.]+@[a-z0-9.]+\\.[a-z]{2,}\\b/i
    on raw
    category pii
    action rewrite "[email]"
}
"""


def replay(*args):
    return subprocess.run([MODGATE, "replay"] + list(args),
                          capture_output=True, text=True, timeout=300)


class Replay(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modgate-replay.")
        self.cur = os.path.join(self.tmp, "current.conf")
        self.cand = os.path.join(self.tmp, "candidate.conf")
        self.rules = os.path.join(self.tmp, "t.rules")
        with open(self.rules, "w") as f:
            f.write(RULES)
        # the candidate lets profanity pass (flags it) and blocks PII
        common = {"classifier": {"enabled": False},
                  "rules": {"paths": [self.rules]},
                  "audit": {"text": "full"}}
        self.common = common
        with open(self.cur, "w") as f:
            f.write(config_text(merge(base_sections(self.tmp), common)))
        with open(self.cand, "w") as f:
            f.write(config_text(merge(base_sections(self.tmp), dict(common, policies={
                "default": {"flag_rule_categories": ["profanity"],
                            "block_rule_categories": ["pii"]},
                "strict": {"on_error": "block"}}))))

    TEXTS = ["hello there", "this darned recipe is amazing",
             "mail bob@corp.io today", "nothing to see"]

    def test_audit_log(self):
        with Daemon(**self.common) as d:
            for i, t in enumerate(self.TEXTS):
                d.ask({"id": "r%d" % i, "text": t})
            self.assertEqual(d.stop(), 0)
            r = replay("-j", "-c", self.cur, "-n", self.cand,
                       d.sections["audit"]["path"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["replayed"], 4, out)
        self.assertGreaterEqual(out["skipped"], 2, out)   # start, stop
        self.assertEqual(out["flips"], {"rewrite->allow": 1,
                                        "rewrite->block": 1}, out)
        got = {(c["id"], c["old"], c["new"]) for c in out["changes"]}
        self.assertEqual(got, {("r1", "rewrite", "allow"),
                               ("r2", "rewrite", "block")})
        c = [c for c in out["changes"] if c["id"] == "r2"][0]
        self.assertEqual(c["new_rules"], ["pii.email"])

    def test_corpus_table(self):
        corpus = os.path.join(self.tmp, "corpus.jsonl")
        with open(corpus, "w") as f:
            for t in self.TEXTS:
                f.write(json.dumps({"text": t}) + "\n")
            f.write("a plain line, skipped\n")
        r = replay("-c", self.cur, "-n", self.cand, corpus)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "4 texts replayed, 1 lines skipped (no "
                         "text), 0 errors; 2 verdicts flip")
        self.assertIn("       1  rewrite -> allow", lines)
        self.assertIn(corpus + ":3: rewrite -> block (rules pii.email -> "
                      "pii.email)", lines)
        # the same config on both sides: nothing flips
        r = replay("-q", "-c", self.cur, "-n", self.cur, corpus)
        self.assertIn("0 verdicts flip", r.stdout)

    def test_errors(self):
        self.assertEqual(replay("-c", self.cur, "x").returncode, 64)
        r = replay("-c", self.cur, "-n", "/nonexistent.conf", "x")
        self.assertEqual(r.returncode, EX_CONFIG)


if __name__ == "__main__":
    unittest.main()
