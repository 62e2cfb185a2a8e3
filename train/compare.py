#!/usr/bin/python3
"""Compare the test AUPRC of two make_model.py runs (their report.json).

  train/compare.py models/default/report.json /tmp/noextra/report.json
"""

import json
import sys


def get(rep, system, part, c):
    """AUPRC of label C (or "any") for the transformer alone or the shipped
    combined score, on the held-out source ("held_source") or with the
    held-out generator's clean answers ("all")."""
    if system == "transformer":
        r = rep["systems"]["transformer"][part]
    else:
        r = rep.get("ngram", {}).get("report", {}).get(
            "src_combined" if part == "held_source" else "combined")
        if r is None:
            return None
    r = r.get("any") if c == "any" else r["per_label"].get(c)
    return None if not r else r.get("auprc")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip())
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
    labels = a["labels"] + ["any"]
    print("| score | category | part | A | B | A - B |")
    print("|---|---|---|---|---|---|")
    for system in ("transformer", "combined"):
        for part in ("held_source", "all"):
            for c in labels:
                x, y = get(a, system, part, c), get(b, system, part, c)
                if x is None or y is None:
                    continue
                print("| %s | %s | %s | %.3f | %.3f | %+.3f |"
                      % (system, c, part, x, y, x - y))
    for name, r in (("A", a), ("B", b)):
        f = r.get("clean_flag_rate", {})
        t = r.get("training", {})
        h = t.get("history", [{}])
        print("%s: clean flagged %.2f%% (rewrite) %.2f%% (block); %s steps; train %.0fs wall %.0fs cpu"
              % (name, 100 * f.get("rewrite", 0), 100 * f.get("block", 0),
                 h[-1].get("steps", "?") if h else "?",
                 t.get("train_wall_s", 0), t.get("train_cpu_s", 0)))


if __name__ == "__main__":
    main()
