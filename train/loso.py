#!/usr/bin/python3
"""Leave-one-source-out validation: for each family of sources
(train/sources.tsv, column family), train without it and test on it.

  train/loso.py [--families tweets,self-harm] [--model DIR] [--json OUT]

The learner is the n-gram head of the shipped model's format (ngram.py:
hashed word and character n-grams, one logistic output per category),
trained on the labelled rows outside the family (all splits, the held-out
test sources included, since here the family is the test; at most --cap
rows of each source), then scored on all of the family's rows: any-category AUPRC (metrics.report) and per category.
With --model DIR the same table is also given for that model as it is (not
retrained: a model trained on the family measures less than a true hold-out;
say so wherever those figures are shown).  Prints a Markdown table and the
worst family.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import data as D  # noqa: E402
from cpu_threads import use_threads  # noqa: E402
import metrics  # noqa: E402
import ngram as NG  # noqa: E402

# families that hold both harmful and clean rows (an AUPRC needs both)
FAMILIES = ["tweets", "forum-hate", "toxic-comments", "chatbot", "llm-harm",
            "self-harm", "sexual-spam", "identity", "jailbreak"]


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=D.DEFAULT_DATA)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--model", help="also score this model directory on each family")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cap", type=int, default=5000,
                    help="at most this many training rows of each source (a seeded sample)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--card", metavar="DIR",
                    help="put the table into DIR/MODEL_CARD.md as its own section")
    return ap.parse_args()


def model_scores(modeldir, texts):
    """Calibrated combined scores of a model directory, as the daemon
    gives them ([n, L])."""
    import model as M
    model, tok, cfg = M.load(modeldir)
    with open(os.path.join(modeldir, "thresholds.json")) as f:
        thr = json.load(f)
    weight, bias, ng = NG.load_head(modeldir)
    fz = NG.Featurizer(ng["buckets"])
    wins = NG.window_logits(model, tok, fz, weight, bias, texts, thr["window"], thr["stride"],
                            context=ng.get("context", "text"))
    p, _ = NG.doc_scores(wins, ng["combine"])
    return p


def family_report(rows, scores):
    rep = metrics.report(D.LABELS, [e["labels"] for e in rows], scores)
    out = {"n": len(rows), "any": rep.get("any", {}).get("auprc"),
           "any_pos": rep.get("any", {}).get("pos")}
    for c, r in rep["per_label"].items():
        if r["auprc"] is not None and r["pos"]:
            out[c] = r["auprc"]
    return out


def main():
    a = parse()
    use_threads(a.threads)
    tr, tu, te = D.split_corpus(D.load_shared(a.shared))
    rows = tr + tu + te
    by = {}
    for i, e in enumerate(rows):
        by.setdefault(e["source"].split(":")[0].split("+")[0], []).append(i)
    capped = set()
    for src, idx in sorted(by.items()):
        capped.update(D._sample(idx, a.cap, "loso:" + src))
    fz = NG.Featurizer(NG.DEFAULT_BUCKETS)
    feats = [fz.ids(e["text"]) or [] for e in rows]
    res = {}
    for fam in a.families.split(","):
        held = [i for i, e in enumerate(rows) if e.get("family") == fam]
        rest = [i for i, e in enumerate(rows) if e.get("family") != fam and i in capped]
        if not held:
            raise SystemExit("no rows of family %s" % fam)
        print("family %s: %d held out, training on %d" % (fam, len(held), len(rest)),
              file=sys.stderr)
        w, b = NG.train_head(fz, [rows[i] for i in rest], D.LABELS, epochs=a.epochs,
                             seed=a.seed, feats=[feats[i] for i in rest])
        held = [rows[i] for i in held]
        z = NG.head_logits(fz, w, b, [e["text"] for e in held])
        res[fam] = {"ngram_loso": family_report(held, z)}
        if a.model:
            res[fam]["model"] = family_report(held, model_scores(a.model, [e["text"] for e in held]))
        print(json.dumps({fam: res[fam]}), file=sys.stderr)
    print(table(res))
    if a.card:
        from card import put_card_section
        put_card_section(a.card, card_section(res, a.model))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")


def card_section(res, modeldir):
    return "\n".join([
        "## Leave-one-source-out validation", "",
        "`train/loso.py`: for each family of sources (train/sources.tsv), a learner trained "
        "without it and tested on it. The learner is the n-gram head alone (hashed word and "
        "character n-grams, one logistic output per category, uncalibrated; the maximum over "
        "categories for the any-category figure), since training the transformer once per "
        "family does not fit the time of one run." +
        (" The `model` column scores the model of this directory as it is: it was trained on "
         "the family's other rows, so it is not a hold-out figure." if modeldir else ""), "",
        table(res), ""])


def _f(x):
    return "-" if x is None else "%.3f" % x


def table(res):
    systems = [s for s in ("ngram_loso", "model") if any(s in r for r in res.values())]
    head = "| held-out family | n (harmful) | " + " | ".join(
        "any AUPRC (%s)" % s for s in systems) + " | per category (%s) |" % systems[0]
    lines = [head, "|" + "---|" * (3 + len(systems))]
    for fam, r in res.items():
        first = r[systems[0]]
        per = " ".join("%s %.2f" % (c, first[c]) for c in D.LABELS if c in first)
        lines.append("| %s | %d (%s) | %s | %s |" % (
            fam, first["n"], first.get("any_pos"),
            " | ".join(_f(r[s]["any"]) for s in systems), per))
    for s in systems:
        vals = [(r[s]["any"], fam) for fam, r in res.items() if r[s]["any"] is not None]
        if vals:
            lo = min(vals)
            lines.append("\nworst (%s): %s, any-category AUPRC %.3f; mean %.3f" % (
                s, lo[1], lo[0], float(np.mean([v for v, _ in vals]))))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
