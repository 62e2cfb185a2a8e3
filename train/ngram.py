#!/usr/bin/python3
"""The hashed n-gram linear head of modgate-encoder-v1 (train/FORMAT.md,
"n-gram head"): featurizer (the reference the C engine matches), training,
the per-label combination with the transformer fitted on the tune split,
export into an existing model directory, and the held-out report.

  train/ngram.py --model models/default [--buckets 262144] [--seed 1]

Adds (or replaces) the head in that directory: ngram.weight/ngram.bias in
model.safetensors, "ngram" in config.json, thresholds.json recomputed for
the combined score with make_model.py's rules, report.json["ngram"], and
the "Combined score" section of MODEL_CARD.md.  Deterministic for a given
model, corpus and seed.
"""

import argparse
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import tokenizer as T  # noqa: E402
from cpu_threads import use_threads  # noqa: E402

FEATURES = "fnv1a32:w1,w2,c3,c4/sqrt"
DEFAULT_BUCKETS = 1 << 18
FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193

# ---------------------------------------------------------------------------
# featurizer

_ASCII_WORDS = re.compile(r"[a-z0-9]+|[^a-z0-9\t\n\x0b\x0c\r ]")


def words(text):
    """FORMAT.md tokenizer steps 1-2: the lowercased words of text."""
    if text.isascii():      # same result, faster
        return _ASCII_WORDS.findall(text.lower())
    return [w for w, _, _, _ in T.pretokenize(text)]


def fnv1a(b):
    h = FNV_OFFSET
    for c in b:
        h = ((h ^ c) * FNV_PRIME) & 0xFFFFFFFF
    return h


class Featurizer:
    """Feature strings of a text (with repeats, in order) and their buckets."""

    def __init__(self, buckets):
        self.buckets = buckets
        self._cache = {}

    def strings(self, text):
        ws = words(text)
        out = []
        for i, w in enumerate(ws):
            out.append("w:" + w)
            if i + 1 < len(ws):
                out.append("b:" + w + " " + ws[i + 1])
            if len(w) > 3:
                p = "<" + w + ">"
                for n in (3, 4):
                    for k in range(len(p) - n + 1):
                        out.append("c:" + p[k:k + n])
        return out

    def ids(self, text):
        c = self._cache
        out = []
        for f in self.strings(text):
            h = c.get(f)
            if h is None:
                h = fnv1a(f.encode("utf-8")) % self.buckets
                if len(c) < 4000000:
                    c[f] = h
            out.append(h)
        return out


def head_logits(fz, weight, bias, texts):
    """z_ngram [n, L] (float64) for texts, weight [buckets, L] numpy."""
    out = np.zeros((len(texts), weight.shape[1]), dtype=np.float64)
    for i, t in enumerate(texts):
        ids = fz.ids(t)
        if ids:
            out[i] = weight[ids].astype(np.float64).sum(0) / math.sqrt(len(ids))
        out[i] += bias
    return out


# ---------------------------------------------------------------------------
# training (as train/report.py's baseline: Adam, class weights, 4 epochs)

def _batch(feats):
    flat = torch.tensor([i for x in feats for i in x], dtype=torch.long)
    off = torch.tensor(np.cumsum([0] + [len(x) for x in feats[:-1]]), dtype=torch.long)
    psw = torch.tensor([1.0 / math.sqrt(len(x)) for x in feats for _ in x],
                       dtype=torch.float32)
    return flat, off, psw


def train_head(fz, rows, labels, epochs=4, seed=1, log=sys.stderr, feats=None):
    """Logistic head on hashed n-grams of rows; feats: the rows' feature
    ids when already computed (fz.ids).  Returns (weight [buckets, L],
    bias [L]) numpy."""
    torch.manual_seed(seed)
    emb = torch.nn.EmbeddingBag(fz.buckets, len(labels), mode="sum")
    torch.nn.init.zeros_(emb.weight)
    bias = torch.nn.Parameter(torch.zeros(len(labels)))
    opt = torch.optim.Adam(list(emb.parameters()) + [bias], lr=0.02)
    y = torch.tensor([[e["labels"].get(c, 0) for c in labels] for e in rows], dtype=torch.float32)
    k = torch.tensor([[1.0 if c in e["labels"] else 0.0 for c in labels] for e in rows])
    pw = torch.clamp(torch.sqrt(((1 - y) * k).sum(0) / (y * k).sum(0).clamp(min=1)), 1, 8)
    t0 = time.time()
    if feats is None:
        feats = [fz.ids(e["text"]) or [] for e in rows]
    print("n-gram features of %d texts (%.0fs)" % (len(rows), time.time() - t0), file=log)
    keep = [i for i, f in enumerate(feats) if f]
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        perm = torch.randperm(len(keep), generator=g).tolist()
        for b in range(0, len(perm), 256):
            idx = [keep[i] for i in perm[b:b + 256]]
            flat, off, psw = _batch([feats[i] for i in idx])
            z = emb(flat, off, per_sample_weights=psw) + bias
            l = F.binary_cross_entropy_with_logits(z, y[idx], reduction="none", pos_weight=pw)
            loss = (l * k[idx]).sum() / k[idx].sum().clamp(min=1) + 1e-7 * emb.weight.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        print("n-gram epoch %d done (%.0fs)" % (ep + 1, time.time() - t0), file=log)
    return emb.weight.detach().numpy().astype(np.float32), bias.detach().numpy().astype(np.float32)


