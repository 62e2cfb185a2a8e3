"""Fine-tuning the encoder on labelled documents, window-aware.

A document longer than one window is cut into windows of W-1 tokens and
its label is applied to the MAXIMUM over its windows of each head's logit
(multiple-instance learning), which is exactly how the daemon scores it:
a harmful document needs one high window, a clean one needs all windows
low.  Windows are never given their whole document's label one by one.
"""

import math
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from tokenizer import CLS, windows
from model import Encoder
import metrics

LABELS = ["hate", "harassment", "sexual", "violence", "self_harm", "jailbreak"]

# per-epoch caps per source (tweets and forum posts would otherwise drown
# the LLM-output sources); each epoch draws a fresh sample
SOURCE_CAPS = {"davidson": 2000, "tweeteval": 3000, "hatexplain": 4000, "edos": 3000,
               "stormfront": 3000, "ghc": 1500, "crowdcounter": 2500,
               "diasafety": 2500, "guest-misogyny": 1500, "toxic-spans": 1500,
               "convabuse": 1500, "gptfuzz": 1500, "alpacaeval": 8000,
               "spamassassin": 2000, "sms-spam": 1500, "bold-wikipedia": 1500,
               "holisticbias": 1200, "sotu": 1000, "pd-books": 1000, "kjv": 300,
               "sgd-dialogues": 800, "gpteacher-roleplay": 800, "counsel-chat": 1500,
               "decodingtrust": 800}


