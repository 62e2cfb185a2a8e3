#!/usr/bin/python3
"""What train/extra adds, measured cheaply with the hashed n-gram logistic
model (same split, same seed, trained with and without the extra files):
test AUPRC per category on the held-out source and with the held-out
generator's clean answers.  The transformer comparison needs two full
make_model.py runs (with and without --no-extra) and train/compare.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


from cpu_threads import use_threads
import data as D
import report as E
import metrics


def main():
    use_threads(2)
    res = {}
    for extras in (True, False):
        tr, tu, te = D.split_corpus(D.load_shared(extras=extras, log=None), log=None)
        m = E.train_ngram(tr, D.LABELS)
        s = E.ngram_scores(m, [e["text"] for e in te])
        held = [i for i, e in enumerate(te) if not e["source"].startswith("alpacaeval")]
        res[extras] = (metrics.report(D.LABELS, [te[i]["labels"] for i in held], s[held]),
                       metrics.report(D.LABELS, [e["labels"] for e in te], s))
    print("| category | held-out source: with | without | + held-out generator: with | without |")
    print("|---|---|---|---|---|")
    for c in D.LABELS + ["any"]:
        vals = []
        for part in (0, 1):
            for extras in (True, False):
                r = res[extras][part]
                r = r.get("any") if c == "any" else r["per_label"][c]
                vals.append(r.get("auprc") if r else None)
        if all(v is None for v in vals):
            continue
        print("| %s | %s |" % (c, " | ".join("-" if v is None else "%.3f" % v for v in vals)))


if __name__ == "__main__":
    main()
