#!/usr/bin/python3
"""Self-supervised pretraining of the encoder on unlabelled English: the
base model that `make model` fine-tunes (models/base/).

  make pretrain                         # models/base from ../shared/data
  train/pretrain.py --out DIR [--steps N] [--shared DIR]

Corpus (pretraining_texts): every text of the labelled sources except the
held-out test split (train and tune splits, labels ignored), the texts that
train/sources.tsv marks pretrain-only, the unlabelled texts of
../shared/data/unlabelled (chat-model answers, role-play answers, task
dialogues, public-domain books, the King James Bible), the glosses and
examples of WordNet (Debian wordnet-base, /usr/share/wordnet/data.*) and the
paragraphs of the GNU Collaborative International Dictionary of English
(Debian dict-gcide, /usr/share/dictd/gcide.dict.dz).  A missing dictionary
is reported and skipped.

Steps: a WordPiece vocabulary learned on the corpus; token embeddings from
its co-occurrence statistics (embed_init: positive pointwise mutual
information of tokens within four positions, reduced to d_model dimensions
by a randomised SVD); then masked-token prediction (pretrain): texts
shuffled with a fixed seed, tokenised, joined with [SEP] and cut into
windows of window-1 tokens after [CLS], as the classifier sees them; 15% of
the tokens chosen for prediction, 80% of those replaced by [UNK] (the
vocabulary has no [MASK] entry and the format stays unchanged), 10% by a
random token, 10% kept.  The prediction head (dense, GELU, layer norm,
decoder tied to the token embeddings) exists only here; the encoder's
weights carry over to fine-tuning.  A fixed number of steps, so the result
does not depend on the machine's speed; a checkpoint every --every steps
(in --work) lets an interrupted run resume where it stopped.
"""

import gzip
import math
import os
import random
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cpu_threads import use_threads
from tokenizer import CLS, SEP, UNK, PAD

WORDNET = "/usr/share/wordnet"
GCIDE = "/usr/share/dictd/gcide.dict.dz"


def wordnet_texts(root=WORDNET):
    """Glosses of data.noun/verb/adj/adv: definitions and quoted examples."""
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        p = os.path.join(root, "data." + pos)
        if not os.path.exists(p):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue            # licence header
                g = line.split("|", 1)[1].strip()
                if len(g) > 20:
                    out.append(g.replace('"', ""))
    return out


_GCIDE_MARK = re.compile(r"\[1913 Webster\]|\[PJC\]|\[Obs\.\]|\{|\}|\\[^\\]*\\|--[A-Z][\w. ]*")


def gcide_texts(path=GCIDE):
    """Paragraphs of the dictionary with its markup removed, at least five
    words long."""
    if not os.path.exists(path):
        return []
    with gzip.open(path, "rb") as f:
        data = f.read().decode("utf-8", errors="replace")
    out = []
    for para in data.split("\n\n"):
        t = _GCIDE_MARK.sub(" ", para)
        t = " ".join(t.split())
        if len(t) >= 40 and t.count(" ") >= 5:
            out.append(t)
    return out


def shared_unlabelled(datadir):
    """The unlabelled texts of datadir/unlabelled that the labelled corpus
    does not already hold (its chat-model answers are labelled clean)."""
    import data as D
    u = os.path.join(datadir, "unlabelled")
    out = []
    for path, fields in (("gpteacher-roleplay/roleplay-simple-deduped-roleplay-instruct.jsonl",
                          ("instruction", "response")),
                         ("sgd-dialogues/sgd_dialogues.jsonl", ("text",)),
                         ("pd-books/pd_books.jsonl", ("text",)),
                         ("kjv-bible/kjv_chapters.jsonl", ("text",))):
        p = os.path.join(u, path)
        if os.path.exists(p):
            for r in D._jsonl(p):
                t = "\n".join(r.get(k) or "" for k in fields).strip()
                if t:
                    out.append(t)
    return out


def unlabelled_texts(train_rows, log=sys.stderr):
    t0 = time.time()
    texts = [e["text"] for e in train_rows]
    wn = wordnet_texts()
    gc = gcide_texts()
    for name, lst, pkg in (("wordnet", wn, "wordnet-base"), ("gcide", gc, "dict-gcide")):
        if not lst:
            print("pretraining: no %s text (Debian package %s not installed)" % (name, pkg),
                  file=log)
    print("pretraining corpus: %d training texts, %d wordnet glosses, %d gcide paragraphs "
          "(%.0fs)" % (len(texts), len(wn), len(gc), time.time() - t0), file=log)
    return texts + wn + gc