# ---------------------------------------------------------------------------
# windows, as the C engine cuts them

@torch.no_grad()
def window_logits(model, tok, fz, weight, bias, texts, window, stride, batch=128,
                  context="window"):
    """Per text: list of (z_transformer [L], z_ngram [L] or None, span) per
    window, in text order; z_ngram over the window's bytes, or over the
    whole text when context is "text"."""
    items = []
    for ti, text in enumerate(texts):
        ids, spans = tok.encode(text)
        raw = text.encode("utf-8")
        for s, e in T.windows(ids, window, stride):
            sp = (spans[s][0], spans[e - 1][1]) if e > s else (0, 0)
            items.append((ti, [T.CLS] + ids[s:e], sp, raw[sp[0]:sp[1]].decode("utf-8")))
    zt = [None] * len(items)
    order = sorted(range(len(items)), key=lambda i: len(items[i][1]))
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        Tm = max(len(items[i][1]) for i in idx)
        ids = torch.zeros(len(idx), Tm, dtype=torch.long)
        mask = torch.zeros(len(idx), Tm, dtype=torch.bool)
        for r, i in enumerate(idx):
            w = items[i][1]
            ids[r, :len(w)] = torch.tensor(w)
            mask[r, :len(w)] = True
        z = model(ids, mask).double().numpy()
        for r, i in enumerate(idx):
            zt[i] = z[r]
    out = [[] for _ in texts]
    whole = {}
    for (ti, _, sp, wt), z in zip(items, zt):
        if weight is None:
            zn = None
        elif context == "text":
            if ti not in whole:
                whole[ti] = head_logits(fz, weight, bias, [texts[ti]])[0]
            zn = whole[ti]
        else:
            zn = head_logits(fz, weight, bias, [wt])[0]
        out[ti].append((z, zn, sp))
    return out


def combine(zt, zn, comb):
    return 1 / (1 + np.exp(-(np.asarray(comb["w_transformer"]) * zt +
                             np.asarray(comb["w_ngram"]) * zn + np.asarray(comb["bias"]))))


def doc_probs(p, windows, comb):
    """A text's probabilities from p, each label's maximum over its windows:
    sigmoid(logit(p) - window_slope ln(windows)), as ngram_doc_probs in C."""
    if windows < 2 or not comb.get("window_slope"):
        return p
    slope = np.asarray(comb["window_slope"])
    out = np.array(p, dtype=np.float64)
    ok = (slope != 0) & (out > 0) & (out < 1)
    z = np.log(out[ok]) - np.log1p(-out[ok])
    out[ok] = 1 / (1 + np.exp(-(z - slope[ok] * np.log(windows))))
    return out


def doc_scores(wins, comb=None, cal=None, which="combined"):
    """Max over windows of each label's probability (with the window-count
    term for the combined score), and the span of the window with the
    highest one (first on ties), as the C engine does."""
    scores = np.zeros((len(wins), len(wins[0][0][0])))
    spans = []
    for i, ws in enumerate(wins):
        best, top = None, -1.0
        for zt, zn, sp in ws:
            if which == "combined":
                p = combine(zt, zn, comb)
            elif which == "ngram":
                p = 1 / (1 + np.exp(-zn))
            else:
                p = 1 / (1 + np.exp(-(np.asarray(cal["scale"]) * zt + np.asarray(cal["bias"]))))
            scores[i] = np.maximum(scores[i], p)
            if p.max() > top:
                top, best = p.max(), sp
        if which == "combined":
            scores[i] = doc_probs(scores[i], len(ws), comb)
        spans.append(best)
    return scores, spans


