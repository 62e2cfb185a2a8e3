#!/usr/bin/env python3
"""eval-pii: recall and false positives of rules/pii.rules per entity type on
../shared/data/presidio-pii/synth_dataset_v2.json (1,500 synthetic sentences
with gold PII spans), through `modgate scan -R` (the real rules stage).

    make && scripts/eval-pii.py [--modgate build/modgate] [--rules rules/pii.rules]

A gold span counts as found when a hit of a rule for its type overlaps it
(exact: the hit has the same boundaries, surrounding blanks ignored).  A hit
is a false positive when it overlaps no gold span of its rule's type; those
are split into hits on other PII (e.g. a phone rule on a card number) and
hits on text that is no PII at all.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULE_TYPE = {
    "pii.email": "EMAIL_ADDRESS",
    "pii.phone": "PHONE_NUMBER",
    "pii.phone-context": "PHONE_NUMBER",
    "pii.card": "CREDIT_CARD",
    "pii.iban": "IBAN_CODE",
    "pii.ipv4": "IP_ADDRESS",
    "pii.ipv6": "IP_ADDRESS",
    "pii.ssn": "US_SSN",
}


def byte_span(text, start, end):
    return (len(text[:start].encode()), len(text[:end].encode()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modgate", default=os.path.join(TOP, "build", "modgate"))
    ap.add_argument("--rules", default=os.path.join(TOP, "rules", "pii.rules"))
    ap.add_argument("--data", default=os.path.join(
        TOP, "..", "shared", "data", "presidio-pii", "synth_dataset_v2.json"))
    ap.add_argument("--clean", default=os.path.join(
        TOP, "..", "shared", "data", "alpacaeval-outputs",
        "alpacaeval_outputs_5models.jsonl"),
        help="JSONL of ordinary answers (\"output\") for false positives")
    ap.add_argument("--show", type=int, default=0,
                    help="print this many misses and false positives per type")
    args = ap.parse_args()
    data = json.load(open(args.data, encoding="utf-8"))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False,
                                     encoding="utf-8") as f:
        for i, d in enumerate(data):
            f.write(json.dumps({"id": i, "text": d["full_text"]}) + "\n")
        path = f.name
    out = subprocess.run([args.modgate, "scan", "-q", "-R", args.rules, path],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(path)
    hits = collections.defaultdict(list)
    for line in out.splitlines():
        a = json.loads(line)
        for m in a.get("matches", []):
            hits[a["id"]].append((m["rule"], m["start"], m["end"]))
    gold_n = collections.Counter()
    found = collections.Counter()
    exact = collections.Counter()
    fp_other = collections.Counter()
    fp_none = collections.Counter()
    tp_hits = collections.Counter()
    misses = collections.defaultdict(list)
    fps = collections.defaultdict(list)
    for i, d in enumerate(data):
        text = d["full_text"]
        btext = text.encode()
        gold = []
        for s in d["spans"]:
            a, b = byte_span(text, s["start_position"], s["end_position"])
            gold.append((s["entity_type"], a, b))
        hs = hits.get(i, [])
        for t, a, b in gold:
            if t not in RULE_TYPE.values():
                continue
            gold_n[t] += 1
            ov = [(r, x, y) for r, x, y in hs
                  if RULE_TYPE.get(r) == t and x < b and y > a]
            if ov:
                found[t] += 1
                g = btext[a:b].strip()
                if any(btext[x:y].strip() == g for _, x, y in ov):
                    exact[t] += 1
            else:
                misses[t].append(btext[a:b].decode())
        for r, x, y in hs:
            t = RULE_TYPE.get(r)
            if t is None:
                continue
            if any(gt == t and x < b and y > a for gt, a, b in gold):
                tp_hits[t] += 1
            elif any(x < b and y > a for _, a, b in gold):
                fp_other[t] += 1
                other = [gt for gt, a, b in gold if x < b and y > a]
                fps[t].append(btext[x:y].decode() + "  (%s)" % other[0])
            else:
                fp_none[t] += 1
                fps[t].append(btext[x:y].decode())
    print("%-14s %5s %7s %7s %8s %9s %9s %9s" % (
        "entity", "gold", "found", "recall", "exact", "hits", "FP:pii",
        "FP:none"))
    for t in sorted(set(RULE_TYPE.values())):
        n = gold_n[t]
        print("%-14s %5d %7d %6.1f%% %7.1f%% %9d %9d %9d" % (
            t, n, found[t], 100.0 * found[t] / n if n else 0,
            100.0 * exact[t] / n if n else 0,
            tp_hits[t] + fp_other[t] + fp_none[t], fp_other[t], fp_none[t]))
        for s in misses[t][:args.show]:
            print("    miss: %r" % s)
        for s in fps[t][:args.show]:
            print("    fp:   %r" % s)
    print("sentences: %d; hits on other entity types (person, address, "
          "date, ...) count as FP:pii" % len(data))
    if args.clean and os.path.exists(args.clean):
        clean(args)


def clean(args):
    """Hits on ordinary chatbot answers (alpacaeval-outputs, no PII
    expected): every hit is a false positive or an example in the text."""
    n = 0
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False,
                                     encoding="utf-8") as f:
        for line in open(args.clean, encoding="utf-8"):
            rec = json.loads(line)
            f.write(json.dumps({"id": n, "text": rec["output"]}) + "\n")
            n += 1
        path = f.name
    out = subprocess.run([args.modgate, "scan", "-q", "-R", args.rules, path],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(path)
    per = collections.Counter()
    ex = collections.defaultdict(list)
    size = 0
    for line in out.splitlines():
        a = json.loads(line)
        for m in a.get("matches", []):
            per[m["rule"]] += 1
            ex[m["rule"]].append(m.get("excerpt", ""))
    print("clean answers (%s): %d" % (os.path.basename(args.clean), n))
    for r in sorted(RULE_TYPE):
        print("  %-18s %4d hits  %s" % (r, per[r], ex[r][:args.show or 3]))


if __name__ == "__main__":
    sys.exit(main())
