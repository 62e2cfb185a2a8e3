"""The modgate-encoder-v1 network (train/FORMAT.md) in PyTorch, and export.

Parameter names are those of the format, so state_dict() maps one to one onto
the tensors of model.safetensors.
"""

import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "modgate-encoder-v1"
LABELS = ["hate", "harassment", "sexual", "violence", "self_harm", "jailbreak"]


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, key_pad):
        # x [B, T, d]; key_pad [B, T] True where padded
        B, T, d = x.shape
        hd = d // self.h
        q, k, v = self.qkv(x).split(d, dim=2)
        q = q.view(B, T, self.h, hd).transpose(1, 2)
        k = k.view(B, T, self.h, hd).transpose(1, 2)
        v = v.view(B, T, self.h, hd).transpose(1, 2)
        s = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd)
        if key_pad is not None:
            s = s.masked_fill(key_pad[:, None, None, :], float("-inf"))
        a = torch.softmax(s, dim=-1)
        o = torch.matmul(a, v).transpose(1, 2).reshape(B, T, d)
        return self.out(o)


class FFN(nn.Module):
    def __init__(self, d, dff):
        super().__init__()
        self.up = nn.Linear(d, dff)
        self.down = nn.Linear(dff, d)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Layer(nn.Module):
    def __init__(self, d, h, dff, eps, dropout=0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, h)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.ffn = FFN(d, dff)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, key_pad):
        x = x + self.drop(self.attn(self.ln1(x), key_pad))
        x = x + self.drop(self.ffn(self.ln2(x)))
        return x


# the hyperparameters make model and make pretrain use unless told otherwise
DEFAULT_HP = dict(vocab_size=8192, d_model=128, n_layers=2, n_heads=4, d_ff=512,
                  window=128, max_chunks=2, epochs=1, batch_docs=32, lr=1e-3,
                  weight_decay=0.01, dropout=0.1, eval_stride=96, clean_windows=8, embed_init=1,
                  pretrain_steps=0, pretrain_batch=64, pretrain_lr=1e-3, pooling="cls")

class Encoder(nn.Module):
    def __init__(self, vocab_size, d_model=128, n_layers=4, n_heads=4,
                 d_ff=512, max_positions=128, n_labels=6, norm_eps=1e-5,
                 dropout=0.0, pooling="mean"):
        super().__init__()
        if d_model % n_heads:
            raise ValueError("d_model must be divisible by n_heads")
        if pooling not in ("mean", "cls"):
            raise ValueError("pooling must be mean or cls")
        self.hp = dict(vocab_size=vocab_size, d_model=d_model,
                       n_layers=n_layers, n_heads=n_heads, d_ff=d_ff,
                       max_positions=max_positions, norm_eps=norm_eps)
        if pooling != "mean":
            self.hp["pooling"] = pooling
        self.pooling = pooling
        self.n_labels = n_labels
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_positions, d_model)
        self.layers = nn.ModuleList(
            [Layer(d_model, n_heads, d_ff, norm_eps, dropout)
             for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model, eps=norm_eps)
        self.head = nn.Linear(d_model, n_labels)
        self.drop = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self):
        for n, p in self.named_parameters():
            if n.endswith(".bias"):
                nn.init.zeros_(p)
            elif ".ln" in n or n.startswith("ln_f"):
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, std=0.02)
        # scale residual projections by depth (GPT-2 style)
        for layer in self.layers:
            std = 0.02 / math.sqrt(2 * len(self.layers))
            nn.init.normal_(layer.attn.out.weight, std=std)
            nn.init.normal_(layer.ffn.down.weight, std=std)

    def encode(self, ids, mask=None):
        """Final hidden states [B, T, d] (after ln_f)."""
        B, T = ids.shape
        pos = torch.arange(T, device=ids.device)
        x = self.drop(self.tok_emb(ids) + self.pos_emb(pos)[None])
        key_pad = None if mask is None else ~mask
        for layer in self.layers:
            x = layer(x, key_pad)
        return self.ln_f(x)

    def pool(self, h, mask=None):
        if self.pooling == "cls":
            return h[:, 0]
        if mask is None:
            return h.mean(dim=1)
        m = mask.to(h.dtype)[:, :, None]
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)

    def forward(self, ids, mask=None):
        """ids [B, T] (with [CLS] first), mask [B, T] bool (True = real
        token) or None.  Returns logits [B, n_labels]."""
        return self.head(self.pool(self.encode(ids, mask), mask))


# ---------------------------------------------------------------------------
# safetensors, written and read with struct + json