def corpus_ids(texts, tok, max_tokens, seed, log=sys.stderr):
    """Token ids of the texts in a seeded order, [SEP] between texts, at most
    max_tokens of them.  int64 numpy."""
    r = random.Random("%d:embed" % seed)
    order = list(range(len(texts)))
    r.shuffle(order)
    out = []
    n = 0
    for i in order:
        ids = tok.encode_ids(texts[i])
        if not ids:
            continue
        out.append(np.array(ids + [SEP], dtype=np.int64))
        n += len(ids) + 1
        if n >= max_tokens:
            break
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def embed_init(model, tok, texts, max_tokens=12_000_000, span=4, seed=1, scale=0.05,
               log=sys.stderr):
    """Set model.tok_emb from the corpus: counts of token pairs at distance
    1..span (weighted 1/distance, both directions), positive PMI with the
    context distribution smoothed (power 0.75), randomised SVD, rows
    U * sqrt(S) scaled to a per-element standard deviation of scale.  Tokens
    seen fewer than 5 times and the special tokens keep their random
    initial vectors.  Returns a summary dict."""
    t0, c0 = time.time(), time.process_time()
    V = len(tok)
    d = model.hp["d_model"]
    a = corpus_ids(texts, tok, max_tokens, seed, log)
    t_tok = time.time() - t0
    C = np.zeros(V * V, dtype=np.float64)
    for k in range(1, span + 1):
        C += np.bincount(a[:-k] * V + a[k:], minlength=V * V) / k
    C = C.reshape(V, V)
    C = C + C.T
    for s in (CLS, SEP, PAD, UNK):
        C[s, :] = 0
        C[:, s] = 0
    freq = np.bincount(a, minlength=V)
    rows = C.sum(1)
    cols = C.sum(0) ** 0.75
    tot = rows.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(C * cols.sum() / (rows[:, None] * cols[None, :]))
    M = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0).astype(np.float32)
    del C, pmi
    g = np.random.default_rng(seed)
    Q = M @ g.standard_normal((V, d + 16)).astype(np.float32)
    for _ in range(3):
        Q, _r = np.linalg.qr(Q)
        Q = M @ (M.T @ Q)
    Q, _r = np.linalg.qr(Q)
    B = Q.T @ M
    Ub, S, _vt = np.linalg.svd(B, full_matrices=False)
    E = (Q @ Ub[:, :d]) * np.sqrt(S[:d])[None, :]
    keep = freq >= 5
    for s in (CLS, SEP, PAD, UNK):
        keep[s] = False
    E = E[keep]
    E = E / (E.std() + 1e-12) * scale
    with torch.no_grad():
        w = model.tok_emb.weight
        w[torch.from_numpy(np.nonzero(keep)[0])] = torch.from_numpy(E.astype(np.float32))
    out = {"tokens": int(len(a)), "span": span, "dims": d, "tokens_set": int(keep.sum()),
           "pairs": float(tot), "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0,
           "tokenize_s": t_tok}
    print("embeddings from %d corpus tokens: %d of %d vocabulary entries set (%.0fs)"
          % (len(a), keep.sum(), V, out["wall_s"]), file=log)
    return out


class MLMHead(nn.Module):
    def __init__(self, enc):
        super().__init__()
        d = enc.hp["d_model"]
        self.dense = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d, eps=enc.hp["norm_eps"])
        self.bias = nn.Parameter(torch.zeros(enc.hp["vocab_size"]))
        nn.init.normal_(self.dense.weight, std=0.02)
        nn.init.zeros_(self.dense.bias)

    def forward(self, h, emb):
        return self.ln(F.gelu(self.dense(h))) @ emb.t() + self.bias


