#!/usr/bin/env python3
"""rule-hit-rates: how often each rule pack hits, and changes, clean LLM
answers and the functional suite; the figures of rules/README.md.

    make && scripts/rule-hit-rates.py [-r RULES] [-c CONF] [-p POLICY ...]
                                      [-d DATA] [-f FUNCTIONAL]

Runs `modgate scan` with the rules stage alone (the config CONF, default
etc/modgated.conf, with its rule paths set to RULES/*.rules, default
rules/, and the classifier off) under each POLICY (default: default and
family) over

  clean   the "output" of every answer in DATA/alpacaeval-outputs/*.jsonl
          and DATA/unlabelled/alpacaeval-more-generators/*.jsonl (DATA:
          ../shared/data), answers of ordinary chat models to ordinary
          requests, where every hit is a false positive or close to one;
  functional  tests/data/functional/*.jsonl (when there), split into the
          cases labelled harmful in some category and the harmless ones.

For each pack (rule file) it prints the share of texts with a hit of any
of its rules (any mode or action) and the share the policy changes
(an enforce-mode hit whose action, after the policy's overrides, is block
or rewrite), then the share of texts the policy's rules change at all.
"""
import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean_texts(data):
    files = sorted(glob.glob(os.path.join(data, "alpacaeval-outputs", "*.jsonl")) +
                   glob.glob(os.path.join(data, "unlabelled",
                                          "alpacaeval-more-generators", "*.jsonl")))
    out = []
    for f in files:
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            if isinstance(d.get("output"), str) and d["output"].strip():
                out.append((d["output"], None))
    return out


def functional_texts(path):
    out = []
    for f in sorted(glob.glob(os.path.join(path, "*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            out.append((d["text"], any(v == 1 for v in d["labels"].values())))
    return out


def packs(rules):
    """rule id -> pack (file name without .rules)."""
    m = {}
    for f in sorted(glob.glob(os.path.join(rules, "*.rules"))):
        name = os.path.basename(f)[:-6]
        for line in open(f, encoding="utf-8"):
            r = re.match(r"rule\s+(\S+)\s*\{", line)
            if r:
                m[r.group(1)] = name
    return m


def config(conf, rules, tmp):
    """CONF with its rules at RULES and no classifier, paths absolute."""
    text = open(conf, encoding="utf-8").read()
    base = os.path.dirname(os.path.abspath(conf))
    text = re.sub(r'"(\.\./[^"]*)"',
                  lambda m: '"%s"' % os.path.normpath(os.path.join(base, m.group(1))),
                  text)
    text = re.sub(r"(?m)^(\s*paths\s*=\s*)\[[^\]]*\];",
                  lambda m: '%s[ "%s/*.rules" ];' % (m.group(1), os.path.abspath(rules)),
                  text)
    text = re.sub(r"(?ms)^(classifier:\s*\{.*?)enabled\s*=\s*true;",
                  r"\1enabled = false;", text)
    text = re.sub(r"(?ms)^(http:\s*\{.*?)enabled\s*=\s*true;",
                  r"\1enabled = false;", text)
    path = os.path.join(tmp, "modgated.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def scan(modgate, conf, policy, texts, tmp):
    inp = os.path.join(tmp, "in.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for i, (t, _) in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": t}) + "\n")
    p = subprocess.run([modgate, "scan", "-q", "-c", conf, "-p", policy, inp],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("modgate scan: %s" % p.stderr)
    return [json.loads(l) for l in p.stdout.splitlines()]


def tally(answers, idx, pack_of):
    """(per-pack hits, per-pack changes, texts changed) over IDX."""
    hit, changed = collections.Counter(), collections.Counter()
    any_changed = 0
    for i in idx:
        a = answers[i]
        hp, cp = set(), set()
        for m in a.get("matches", []):
            p = pack_of.get(m["rule"], "?")
            hp.add(p)
            if not m.get("monitor") and m["action"] in ("block", "rewrite"):
                cp.add(p)
        hit.update(hp)
        changed.update(cp)
        any_changed += a.get("verdict") != "allow"
    return hit, changed, any_changed


def pct(n, d):
    return "%.2f%% (%d)" % (100.0 * n / d, n) if d else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-r", "--rules", default=os.path.join(TOP, "rules"))
    ap.add_argument("-c", "--conf", default=os.path.join(TOP, "etc", "modgated.conf"))
    ap.add_argument("-p", "--policy", action="append")
    ap.add_argument("-d", "--data", default=os.path.join(TOP, "..", "shared", "data"))
    ap.add_argument("-f", "--functional",
                    default=os.path.join(TOP, "tests", "data", "functional"))
    ap.add_argument("--modgate", default=os.path.join(TOP, "build", "modgate"))
    a = ap.parse_args()
    pack_of = packs(a.rules)
    names = sorted(set(pack_of.values()))
    sets = [("clean LLM answers", clean_texts(a.data))]
    fn = functional_texts(a.functional)
    if fn:
        sets.append(("functional, harmful", [x for x in fn if x[1]]))
        sets.append(("functional, harmless", [x for x in fn if not x[1]]))
    with tempfile.TemporaryDirectory() as tmp:
        conf = config(a.conf, a.rules, tmp)
        for policy in a.policy or ["default", "family"]:
            for label, texts in sets:
                answers = scan(a.modgate, conf, policy, texts, tmp)
                hit, ch, n = tally(answers, range(len(texts)), pack_of)
                print("\n%s, %d texts, policy %s:" % (label, len(texts), policy))
                print("| pack | texts hit | texts changed |\n|---|---|---|")
                for p in names:
                    print("| %s | %s | %s |" % (p, pct(hit[p], len(texts)),
                                               pct(ch[p], len(texts))))
                print("| all | %s | %s |" % (
                    pct(sum(1 for x in answers if x.get("matches")), len(texts)),
                    pct(n, len(texts))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
