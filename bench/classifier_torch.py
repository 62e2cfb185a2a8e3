#!/usr/bin/python3
"""PyTorch side of the classifier benchmark (bench/classifier.sh).

    classifier_torch.py MODEL_DIR THREADS [TEXT_FILE]
    classifier_torch.py --make-random DIR     (a model of the shipped shape)
    classifier_torch.py --sample-text FILE    (a ~1 KB answer from the data)

Prints the same "key value" lines as build/bench/classifier for the same
weights and inputs: one 128-token window, batches of 16 windows, and the
CPU time of scoring TEXT_FILE (window 128, stride 96).  With a [CLS]-pooling
model also the first two for cls_only(), PyTorch given the C engine's
last-layer shortcut.

Fair to both sides: eval mode under torch.inference_mode (no autograd),
warm-up calls before any timing, THREADS intra-op threads, and the same
THREADS for the OpenBLAS that PyTorch's Linear layers call here (Debian's
python3-torch uses the system libblas, i.e. OpenBLAS, whose own thread
count torch.set_num_threads leaves at the number of cores)."""

import math
import os
import random
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "train"))

import torch  # noqa: E402

import model as M  # noqa: E402
from cpu_threads import blas_threads  # noqa: E402
import tokenizer as T  # noqa: E402


def answers(n):
    import json
    data = os.path.join(TOP, "..", "shared", "data", "alpacaeval-outputs",
                        "alpacaeval_outputs_5models.jsonl")
    texts = []
    with open(data, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            texts.append(json.loads(line)["output"])
    return texts


def make_random(out):
    """A model of the shipped shape with random weights and a vocabulary
    learnt from a sample of the shared answers (so tokens per byte are
    realistic)."""
    texts = answers(1500)
    torch.manual_seed(1)
    tok = T.train(texts, vocab_size=8192)
    model = M.Encoder(len(tok), 128, 3, 4, 512, 128, len(M.LABELS))
    model.eval()
    M.export(model, tok, M.LABELS, {"scale": [1.0] * 6, "bias": [0.0] * 6},
             out)


def one_kb(texts):
    for t in texts:
        b = t.encode("utf-8")
        if 1000 <= len(b) <= 1100:
            return t
    return (" ".join(texts))[:1024]


def adapt(fn, reps, clock, budget=0.4):
    """Fewer repetitions when one call is slow: about BUDGET seconds a
    round, so a loaded machine cannot stretch the run without bound."""
    t = clock()
    fn()
    one = max(clock() - t, 1e-6)
    return max(1, min(reps, int(budget / one)))


def best_of(fn, reps, rounds=5, clock=time.perf_counter):
    reps = adapt(fn, reps, clock)
    best = 1e9
    for _ in range(rounds):
        t = clock()
        for _ in range(reps):
            fn()
        best = min(best, (clock() - t) / reps)
    return best


def best_cpu(fn, reps, rounds=5):
    return best_of(fn, reps, rounds, time.process_time)


def cls_only(model, ids):
    """model(ids) for a [CLS]-pooling model without padding, computed as
    the C engine does: the last layer's keys and values for every token,
    the rest for [CLS] alone (PyTorch given the same shortcut)."""
    B, Tn = ids.shape
    x = model.tok_emb(ids) + model.pos_emb(torch.arange(Tn))[None]
    for layer in model.layers[:-1]:
        x = layer(x, None)
    L = model.layers[-1]
    a, d, h = L.ln1(x), x.shape[2], L.attn.h
    hd = d // h
    w, b = L.attn.qkv.weight, L.attn.qkv.bias
    q = torch.nn.functional.linear(a[:, :1], w[:d], b[:d])
    kv = torch.nn.functional.linear(a, w[d:], b[d:])
    k, v = kv.split(d, dim=2)
    q = q.view(B, 1, h, hd).transpose(1, 2)
    k = k.view(B, Tn, h, hd).transpose(1, 2)
    v = v.view(B, Tn, h, hd).transpose(1, 2)
    att = torch.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd), dim=-1)
    c = x[:, :1] + L.attn.out(torch.matmul(att, v).transpose(1, 2).reshape(B, 1, d))
    c = c + L.ffn(L.ln2(c))
    return model.head(model.ln_f(c)[:, 0])


def warm(fn, n=3):
    for _ in range(n):
        fn()


@torch.inference_mode()
def main():
    if sys.argv[1] == "--make-random":
        make_random(sys.argv[2])
        return 0
    if sys.argv[1] == "--sample-text":
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            f.write(one_kb(answers(1500)))
        return 0
    threads = int(sys.argv[2])
    torch.set_num_threads(threads)
    print("blas_threads", blas_threads(threads))
    model, tok, cfg = M.load(sys.argv[1])
    Tn = min(128, cfg["max_positions"])
    rnd = random.Random(1)
    ids = torch.tensor([[T.CLS] + [rnd.randrange(4, cfg["vocab_size"])
                                   for _ in range(Tn - 1)]
                        for _ in range(16)])
    print("threads", threads)
    one = ids[:1]
    warm(lambda: model(one))
    t = best_of(lambda: model(one), 50)
    print("single_ms %.3f" % (t * 1e3))
    t = best_cpu(lambda: model(one), 50)
    print("single_cpu_ms %.3f" % (t * 1e3))
    warm(lambda: model(ids))
    t = best_of(lambda: model(ids), 8)
    print("batch_windows_per_s %.1f" % (16 / t))
    t = best_cpu(lambda: model(ids), 8)
    print("batch_cpu_ms_per_window %.3f" % (t * 1e3 / 16))
    if cfg.get("pooling") == "cls":
        if not torch.allclose(cls_only(model, ids), model(ids), atol=1e-4):
            raise SystemExit("cls_only() differs from the model")
        warm(lambda: cls_only(model, one))
        t = best_of(lambda: cls_only(model, one), 50)
        print("cls_only_single_ms %.3f" % (t * 1e3))
        warm(lambda: cls_only(model, ids))
        t = best_of(lambda: cls_only(model, ids), 8)
        print("cls_only_batch_windows_per_s %.1f" % (16 / t))
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding="utf-8") as f:
            text = f.read()
        cal = cfg["calibration"]
        warm(lambda: M.score_texts(model, tok, [text], 128, 96, cal))
        t = best_cpu(lambda: M.score_texts(model, tok, [text], 128, 96, cal),
                     20)
        print("text_cpu_ms %.3f" % (t * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