def save_safetensors(tensors, path, metadata=None):
    """tensors: ordered dict name -> float32 torch tensor."""
    header = {}
    blobs = []
    off = 0
    for name, t in tensors.items():
        a = t.detach().to(torch.float32).contiguous().cpu().numpy()
        b = a.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: truncated" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length out of range" % path)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise ValueError("%s: %s is not F32" % (path, name))
        a, b = e["data_offsets"]
        count = 1
        for s in e["shape"]:
            count *= s
        if not (0 <= a <= b <= len(data) - base) or b - a != 4 * count:
            raise ValueError("%s: bad offsets for %s" % (path, name))
        arr = np.frombuffer(data, dtype="<f4", count=count, offset=base + a)
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).copy())
    return out


# ---------------------------------------------------------------------------
# model directory

def export(model, tokenizer, labels, calibration, outdir, extra=None):
    """Write config.json, model.safetensors and tokenizer.txt to outdir.

    calibration: {"scale": [..], "bias": [..]} one entry per label.
    extra: optional dict merged into config.json (only keys the format
    allows; kept None by default)."""
    os.makedirs(outdir, exist_ok=True)
    labels = list(labels)
    if len(labels) != model.n_labels or len(tokenizer) != model.hp["vocab_size"]:
        raise ValueError("labels or vocabulary do not fit the model")
    cfg = {"format": FORMAT}
    cfg.update(model.hp)
    cfg["labels"] = labels
    cfg["tokenizer"] = {"kind": "wordpiece", "file": "tokenizer.txt",
                        "max_word_chars": tokenizer.max_word_chars}
    cfg["calibration"] = {"scale": [float(x) for x in calibration["scale"]],
                          "bias": [float(x) for x in calibration["bias"]]}
    if extra:
        cfg.update(extra)
    tokenizer.save(os.path.join(outdir, "tokenizer.txt"))
    save_safetensors(model.state_dict(), os.path.join(outdir, "model.safetensors"),
                     {"format": "pt"})
    tmp = os.path.join(outdir, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(outdir, "config.json"))


def load(modeldir):
    """Load a model directory: (model in eval mode, tokenizer, config)."""
    from tokenizer import WordPiece
    with open(os.path.join(modeldir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("format") != FORMAT:
        raise ValueError("%s: not %s" % (modeldir, FORMAT))
    tk = cfg["tokenizer"]
    tok = WordPiece.load(os.path.join(modeldir, tk["file"]),
                         tk.get("max_word_chars", 64))
    model = Encoder(cfg["vocab_size"], cfg["d_model"], cfg["n_layers"],
                    cfg["n_heads"], cfg["d_ff"], cfg["max_positions"],
                    len(cfg["labels"]), cfg["norm_eps"], pooling=cfg.get("pooling", "mean"))
    sd = load_safetensors(os.path.join(modeldir, "model.safetensors"))
    if "ngram" in cfg:      # the n-gram head: train/ngram.py load_head()
        sd = {k: v for k, v in sd.items() if k not in ("ngram.weight", "ngram.bias")}
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, tok, cfg


def calibrated(logits, calibration):
    """Calibrated probabilities from logits [.., L]."""
    s = torch.tensor(calibration["scale"], dtype=logits.dtype)
    b = torch.tensor(calibration["bias"], dtype=logits.dtype)
    return torch.sigmoid(logits * s + b)


@torch.no_grad()
def score_texts(model, tok, texts, window=128, stride=96, calibration=None,
                batch=64):
    """Per text: (max over windows of each label's probability [L], byte
    span (start, end) of the window with the highest probability of any
    label).  Probabilities are calibrated when calibration is given, raw
    sigmoid otherwise."""
    from tokenizer import CLS, windows
    items = []          # (text index, window ids, span)
    for ti, text in enumerate(texts):
        ids, spans = tok.encode(text)
        for s, e in windows(ids, window, stride):
            sp = (spans[s][0], spans[e - 1][1]) if e > s else (0, 0)
            items.append((ti, [CLS] + ids[s:e], sp))
    probs = [None] * len(items)
    order = sorted(range(len(items)), key=lambda i: len(items[i][1]))
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        T = max(len(items[i][1]) for i in idx)
        ids = torch.zeros(len(idx), T, dtype=torch.long)
        mask = torch.zeros(len(idx), T, dtype=torch.bool)
        for r, i in enumerate(idx):
            w = items[i][1]
            ids[r, :len(w)] = torch.tensor(w)
            mask[r, :len(w)] = True
        z = model(ids, mask)
        p = calibrated(z, calibration) if calibration else torch.sigmoid(z)
        for r, i in enumerate(idx):
            probs[i] = p[r].tolist()
    best = [None] * len(texts)
    for (ti, _, sp), pr in zip(items, probs):    # windows in text order
        top = max(pr)
        cur = best[ti]
        if cur is None:
            best[ti] = [list(pr), top, sp]
        else:
            cur[0] = [max(a, b) for a, b in zip(cur[0], pr)]
            if top > cur[1]:
                cur[1], cur[2] = top, sp
    return [(b[0], b[2]) for b in best]