def fit_window_slope(wins, comb, clean):
    """Per label, the slope of the combined logit of the clean LLM answers
    (mask CLEAN) on ln(number of windows), least squares, floored at 0:
    how much the maximum over more windows raises a clean answer's score."""
    n = np.array([len(ws) for ws in wins])[clean]
    base = dict(comb, window_slope=None)
    p, _ = doc_scores([w for w, c in zip(wins, clean) if c], base)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    z = np.log(p) - np.log1p(-p)
    if len(n) < 2 or np.ptp(n) == 0:
        return [0.0] * z.shape[1]
    A = np.vstack([np.log(n), np.ones(len(n))]).T
    return [max(0.0, float(np.linalg.lstsq(A, z[:, j], rcond=None)[0][0]))
            for j in range(z.shape[1])]


# ---------------------------------------------------------------------------
# the combination: per label, logistic regression of the label on the two
# logits of the window that scores highest (refitted as that choice moves)

def _fit3(X, y, l2=1e-3, iters=100):
    P, N = y.sum(), len(y) - y.sum()
    t = np.where(y > 0.5, (P + 1) / (P + 2), 1 / (N + 2))
    Xb = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xb.shape[1])
    reg = l2 * np.eye(Xb.shape[1])
    reg[-1, -1] = 0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(Xb @ w)))
        g = Xb.T @ (p - t) + reg @ w * len(y)
        H = (Xb * (p * (1 - p) + 1e-9)[:, None]).T @ Xb + reg * len(y) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def fit_combination(wins, rows, labels, cal):
    wt, wn, b = [], [], []
    for j, c in enumerate(labels):
        idx = [i for i, e in enumerate(rows) if c in e["labels"]]
        y = np.array([rows[i]["labels"][c] for i in idx], dtype=np.float64)
        if len(y) == 0 or y.sum() == 0 or y.sum() == len(y):
            wt.append(float(cal["scale"][j]))
            wn.append(0.0)
            b.append(float(cal["bias"][j]))
            continue
        coef = np.array([cal["scale"][j], 0.0, cal["bias"][j]])
        for _ in range(3):
            X = []
            for i in idx:
                zs = [(coef[0] * zt[j] + coef[1] * zn[j] + coef[2], zt[j], zn[j])
                      for zt, zn, _ in wins[i]]
                best = max(zs, key=lambda x: x[0])
                X.append(best[1:])
            X = np.array(X)
            coef = _fit3(X, y)
            if coef[0] < 0 or coef[1] < 0:   # never invert a signal: drop it
                keep = [0] if coef[1] < 0 else [1]
                sub = _fit3(X[:, keep], y)
                coef = np.zeros(3)
                coef[keep[0]] = max(0.0, sub[0])
                coef[2] = sub[1]
        wt.append(float(coef[0]))
        wn.append(float(coef[1]))
        b.append(float(coef[2]))
    return {"w_transformer": wt, "w_ngram": wn, "bias": b}


# ---------------------------------------------------------------------------
# export