class Progress:
    """A progress bar on stderr."""

    def __init__(self, total, label, stream=sys.stderr):
        self.total, self.label, self.stream = max(1, total), label, stream
        self.t0 = time.time()
        self.last = 0.0
        self.tty = stream.isatty()

    def update(self, n, extra=""):
        now = time.time()
        if now - self.last < (0.2 if self.tty else 15.0) and n < self.total:
            return
        self.last = now
        frac = min(1.0, n / self.total)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        el = now - self.t0
        eta = el / frac - el if frac > 0 else 0
        msg = "%s [%s] %d/%d %3.0f%% %ds eta %ds %s" % (
            self.label, bar, n, self.total, 100 * frac, el, eta, extra)
        if self.tty:
            self.stream.write("\r" + msg[:160])
        else:
            self.stream.write(msg + "\n")
        self.stream.flush()

    def done(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def is_clean(e, labels):
    """Every category known and zero."""
    return all(e["labels"].get(c) == 0 for c in labels)


def encode_docs(rows, tok, window, max_chunks, labels=LABELS, clean_windows=0, stride=None):
    """Token chunks and label vectors of each row.  A labelled document
    gives one item: its first max_chunks non-overlapping windows of window-1
    tokens, scored by their maximum.  A clean document (every category known
    and zero) with clean_windows > 0 gives one item per deployment window
    (window, stride), up to clean_windows of them: each window of a long
    clean answer must stay low on its own, since the daemon takes the
    maximum over all of them."""
    docs = []
    w = window - 1
    for e in rows:
        ids = tok.encode_ids(e["text"])
        y = np.zeros(len(labels), dtype=np.float32)
        m = np.zeros(len(labels), dtype=np.float32)
        for j, c in enumerate(labels):
            if c in e["labels"]:
                y[j] = e["labels"][c]
                m[j] = 1
        item = {"y": y, "m": m, "w": float(e.get("weight", 1.0)), "source": e["source"]}
        if clean_windows and len(ids) > w and is_clean(e, labels):
            for s, t in windows(ids, window, stride or w)[:clean_windows]:
                docs.append(dict(item, chunks=[ids[s:t]]))
            continue
        chunks = [ids[i:i + w] for i in range(0, max(1, len(ids)), w)][:max_chunks]
        docs.append(dict(item, chunks=chunks))
    return docs


def source_key(src):
    return src.split(":")[0]


def epoch_docs(docs, epoch, seed):
    r = random.Random("%d:epoch:%d" % (seed, epoch))
    by = {}
    for d in docs:
        by.setdefault(source_key(d["source"]), []).append(d)
    out = []
    for k in sorted(by):
        lst = by[k]
        cap = SOURCE_CAPS.get(k)
        if cap and len(lst) > cap:
            lst = r.sample(lst, cap)
        out.extend(lst)
    r.shuffle(out)
    return out


def batches(docs, batch_docs, seed, epoch):
    """Length-bucketed batches, in a seeded order."""
    r = random.Random("%d:batches:%d" % (seed, epoch))
    out = []
    pool = batch_docs * 50
    for k in range(0, len(docs), pool):
        chunk = sorted(docs[k:k + pool],
                       key=lambda d: (len(d["chunks"]), max(len(c) for c in d["chunks"])))
        for b in range(0, len(chunk), batch_docs):
            out.append(chunk[b:b + batch_docs])
    r.shuffle(out)
    return out


def collate(batch):
    wins, owner = [], []
    for i, d in enumerate(batch):
        for c in d["chunks"]:
            wins.append([CLS] + c)
            owner.append(i)
    T = max(len(w) for w in wins)
    ids = torch.zeros(len(wins), T, dtype=torch.long)
    mask = torch.zeros(len(wins), T, dtype=torch.bool)
    for r, w in enumerate(wins):
        ids[r, :len(w)] = torch.tensor(w, dtype=torch.long)
        mask[r, :len(w)] = True
    y = torch.tensor(np.stack([d["y"] for d in batch]))
    m = torch.tensor(np.stack([d["m"] for d in batch]))
    w = torch.tensor([d["w"] for d in batch], dtype=torch.float32)
    return ids, mask, torch.tensor(owner, dtype=torch.long), y, m, w


def doc_max(logits, owner, n):
    out = torch.full((n, logits.shape[1]), float("-inf"), dtype=logits.dtype)
    idx = owner[:, None].expand(-1, logits.shape[1])
    return out.scatter_reduce(0, idx, logits, reduce="amax", include_self=True)


@torch.no_grad()
def doc_logits(model, tok, texts, window, stride, batch=128, progress=None):
    """Max over sliding windows (deployment windows: window, stride) of each
    head's raw logit, per text.  [n, L] numpy."""
    model.eval()
    items = []
    for ti, t in enumerate(texts):
        ids = tok.encode_ids(t)
        for s, e in windows(ids, window, stride):
            items.append((ti, [CLS] + ids[s:e]))
    order = sorted(range(len(items)), key=lambda i: len(items[i][1]))
    L = model.n_labels
    out = np.full((len(texts), L), -np.inf, dtype=np.float64)
    pb = Progress(len(order), progress) if progress else None
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        T = max(len(items[i][1]) for i in idx)
        ids = torch.zeros(len(idx), T, dtype=torch.long)
        mask = torch.zeros(len(idx), T, dtype=torch.bool)
        for r, i in enumerate(idx):
            w = items[i][1]
            ids[r, :len(w)] = torch.tensor(w)
            mask[r, :len(w)] = True
        z = model(ids, mask).numpy()
        for r, i in enumerate(idx):
            ti = items[i][0]
            out[ti] = np.maximum(out[ti], z[r])
        if pb:
            pb.update(k + len(idx))
    if pb:
        pb.done()
    return out


def pos_weights(docs, cap=8.0):
    y = np.stack([d["y"] for d in docs])
    m = np.stack([d["m"] for d in docs])
    pos = (y * m).sum(0)
    neg = ((1 - y) * m).sum(0)
    return torch.tensor(np.clip(np.sqrt(neg / np.maximum(pos, 1)), 1.0, cap),
                        dtype=torch.float32)


def tune_score(model, tok, tune_rows, window, stride, labels=LABELS):
    """Model selection figure on the tune split: mean over labels of AUPRC
    (labels with positives) plus the any-category AUPRC."""
    z = doc_logits(model, tok, [e["text"] for e in tune_rows], window, stride)
    rep = metrics.report(labels, [e["labels"] for e in tune_rows], z)
    vals = [r["auprc"] for r in rep["per_label"].values() if r["auprc"] is not None]
    anyv = rep.get("any", {}).get("auprc") or 0.0
    return (float(np.mean(vals)) if vals else 0.0) * 0.5 + anyv * 0.5, rep, z


def train(train_rows, tune_rows, tok, hp, seed=1, log=sys.stderr,
          deadline=None, labels=LABELS, init=None, extra=None):
    """Train an Encoder; returns (model, history).  hp keys: d_model,
    n_layers, n_heads, d_ff, window, max_chunks, epochs, batch_docs, lr,
    weight_decay, dropout, eval_stride.  extra: a dict that receives
    "tune_logits", doc_logits() of the tune texts under the returned
    weights (computed for model selection anyway), so that the caller
    need not score the tune split again."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    W = hp["window"]
    model = Encoder(len(tok), hp["d_model"], hp["n_layers"], hp["n_heads"],
                    hp["d_ff"], W, len(labels), 1e-5, hp.get("dropout", 0.1),
                    hp.get("pooling", "mean"))
    if init is not None:        # continue from a trained model's weights
        model.load_state_dict(init.state_dict())
    t_enc = time.time()
    docs = encode_docs(train_rows, tok, W, hp["max_chunks"], labels,
                       int(hp.get("clean_windows", 0)), hp["eval_stride"])
    print("%d training items from %d documents (%.0fs)" % (len(docs), len(train_rows),
                                                         time.time() - t_enc), file=log)
    pw = pos_weights(docs)
    print("pos_weight " + " ".join("%s=%.2f" % (c, float(v)) for c, v in zip(labels, pw)), file=log)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if n.endswith(".bias") or ".ln" in n or n.startswith("ln_f") else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"])
    per_epoch = len(batches(epoch_docs(docs, 0, seed), hp["batch_docs"], seed, 0))
    total = per_epoch * hp["epochs"]
    warm = max(1, int(0.05 * total))

    t_loop = time.time()
    budget = (deadline - t_loop) if deadline else None

    def lr_at(step):
        # cosine decay over the planned steps, or over the time budget when
        # that runs out first (a loaded machine), so the run always ends
        # with a decayed learning rate
        if step < warm:
            return hp["lr"] * (step + 1) / warm
        f = (step - warm) / max(1, total - warm)
        if budget:
            f = max(f, (time.time() - t_loop) / budget)
        f = min(1.0, f)
        return hp["lr"] * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * f)))

    best = (-1.0, None, -1, None)     # score, weights, epoch, tune logits
    history = []
    step = 0
    t0 = time.time()
    c0 = time.process_time()
    pb = Progress(total, "train")
    stopped = False
    for ep in range(hp["epochs"]):
        model.train()
        tot, nb = 0.0, 0
        for batch in batches(epoch_docs(docs, ep, seed), hp["batch_docs"], seed, ep):
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            ids, mask, owner, y, m, w = collate(batch)
            z = doc_max(model(ids, mask), owner, len(batch))
            l = F.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=pw)
            loss = (l * m * w[:, None]).sum() / (m * w[:, None]).sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tot += float(loss)
            nb += 1
            pb.update(step, "loss %.4f" % (tot / nb))
            if deadline and time.time() > deadline:
                stopped = True
                break
        if ep + 1 < hp["epochs"] and not stopped and not hp.get("eval_every_epoch"):
            history.append({"epoch": ep + 1, "steps": step, "planned_steps": total,
                            "loss": tot / max(1, nb), "tune": None,
                            "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0})
            print("\nepoch %d loss %.4f wall %.0fs cpu %.0fs" % (
                ep + 1, tot / max(1, nb), time.time() - t0, time.process_time() - c0), file=log)
            continue
        sc, rep, z = tune_score(model, tok, tune_rows, W, hp["eval_stride"], labels)
        history.append({"epoch": ep + 1, "steps": step, "planned_steps": total,
                        "loss": tot / max(1, nb), "tune": sc,
                        "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0})
        print("\nepoch %d loss %.4f tune %.4f (any %.3f; %s) wall %.0fs cpu %.0fs" % (
            ep + 1, tot / max(1, nb), sc, rep.get("any", {}).get("auprc") or 0,
            " ".join("%s=%.3f" % (c, r["auprc"]) for c, r in rep["per_label"].items()
                     if r["auprc"] is not None),
            time.time() - t0, time.process_time() - c0), file=log)
        if sc > best[0]:
            best = (sc, {k: v.clone() for k, v in model.state_dict().items()}, ep + 1, z)
        if stopped:
            print("time budget reached after %d of %d steps" % (step, total), file=log)
            break
    pb.done()
    model.load_state_dict(best[1])
    model.eval()
    if extra is not None:
        extra["tune_logits"] = best[3]
    print("best epoch %d (tune %.4f)" % (best[2], best[0]), file=log)
    return model, history