def token_stream(texts, tok, need, seed, log=sys.stderr):
    """Windows [CLS] + window-1 ids, enough for need windows (cycling with a
    fresh order when the corpus is smaller).  int32 numpy [need, W]."""
    r = random.Random("%d:pretrain" % seed)
    W = need[1]
    n_need = need[0]
    rows = []
    buf = []
    t0 = time.time()
    rnd = 0
    while len(rows) < n_need:
        order = list(range(len(texts)))
        r.shuffle(order)
        for i in order:
            ids = tok.encode_ids(texts[i])
            if not ids:
                continue
            buf.extend(ids)
            buf.append(SEP)
            while len(buf) >= W - 1:
                rows.append([CLS] + buf[:W - 1])
                del buf[:W - 1]
            if len(rows) >= n_need:
                break
        rnd += 1
        if rnd > 1000:
            raise SystemExit("pretraining corpus is empty")
    print("pretraining: %d windows of %d tokens from %s pass(es) over the corpus (%.0fs)"
          % (len(rows), W, rnd, time.time() - t0), file=log)
    return np.array(rows, dtype=np.int64)


def mask_batch(ids, vocab, g, rate=0.15):
    """(inputs, target positions mask, targets) for a [B, T] long tensor."""
    special = (ids == CLS) | (ids == SEP) | (ids == UNK) | (ids == PAD)
    pick = (torch.rand(ids.shape, generator=g) < rate) & ~special
    inp = ids.clone()
    u = torch.rand(ids.shape, generator=g)
    inp[pick & (u < 0.8)] = UNK
    rnd = pick & (u >= 0.8) & (u < 0.9)
    inp[rnd] = torch.randint(4, vocab, ids.shape, generator=g)[rnd]
    return inp, pick, ids[pick]


def pretrain(model, tok, texts, steps, batch=64, lr=1e-3, seed=1, log=sys.stderr,
             resume=None, checkpoint=None, every=100):
    """Masked-token pretraining of model (an Encoder) in place for a fixed
    number of steps.  resume: a checkpoint dict (save_checkpoint) to go on
    from; checkpoint(model, head, opt, step) is called every `every` steps
    and at the end.  The windows and the masks depend on the seed and the
    step only (dropout is seeded per step too), so a resumed run gives the
    weights of an uninterrupted one.  Returns a summary dict."""
    from train import Progress
    torch.manual_seed(seed)
    W = model.hp["max_positions"]
    data = torch.from_numpy(token_stream(texts, tok, (steps * batch, W), seed, log))
    head = MLMHead(model)
    params = list(model.parameters()) + list(head.parameters())
    decay = [p for n, p in list(model.named_parameters()) + list(head.named_parameters())
             if p.dim() >= 2]
    other = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": other, "weight_decay": 0.0}], lr=lr)
    start = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        head.load_state_dict(resume["head"])
        opt.load_state_dict(resume["opt"])
        start = resume["step"]
        print("pretraining: resuming at step %d of %d" % (start, steps), file=log)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    warm = max(1, steps // 20)
    model.train()
    pb = Progress(steps, "pretrain")
    t0, c0 = time.time(), time.process_time()
    tot, acc, n = 0.0, 0.0, 0
    for step in range(start, steps):
        f = 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))
        for grp in opt.param_groups:
            grp["lr"] = lr * ((step + 1) / warm if step < warm else 0.1 + 0.9 * f)
        g = torch.Generator().manual_seed(seed * 1000003 + step)     # the masks
        torch.manual_seed(seed * 7919 + step)                          # dropout
        ids = data[perm[step * batch:(step + 1) * batch]]
        inp, pick, tgt = mask_batch(ids, len(tok), g)
        h = model.encode(inp, None)
        logits = head(h[pick], model.tok_emb.weight)
        loss = F.cross_entropy(logits, tgt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        tot += float(loss)
        acc += float((logits.argmax(1) == tgt).float().mean())
        n += 1
        pb.update(step + 1, "loss %.3f acc %.3f" % (tot / n, acc / n))
        if checkpoint and ((step + 1) % every == 0 or step + 1 == steps):
            checkpoint(model, head, opt, step + 1)
        if (step + 1) % 200 == 0 and step + 1 < steps:
            tot, acc, n = 0.0, 0.0, 0
    pb.done()
    model.eval()
    out = {"steps": steps, "resumed_at": start, "batch": batch, "lr": lr,
           "windows": int(len(data)), "loss_last": tot / max(1, n),
           "acc_last": acc / max(1, n), "wall_s": time.time() - t0,
           "cpu_s": time.process_time() - c0}
    print("pretraining done: %d steps, loss %.3f, masked-token accuracy %.3f (%.0fs wall)"
          % (steps, out["loss_last"], out["acc_last"], out["wall_s"]), file=log)
    return out


def pretraining_texts(datadir, log=sys.stderr):
    """The whole pretraining corpus (module docstring), test split left out."""
    import data as D
    only_text = []
    rows = D.load_shared(datadir, pretrain=only_text, log=None)
    tr, tu, _te = D.split_corpus(rows, log=log)
    extra = shared_unlabelled(datadir)
    print("pretraining corpus: %d labelled texts (test split left out), %d pretrain-only "
          "texts, %d unlabelled texts" % (len(tr) + len(tu), len(only_text), len(extra)),
          file=log)
    return unlabelled_texts(tr + tu, log) + only_text + extra


def save_checkpoint(path, model, head, opt, step, hp):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "head": head.state_dict(),
                "opt": opt.state_dict(), "step": step, "hp": hp}, tmp)
    os.replace(tmp, path)