def export_head(modeldir, weight, bias, comb, buckets, context="window"):
    import model as M
    st = M.load_safetensors(os.path.join(modeldir, "model.safetensors"))
    st = {k: v for k, v in st.items() if not k.startswith("ngram.")}
    st["ngram.weight"] = torch.from_numpy(weight)
    st["ngram.bias"] = torch.from_numpy(bias)
    M.save_safetensors(st, os.path.join(modeldir, "model.safetensors"), {"format": "pt"})
    p = os.path.join(modeldir, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    cfg["ngram"] = {"buckets": buckets, "features": FEATURES, "context": context,
                    "combine": comb}
    with open(p + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(p + ".tmp", p)


def load_head(modeldir):
    """(weight numpy [B, L], bias [L], cfg["ngram"]) or None."""
    import model as M
    with open(os.path.join(modeldir, "config.json")) as f:
        cfg = json.load(f)
    if "ngram" not in cfg:
        return None
    st = M.load_safetensors(os.path.join(modeldir, "model.safetensors"))
    return st["ngram.weight"].numpy(), st["ngram.bias"].numpy(), cfg["ngram"]


def _f(x):
    return "-" if x is None else "%.3f" % x


def card_section(labels, rep, thr, flag, slope, have=None):
    L = ["## Combined score (transformer + n-gram head)", "",
         "Since the n-gram head was added (train/ngram.py), the shipped score of each category "
         "is sigmoid(w_t z_transformer + w_n z_ngram + b) per window, max over windows (z_ngram "
         "over the whole text, or over each window when config.json says \"context\": "
         "\"window\"); w_t, w_n "
         "and b are a per-category logistic regression fitted on the tune split (config.json "
         "\"ngram\".\"combine\"). A text of n windows then loses window_slope ln n from the "
         "logit of that maximum: the slope is fitted per category on the tune generator's clean "
         "answers (least squares of their logit on ln n, floored at 0), so that a long clean "
         "answer does not score higher for its number of windows alone (%s). "
         "The n-gram head is a linear model on hashed word uni/bigrams and "
         "character 3/4-grams (FORMAT.md, \"n-gram head\") trained on the training split. "
         "The figures below supersede the transformer-only metrics and thresholds above."
         % ", ".join("%s %.3f" % (c, x) for c, x in zip(labels, slope)), "",
         "AUPRC on the held-out source + held-out generator's clean answers (test split)"]
    names = [n for n in ("combined", "transformer", "ngram", "ngram_lr", "keywords")
             if have is None or n in have]
    title = {"combined": "combined", "transformer": "transformer", "ngram": "ngram head",
             "ngram_lr": "ngram_lr (report.py)", "keywords": "keywords"}
    L += ["| category | n (pos) | %s |" % " | ".join(title[n] for n in names),
          "|---|---|%s" % ("---|" * len(names))]

    def get(name, c):
        if name not in rep:
            return {"auprc": None}
        return rep[name]["per_label"][c] if c != "any" else rep[name]["any"]
    for c in labels + ["any"]:
        r = [get(n, c) for n in names]
        L.append("| %s | %d (%d) | %s |" % (c, r[0]["n"], r[0]["pos"],
                                           " | ".join(_f(x["auprc"]) for x in r)))
    L += ["", "AUPRC on the held-out source only",
          "| category | %s |" % " | ".join(title[n] for n in names),
          "|---|%s" % ("---|" * len(names))]
    for c in labels + ["any"]:
        r = [get("src_" + n, c) for n in names]
        L.append("| %s | %s |" % (c, " | ".join(_f(x["auprc"]) for x in r)))
    L += ["", "Combined score at the thresholds below (test split): any-category precision %.3f, "
          "recall %.3f. Clean answers of the held-out generator flagged: %.2f%% at rewrite, "
          "%.2f%% at block (n=%d)." % (rep["combined"]["any"].get("precision", 0),
                                       rep["combined"]["any"].get("recall", 0),
                                       100 * flag["rewrite"], 100 * flag["block"], flag["n"]), "",
          "Thresholds on the combined score (thresholds.json), same rules as above:", "",
          "| category | rewrite | block |", "|---|---|---|"]
    for c in labels:
        L.append("| %s | %.3f | %.3f |" % (c, thr["rewrite"][c], thr["block"][c]))
    return "\n".join(L) + "\n"


def add_head(modeldir, train_rows, tune_rows, test_rows, labels, clean_tune, clean_test,
             buckets=DEFAULT_BUCKETS, seed=1, baselines=True, datadir=None, log=sys.stderr,
             head_from=None, context="text"):
    """Train the head on train_rows, fit the combination on tune_rows, export
    it into modeldir with thresholds for the combined score, and report on
    test_rows.  clean_tune/clean_test: boolean masks of the clean LLM answers
    the rewrite thresholds are held to.  head_from: a model directory whose
    head (same data, buckets, seed) is reused instead of training it again.
    Returns the report dict."""
    import metrics
    import model as M
    from thresholds import choose_thresholds
    t_start = time.time()
    model, tok, cfg = M.load(modeldir)
    if cfg["labels"] != list(labels):
        raise SystemExit("%s: labels %s differ from the data's" % (modeldir, cfg["labels"]))
    labels = list(labels)
    with open(os.path.join(modeldir, "thresholds.json")) as f:
        thr0 = json.load(f)
    W, S = thr0.get("window", cfg["max_positions"]), thr0.get("stride", 96)
    fz = Featurizer(buckets)
    if head_from:
        weight, bias, ng = load_head(head_from)
        if ng["buckets"] != buckets or weight.shape[1] != len(labels):
            raise SystemExit("%s: its head does not fit" % head_from)
        print("n-gram head from %s" % head_from, file=log)
    else:
        weight, bias = train_head(fz, train_rows, labels, seed=seed, log=log)
    print("scoring tune and test windows", file=log)
    w_tune = window_logits(model, tok, fz, weight, bias, [e["text"] for e in tune_rows], W, S,
                           context=context)
    w_test = window_logits(model, tok, fz, weight, bias, [e["text"] for e in test_rows], W, S,
                           context=context)
    comb = fit_combination(w_tune, tune_rows, labels, cfg["calibration"])
    comb["window_slope"] = fit_window_slope(w_tune, comb, clean_tune)
    print("combination: %s" % json.dumps(comb), file=log)

    p_tune, _ = doc_scores(w_tune, comb)
    rew, blk = choose_thresholds(labels, p_tune, tune_rows, clean_tune)

    texts = [e["text"] for e in test_rows]
    systems = {"combined": doc_scores(w_test, comb)[0],
               "transformer": doc_scores(w_test, cal=cfg["calibration"], which="transformer")[0],
               "ngram": doc_scores(w_test, which="ngram")[0]}
    if baselines:
        import data as D
        import report as E
        systems["keywords"] = E.Keywords(datadir or D.DEFAULT_DATA, labels).scores(texts)
        systems["ngram_lr"] = E.ngram_scores(E.train_ngram(train_rows, labels), texts)
    ylab = [e["labels"] for e in test_rows]
    src = [i for i, e in enumerate(test_rows) if not e.get("source", "").startswith("alpacaeval")]
    rep = {}
    for name, sc in systems.items():
        rep[name] = metrics.report(labels, ylab, sc, rew if name == "combined" else None)
        rep["src_" + name] = metrics.report(labels, [ylab[i] for i in src], sc[src])
    sc = systems["combined"][clean_test]
    flag = {"n": int(clean_test.sum()),
            "rewrite": float((sc >= np.array(rew)).any(axis=1).mean()) if len(sc) else 0.0,
            "block": float((sc >= np.array(blk)).any(axis=1).mean()) if len(sc) else 0.0}

    export_head(modeldir, weight, bias, comb, buckets, context)
    thr = dict(thr0)
    thr["rewrite"] = dict(zip(labels, rew))
    thr["block"] = dict(zip(labels, blk))
    with open(os.path.join(modeldir, "thresholds.json"), "w") as f:
        json.dump(thr, f, indent=2)
        f.write("\n")
    rp = os.path.join(modeldir, "report.json")
    try:
        with open(rp) as f:
            full = json.load(f)
    except (OSError, ValueError):
        full = {}
    full["ngram"] = {"buckets": buckets, "features": FEATURES, "context": context, "combine": comb,
                     "report": rep, "clean_flag_rate": flag, "thresholds": thr,
                     "seconds": time.time() - t_start}
    with open(rp, "w") as f:
        json.dump(full, f, indent=1)
        f.write("\n")
    sec = card_section(labels, rep, thr, flag, comb["window_slope"], sorted(systems))
    from card import put_card_section
    put_card_section(modeldir, sec)
    print(sec, file=log)
    print("n-gram head done in %.0fs" % (time.time() - t_start), file=log)
    return full["ngram"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model directory to add the head to")
    ap.add_argument("--data", help="labelled JSONL the model was trained on (as make_model.py --data)")
    ap.add_argument("--shared", help="shared data directory")
    ap.add_argument("--buckets", type=int, default=DEFAULT_BUCKETS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--context", choices=("text", "window"), default="text",
                    help="n-gram features over the whole text (default) or each window")
    ap.add_argument("--head-from", metavar="DIR",
                    help="reuse the trained head of DIR (same data, buckets and seed)")
    a = ap.parse_args()
    if not 1 <= a.buckets <= 1 << 24:
        raise SystemExit("--buckets must be in [1, 2^24]")
    use_threads(a.threads)
    import data as D
    if a.data:
        rows = D.load_jsonl(a.data)
        train_rows, tune_rows, test_rows = D.user_split(rows)
        with open(os.path.join(a.model, "config.json")) as f:
            labels = json.load(f)["labels"]
        clean_tune = np.array([all(v == 0 for v in e["labels"].values()) for e in tune_rows])
        clean_test = np.array([all(v == 0 for v in e["labels"].values()) for e in test_rows])
    else:
        rows = D.load_shared(a.shared or D.DEFAULT_DATA)
        train_rows, tune_rows, test_rows = D.split_corpus(rows)
        labels = list(D.LABELS)
        clean_tune = np.array([D.is_clean_answer(e) for e in tune_rows])
        clean_test = np.array([D.is_clean_answer(e) for e in test_rows])
    add_head(a.model, train_rows, tune_rows, test_rows, labels, clean_tune, clean_test,
             buckets=a.buckets, seed=a.seed, baselines=not a.no_baselines,
             datadir=a.shared, head_from=a.head_from, context=a.context)


if __name__ == "__main__":
    main()
