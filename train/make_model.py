#!/usr/bin/python3
"""Train, calibrate, evaluate and export a modgate classifier.

  make model                       # the shipped model, from ../shared/data
  train/make_model.py --data my.jsonl --out models/mine [--minutes 30]
  train/make_model.py --write-val build/val.jsonl     # the held-out split only

With no --data the corpus is ../shared/data mapped as described in data.py
plus train/extra/*.jsonl; the held-out source and generator (test split) are
only used for the report in the model card.  With --data FILE.jsonl (one
{"text": ..., "labels": {"cat": 0|1, ...}} per line) the labels are those of
the file and 10% + 10% of it (by text hash, or "group" when given) become the
tune and test splits.

Deterministic for a given corpus and options (fixed seeds), unless a
--minutes cap cuts training short.  Fine-tuning starts from the pretrained
base model models/base (make pretrain, train/pretrain.py) when it exists;
without one, or with --from-scratch, the vocabulary and co-occurrence
embeddings are learned here from the training split.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np
import torch

import data as D
import metrics
import report
from thresholds import choose_thresholds
import tokenizer as TK
import train as TR
from cpu_threads import use_threads
from model import DEFAULT_HP, export


BASE = os.path.join(HERE, "..", "models", "base")


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="labelled JSONL to train on instead of ../shared/data")
    ap.add_argument("--shared", default=D.DEFAULT_DATA, help="shared data directory")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "default"))
    ap.add_argument("--minutes", type=float, default=0.0,
                    help="optional wall-clock cap on pretraining and training (default "
                    "none: the planned steps are run, so the result does not depend on "
                    "the machine's speed)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-extra", action="store_true", help="leave train/extra out")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--ngram-baseline", action="store_true",
                    help="also train eval.py's n-gram logistic regression as a baseline (the "
                    "n-gram head's own column already gives a bag-of-n-grams model)")
    ap.add_argument("--write-val", metavar="FILE",
                    help="write the held-out (test) split as eval JSONL and exit")
    ap.add_argument("--write-tune", metavar="FILE",
                    help="write the tune split as eval JSONL and exit")
    ap.add_argument("--reuse", metavar="DIR",
                    help="skip training: recalibrate, re-threshold and re-evaluate the model in DIR")
    ap.add_argument("--init", metavar="DIR", default=BASE if os.path.exists(
                        os.path.join(BASE, "model.safetensors")) else None,
                    help="start from the weights and vocabulary of the model in DIR (default: "
                    "the pretrained base model models/base, made by make pretrain, when present)")
    ap.add_argument("--from-scratch", dest="init", action="store_const", const=None,
                    help="do not start from the base model: learn a vocabulary and "
                    "co-occurrence embeddings here")
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)   # smoke tests
    ap.add_argument("--hp", default="", help="overrides, e.g. d_model=192,n_layers=4")
    return ap.parse_args()


def write_eval(rows, path):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for e in rows:
            f.write(json.dumps({"text": e["text"], "labels": e["labels"]},
                               ensure_ascii=False) + "\n")
    print("wrote %d rows to %s" % (len(rows), path), file=sys.stderr)


def main():
    a = parse()
    use_threads(a.threads)
    t_start = time.time()
    c_start = time.process_time()
    load_start = os.getloadavg()
    hp = dict(DEFAULT_HP)
    for kv in filter(None, a.hp.split(",")):
        k, v = kv.split("=")
        hp[k] = type(DEFAULT_HP[k])(v) if k in DEFAULT_HP else float(v)
    if a.epochs:
        hp["epochs"] = a.epochs

    print("loading data", file=sys.stderr)
    if a.data:
        rows = D.load_jsonl(a.data)
        train_rows, tune_rows, test_rows = D.user_split(rows)
        seen = []
        for e in rows:
            for c in e["labels"]:
                if c not in seen:
                    seen.append(c)
        labels = [c for c in D.LABELS if c in seen] + sorted(c for c in seen if c not in D.LABELS)
        if not labels or len(labels) > 16:
            raise SystemExit("need 1..16 label names in %s" % a.data)
    else:
        rows = D.load_shared(a.shared, extras=not a.no_extra)
        train_rows, tune_rows, test_rows = D.split_corpus(rows)
        labels = list(D.LABELS)
    if a.write_val:
        write_eval(test_rows, a.write_val)
        return
    if a.write_tune:
        write_eval(tune_rows, a.write_tune)
        return
    if a.limit:
        import random
        r = random.Random(a.seed)
        train_rows = r.sample(train_rows, min(a.limit, len(train_rows)))
        tune_rows = r.sample(tune_rows, min(a.limit // 4, len(tune_rows)))
    if a.data:
        clean_tune = np.array([all(v == 0 for v in e["labels"].values()) for e in tune_rows])
        clean_test = np.array([all(v == 0 for v in e["labels"].values()) for e in test_rows])
    else:
        clean_tune = np.array([D.is_clean_answer(e) for e in tune_rows])
        clean_test = np.array([D.is_clean_answer(e) for e in test_rows])
    for name, part in (("train", train_rows), ("tune", tune_rows), ("test", test_rows)):
        pos, known = D.label_counts(part)
        print("%-5s %6d  %s" % (name, len(part), " ".join(
            "%s=%d/%d" % (c, pos.get(c, 0), known.get(c, 0)) for c in labels)), file=sys.stderr)

    prev = {}
    extra = {}
    if a.reuse:
        from model import load
        model, tok, cfg = load(a.reuse)
        if cfg["labels"] != labels:
            raise SystemExit("%s: labels %s differ from the data's" % (a.reuse, cfg["labels"]))
        try:
            with open(os.path.join(a.reuse, "report.json")) as f:
                prev = json.load(f).get("training", {})
        except (OSError, ValueError):
            pass
        hp = prev.get("hp", hp)
        history = prev.get("history", [])
        t_train_wall = prev.get("train_wall_s", 0.0)
        c_train = prev.get("train_cpu_s", 0.0)
    else:
        init = None
        if a.init:
            from model import load
            init, tok, cfg = load(a.init)
            for k in ("d_model", "n_layers", "n_heads", "d_ff", "vocab_size"):
                hp[k] = cfg[k]
            hp["pooling"] = cfg.get("pooling", "mean")
            print("starting from %s" % a.init, file=sys.stderr)
        else:
            print("training the tokenizer", file=sys.stderr)
            t0 = time.time()
            tok = TK.train([e["text"] for e in train_rows], vocab_size=hp["vocab_size"])
            print("vocabulary %d entries (%.0fs)" % (len(tok), time.time() - t0), file=sys.stderr)

        pre = None
        if init is None and (hp.get("embed_init") or hp.get("pretrain_steps", 0) > 0):
            import pretrain as PT
            from model import Encoder
            torch.manual_seed(a.seed)
            init = Encoder(len(tok), hp["d_model"], hp["n_layers"], hp["n_heads"], hp["d_ff"],
                           hp["window"], len(labels), 1e-5, hp.get("dropout", 0.1),
                           hp.get("pooling", "mean"))
            texts = PT.unlabelled_texts(train_rows)
            pre = {}
            if hp.get("embed_init"):
                pre["embed"] = PT.embed_init(init, tok, texts, seed=a.seed)
            if hp.get("pretrain_steps", 0) > 0:
                pre["mlm"] = PT.pretrain(init, tok, texts, int(hp["pretrain_steps"]),
                                         int(hp.get("pretrain_batch", 64)),
                                         hp.get("pretrain_lr", 1e-3), seed=a.seed)
        deadline = None
        if a.minutes > 0:
            budget = a.minutes * 60 - (time.time() - t_start)
            deadline = time.time() + max(60.0, budget)
        model, history = TR.train(train_rows, tune_rows, tok, hp, seed=a.seed,
                                  deadline=deadline, labels=labels, init=init, extra=extra)
        t_train_wall = time.time() - t_start
        c_train = time.process_time() - c_start

    print("calibrating on the tune split", file=sys.stderr)
    W, S = hp["window"], hp["eval_stride"]
    z_tune = extra.get("tune_logits")     # the same windows, scored at model selection
    if z_tune is None:
        z_tune = TR.doc_logits(model, tok, [e["text"] for e in tune_rows], W, S, progress="tune")
    scale, bias = [], []
    for j, c in enumerate(labels):
        idx = [i for i, e in enumerate(tune_rows) if c in e["labels"]]
        y = np.array([tune_rows[i]["labels"][c] for i in idx])
        s_, b_ = metrics.fit_platt(z_tune[idx, j], y)
        scale.append(s_)
        bias.append(b_)
    cal = {"scale": scale, "bias": bias}
    p_tune = 1 / (1 + np.exp(-(z_tune * np.array(scale) + np.array(bias))))
    rew, blk = choose_thresholds(labels, p_tune, tune_rows, clean_tune)
    flag_tune = float((p_tune[clean_tune] >= np.array(rew)).any(axis=1).mean()) if clean_tune.any() else None

    out = os.path.abspath(a.out)
    export(model, tok, labels, cal, out)
    thr = {"labels": labels, "rewrite": dict(zip(labels, rew)), "block": dict(zip(labels, blk)),
           "window": W, "stride": S}
    with open(os.path.join(out, "thresholds.json"), "w") as f:
        json.dump(thr, f, indent=2)
        f.write("\n")
    print("exported to %s" % out, file=sys.stderr)

    res = report.full_report(out, train_rows, tune_rows, test_rows, labels, clean_test,
                               baselines=False if a.no_baselines else
                               (True if a.ngram_baseline else "keywords"))
    res["training"] = {"hp": hp, "history": history, "train_wall_s": t_train_wall,
                       "pretrain": prev.get("pretrain") if a.reuse else pre,
                       "train_cpu_s": c_train,
                       "total_wall_s": prev.get("total_wall_s") if a.reuse else time.time() - t_start,
                       "total_cpu_s": prev.get("total_cpu_s") if a.reuse else time.process_time() - c_start,
                       "recalibrated_s": time.time() - t_start if a.reuse else None,
                       "threads": a.threads, "seed": a.seed,
                       "tune_clean_flag_rate": flag_tune,
                       "n_train": len(train_rows), "n_tune": len(tune_rows),
                       "n_test": len(test_rows), "shared_data": not a.data,
                       "extras": not a.no_extra and not a.data}
    if a.init:
        res["training"]["init"] = init_note(a.init, history, hp, a.seed, t_train_wall, c_train)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    report.write_card(out, res, thr)
    print(report.table(res), file=sys.stderr)
    # the hashed n-gram head, combined with the transformer (train/ngram.py):
    # it rewrites thresholds.json and adds its section to the model card
    import ngram
    ngram.add_head(out, train_rows, tune_rows, test_rows, labels, clean_tune, clean_test,
                   seed=a.seed, baselines=False)
    wall, cpu = time.time() - t_start, time.process_time() - c_start
    finish_card(out, wall, cpu, a.reuse, (load_start, os.getloadavg()))
    print("done in %.0fs wall, %.0fs cpu" % (wall, cpu), file=sys.stderr)


def init_note(init, history, hp, seed, wall, cpu):
    """One sentence for the model card on the weights fine-tuning started
    from: a pretrained base model (pretrain.json) or a trained model."""
    steps = (history or [{}])[-1].get("steps", "?")
    try:
        with open(os.path.join(init, "pretrain.json")) as f:
            p = json.load(f)
        m = p.get("mlm", {})
        return ("Fine-tuned from the pretrained base model %s (`make pretrain`: %d texts, "
                "co-occurrence embeddings, then %s steps of %s windows of masked-token "
                "prediction, final masked-token accuracy %.3f; %.0f s wall, %.0f s CPU), for %s "
                "steps (seed %s, lr %s; %.0f s wall, %.0f s CPU)."
                % (os.path.basename(os.path.normpath(init)), p.get("texts", 0),
                   m.get("steps"), m.get("batch"), m.get("acc_last") or 0, p.get("wall_s", 0),
                   p.get("cpu_s", 0), steps, seed, hp.get("lr"), wall, cpu))
    except (OSError, ValueError):
        pass
    return ("Continued from the weights of %s (`--init`) for %s steps (seed %s, lr %s; "
            "%.0f s wall, %.0f s CPU)." % (init, steps, seed, hp.get("lr"), wall, cpu))


def finish_card(out, wall, cpu, reused, load=None):
    """Record the whole run's time (and the machine's load average at its
    start and end) in report.json and MODEL_CARD.md."""
    rp = os.path.join(out, "report.json")
    with open(rp) as f:
        rep = json.load(f)
    tr = rep.setdefault("training", {})
    if not reused:
        tr["whole_run_wall_s"], tr["whole_run_cpu_s"] = wall, cpu
        if load:
            tr["load_average"] = {"start": list(load[0]), "end": list(load[1])}
    w = tr.get("whole_run_wall_s")
    with open(rp, "w") as f:
        json.dump(rep, f, indent=1)
        f.write("\n")
    cp = os.path.join(out, "MODEL_CARD.md")
    with open(cp) as f:
        card = f.read()
    la = tr.get("load_average")
    card = card.replace(report.WHOLE_RUN, (
        "%.0f s wall, %.0f s CPU%s" % (w, tr["whole_run_cpu_s"], (
            " (1-minute load average of the machine %.1f at the start, %.1f at the end)"
            % (la["start"][0], la["end"][0])) if la else "")) if w else "not recorded")
    with open(cp, "w") as f:
        f.write(card)


if __name__ == "__main__":
    main()