def main():
    import argparse
    import json
    import data as D
    import tokenizer as TK
    from model import DEFAULT_HP, Encoder, export
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=D.DEFAULT_DATA, help="shared data directory")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "models", "base"))
    ap.add_argument("--work", default="build/pretrain",
                    help="checkpoints and the corpus cache (resumes from here)")
    ap.add_argument("--steps", type=int, default=1500,
                    help="masked-token steps (1500: about 26 minutes on one busy core)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--every", type=int, default=100, help="steps between checkpoints")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hp", default="", help="overrides, e.g. d_model=192,n_layers=4")
    a = ap.parse_args()
    if not os.path.isdir(a.shared):
        raise SystemExit("pretrain: needs the data directory %s (--shared DIR)" % a.shared)
    use_threads(a.threads)
    hp = {k: DEFAULT_HP[k] for k in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff",
                                      "window", "dropout", "pooling")}
    for kv in filter(None, a.hp.split(",")):
        k, v = kv.split("=")
        hp[k] = type(hp[k])(v)
    hp.update(steps=a.steps, batch=a.batch, lr=a.lr, seed=a.seed)
    os.makedirs(a.work, exist_ok=True)
    t0, c0 = time.time(), time.process_time()
    texts = pretraining_texts(a.shared)
    vocab = os.path.join(a.work, "tokenizer.txt")
    if os.path.exists(vocab):
        tok = TK.WordPiece.load(vocab)
        print("pretrain: vocabulary from %s" % vocab, file=sys.stderr)
    else:
        tok = TK.train(texts, vocab_size=hp["vocab_size"])
        tok.save(vocab)
    torch.manual_seed(a.seed)
    model = Encoder(len(tok), hp["d_model"], hp["n_layers"], hp["n_heads"], hp["d_ff"],
                    hp["window"], len(D.LABELS), 1e-5, hp["dropout"], hp["pooling"])
    ckpt = os.path.join(a.work, "checkpoint.pt")
    state = torch.load(ckpt) if os.path.exists(ckpt) else None
    if state is not None and state["hp"] != hp:
        raise SystemExit("pretrain: %s was made with other settings (%s); remove it to start "
                         "again" % (ckpt, json.dumps(state["hp"])))
    summary = {}
    if state is None:
        summary["embed"] = embed_init(model, tok, texts, seed=a.seed)
    summary["mlm"] = pretrain(model, tok, texts, a.steps, a.batch, a.lr, seed=a.seed,
                              resume=state, checkpoint=lambda *x: save_checkpoint(ckpt, *x, hp),
                              every=a.every)
    summary.update(hp=hp, texts=len(texts), wall_s=time.time() - t0,
                   cpu_s=time.process_time() - c0, threads=a.threads)
    labels = list(D.LABELS)
    export(model, tok, labels, {"scale": [1.0] * len(labels), "bias": [0.0] * len(labels)},
           os.path.abspath(a.out))
    with open(os.path.join(a.out, "pretrain.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print("base model written to %s (%.0fs wall, %.0fs CPU this run)" % (
        a.out, time.time() - t0, time.process_time() - c0), file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
