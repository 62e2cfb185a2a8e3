#!/usr/bin/python3
"""What each group of sources adds: the n-gram head trained on the training
split with and without each group, scored on the held-out test split
(pyrit-scorer-evals and the held-out chat models' clean answers) and on the
functional suite (tests/data/functional/*.jsonl).

  train/ablation.py [--json OUT] [--card MODEL_DIR] [--threads N]

The learner is the n-gram head (ngram.py), which trains in a few minutes
without the transformer's scoring passes; a group's effect on it is a lower bound
on what the group teaches (a bag of n-grams cannot learn counter-speech, for
one).  Figures: any-category AUPRC on each evaluation set, per category on
the test split.
"""

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as D  # noqa: E402
from cpu_threads import use_threads  # noqa: E402
import metrics  # noqa: E402
import ngram as NG  # noqa: E402

GROUPS = {
    "identity and counter-speech": ["holisticbias", "bold-wikipedia", "crowdcounter", "toxigen"],
    "forum hate": ["hatexplain", "stormfront", "ghc"],
    "self-harm disclosure and support": ["cssrs", "counsel-chat", "rbr-gold", "suicide-lexicon"],
    "sexual spam": ["spamassassin", "sms-spam", "decodingtrust"],
    "history, dialogue, role-play": ["sotu", "pd-books", "kjv", "sgd-dialogues",
                                     "gpteacher-roleplay"],
}
FUNCTIONAL = os.path.join(HERE, "..", "tests", "data", "functional")


def functional_rows(path=FUNCTIONAL):
    rows = []
    for p in sorted(glob.glob(os.path.join(path, "*.jsonl"))):
        for r in D._jsonl(p):
            rows.append({"text": r["text"], "labels": r["labels"],
                         "functionality": r.get("functionality")})
    return rows


def scores(fz, w, b, rows):
    return NG.head_logits(fz, w, b, [e["text"] for e in rows])


def figures(rows, z):
    rep = metrics.report(D.LABELS, [e["labels"] for e in rows], z)
    out = {"any": rep.get("any", {}).get("auprc")}
    for c, r in rep["per_label"].items():
        if r["auprc"] is not None and r["pos"]:
            out[c] = r["auprc"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=D.DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--card", metavar="DIR")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    use_threads(a.threads)
    tr, _tu, te = D.split_corpus(D.load_shared(a.shared))
    fun = functional_rows()
    fz = NG.Featurizer(NG.DEFAULT_BUCKETS)
    feats = [fz.ids(e["text"]) or [] for e in tr]
    res = {}
    for name, srcs in [("all sources", [])] + list(GROUPS.items()):
        keep = [i for i, e in enumerate(tr)
                if e["source"].split(":")[0].split("+")[0] not in srcs]
        print("%s: training on %d of %d rows" % (name, len(keep), len(tr)), file=sys.stderr)
        w, b = NG.train_head(fz, [tr[i] for i in keep], D.LABELS, seed=a.seed,
                             feats=[feats[i] for i in keep])
        res[name] = {"n_train": len(keep), "test": figures(te, scores(fz, w, b, te))}
        if fun:
            res[name]["functional"] = figures(fun, scores(fz, w, b, fun))
        print(json.dumps({name: res[name]}), file=sys.stderr)
    text = table(res)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    if a.card:
        from card import put_card_section
        put_card_section(a.card, "\n".join([
            "## What each group of sources adds", "",
            "`train/ablation.py`: the n-gram head (a bag of n-grams, a lower bound on what a group "
            "teaches the transformer) trained on the training split without each group of "
            "sources, any-category AUPRC on the held-out test split and on the functional suite.",
            "", text, ""]))


def _f(x):
    return "-" if x is None else "%.3f" % x


def table(res):
    base = res["all sources"]
    lines = ["| trained without | rows | test any | functional any | test per category |",
             "|---|---|---|---|---|"]
    for name, r in res.items():
        per = " ".join("%s %.2f" % (c, r["test"][c]) for c in D.LABELS if c in r["test"])
        d = "" if name == "all sources" or r["test"]["any"] is None else " (%+.3f)" % (
            r["test"]["any"] - base["test"]["any"])
        fa = r.get("functional", {}).get("any")
        fd = "" if name == "all sources" or fa is None else " (%+.3f)" % (
            fa - base["functional"]["any"])
        lines.append("| %s | %d | %s%s | %s%s | %s |" % (
            "nothing (all sources)" if name == "all sources" else name, r["n_train"],
            _f(r["test"]["any"]), d, _f(fa), fd, per))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
