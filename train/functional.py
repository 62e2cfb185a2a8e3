#!/usr/bin/python3
"""The functional test suite (tests/data/functional/, format in its README).

  train/functional.py --check [DIR]

checks the suite and prints one line per problem (exit 1 when there is one).
Standard library only.
"""

import argparse
import json
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.path.join(TOP, "tests", "data", "functional")
LABELS = ("hate", "harassment", "sexual", "violence", "self_harm",
          "jailbreak")
FIELDS = {"id", "functionality", "text", "labels", "pair"}
OPTIONAL = {"identity"}
MIN_CASES = 40          # per functionality
IDENTITY_FILE = "identity_neutral"
IDENTITY_TERMS = 30     # distinct terms in IDENTITY_FILE ...
IDENTITY_USES = 3       # ... each on at least this many cases
NAME = re.compile(r"^[a-z0-9_]+$")
ID = re.compile(r"^([a-z0-9_]+)-([0-9]{3,})$")


def load(suite=SUITE):
    """Every case of SUITE as (file, line number, parsed object or None)."""
    out = []
    for name in sorted(os.listdir(suite)):
        if not name.endswith(".jsonl"):
            continue
        path = os.path.join(suite, name)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                out.append((name, n, obj if isinstance(obj, dict) else None))
    return out


def harmful(case):
    return any(case["labels"][k] for k in LABELS)


def case_errors(name, case):
    """Problems of one parsed CASE of file NAME, on its own."""
    stem = name[:-len(".jsonl")]
    errs = []
    keys = set(case)
    if FIELDS - keys:
        errs.append("missing %s" % ", ".join(sorted(FIELDS - keys)))
    if keys - FIELDS - OPTIONAL:
        errs.append("unknown field %s" % ", ".join(sorted(keys - FIELDS -
                                                           OPTIONAL)))
    if not NAME.match(stem):
        errs.append("file name must be [a-z0-9_]+.jsonl")
    if case.get("functionality") != stem:
        errs.append("functionality %r is not the file's name %r" %
                    (case.get("functionality"), stem))
    m = ID.match(case.get("id")) if isinstance(case.get("id"), str) else None
    if not m or m.group(1) != stem:
        errs.append("id %r is not %s-NNN" % (case.get("id"), stem))
    t = case.get("text")
    if not isinstance(t, str) or not t.strip() or t != t.strip():
        errs.append("text must be a non-empty string without leading or "
                    "trailing white space")
    labs = case.get("labels")
    if not isinstance(labs, dict) or set(labs) != set(LABELS) or any(
            type(labs[k]) is not int or labs[k] not in (0, 1) for k in labs):
        errs.append("labels must give all of %s as 0 or 1" % ", ".join(LABELS))
    if not isinstance(case.get("pair"), str):
        errs.append("pair must be an id")
    ident = case.get("identity")
    if "identity" in case and (not isinstance(ident, str) or not ident or
                               ident != ident.strip().lower()):
        errs.append("identity must be a lower-case term")
    return errs


def check(cases):
    """Problems of the suite CASES (from load) as "file:line: message"."""
    errs, byid, texts, count = [], {}, {}, {}
    good = []
    for name, n, case in cases:
        where = "%s:%d" % (name, n)
        if case is None:
            errs.append("%s: not a JSON object" % where)
            continue
        e = case_errors(name, case)
        errs += ["%s: %s" % (where, x) for x in e]
        count[name[:-6]] = count.get(name[:-6], 0) + 1
        if e:
            continue
        if case["id"] in byid:
            errs.append("%s: id %s also at %s" % (where, case["id"],
                                                 byid[case["id"]][0]))
            continue
        if case["text"] in texts:
            errs.append("%s: same text as %s" % (where, texts[case["text"]]))
        texts[case["text"]] = where
        byid[case["id"]] = (where, case)
        good.append((where, case))
    for where, case in good:
        twin = byid.get(case["pair"])
        if case["pair"] == case["id"]:
            errs.append("%s: %s is its own pair" % (where, case["id"]))
        elif twin is None:
            errs.append("%s: pair %s does not exist" % (where, case["pair"]))
        elif twin[1]["pair"] != case["id"]:
            errs.append("%s: pair %s names %s back, not %s" % (
                where, case["pair"], twin[1]["pair"], case["id"]))
    for func, k in sorted(count.items()):
        if k < MIN_CASES:
            errs.append("%s.jsonl: %d cases, fewer than %d" % (func, k,
                                                                MIN_CASES))
    if IDENTITY_FILE in count:
        uses = {}
        for where, case in good:
            if case["functionality"] == IDENTITY_FILE:
                if "identity" not in case:
                    errs.append("%s: no identity term" % where)
                else:
                    uses[case["identity"]] = uses.get(case["identity"], 0) + 1
        rare = sorted(t for t, k in uses.items() if k < IDENTITY_USES)
        if rare:
            errs.append("%s.jsonl: terms on fewer than %d cases: %s" % (
                IDENTITY_FILE, IDENTITY_USES, ", ".join(rare)))
        if len(uses) < IDENTITY_TERMS:
            errs.append("%s.jsonl: %d identity terms, fewer than %d" % (
                IDENTITY_FILE, len(uses), IDENTITY_TERMS))
    return errs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="check the suite and exit")
    ap.add_argument("suite", nargs="?", default=SUITE)
    a = ap.parse_args()
    errs = check(load(a.suite))
    for e in errs:
        print(e)
    if a.check:
        return 1 if errs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
