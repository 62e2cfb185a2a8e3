#!/usr/bin/python3
"""Golden fixtures for the C engine: a tiny modgate-encoder-v1 model with
random weights and a small vocabulary learnt from a sample of the shared
text, plus inputs and what PyTorch makes of them.

    golden.py [--out DIR] [--data DIR]
    golden.py --expect MODEL_DIR --texts IN.jsonl [--window W --stride S]
              [--logits N] > OUT.jsonl

Writes DIR/{config.json,model.safetensors,tokenizer.txt,cases.jsonl}
(default tests/data/model-golden), and the same into DIR-cls for the same
weights with [CLS] pooling and a window-count term (fewer cases).  Each line of cases.jsonl:
  {"text", "ids", "spans", "window", "stride",
   "windows": [{"start", "len", "logits", "ngram"}], "scores", "span"}
where windows are those of FORMAT.md ("start" is the first token index,
"len" counts [CLS]), logits come from the unpadded forward pass of each
window on its own, scores/span from model.score_texts (padded batches).

Everything is seeded; a rerun on the same data gives the same files.

--expect writes, for every {"text"} line of IN.jsonl, the same kind of
line for an existing model directory (the shipped one, say): ids and spans
from the Python tokenizer for all lines, window logits and scores from
PyTorch for the first N lines only (default all).
"""

import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from cpu_threads import use_threads  # noqa: E402
import model as M  # noqa: E402
import ngram as NG  # noqa: E402
import tokenizer as T  # noqa: E402

TOP = os.path.dirname(HERE)

# tiny shape: 2 layers, 4 heads, windows of up to 32 tokens
SHAPE = dict(d_model=32, n_layers=2, n_heads=4, d_ff=64, max_positions=32,
             norm_eps=1e-5)
VOCAB = 700
NGRAM_BUCKETS = 4096
SEED = 20261127
CLS_BLNS = 120          # blns cases of the [CLS] variant


def sample_texts(data):
    """A fixed sample of clean LLM answers and tweets for the vocabulary."""
    out = []
    p = os.path.join(data, "alpacaeval-outputs",
                     "alpacaeval_outputs_5models.jsonl")
    with open(p, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 400:
                break
            out.append(json.loads(line)["output"])
    return out


def blns(data):
    with open(os.path.join(data, "blns", "blns.json"), encoding="utf-8") as f:
        items = json.load(f)
    keep = []
    for s in items:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            continue        # lone surrogates: not UTF-8, never a request
        if "\0" in s:
            continue        # requests never hold NUL
        keep.append(s)
    return keep


def own_cases(sample):
    long = " ".join(sample[:3])
    return [
        "",
        "Hello, world!",
        "HELLO World MiXeD CaSe ÀÉÎ",
        "caf\u00e9 fa\u00e7ade na\u00efve \u2014 \u00fcber Stra\u00dfe",
        "e\u0301 combining acute, a\u0308 diaeresis",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068 English",
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
        "emoji \U0001F600\U0001F44D\U0001F3FD family \U0001F468\u200d"
        "\U0001F469\u200d\U0001F467 flag \U0001F1EB\U0001F1F7",
        "tabs\tand\nnew\rlines\x0bvt\x0cff nbsp\u00a0here line\u2028sep "
        "para\u2029sep nel\u0085x zwsp\u200bx",
        "a" * 64 + " " + "b" * 65 + " ok",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "numbers 12345 3.14159 \u0663\u0664 \u2167 \u00bd",
        "punctuation!!! ??? ... --- (brackets) [square] {curly} <angle>",
        "x" * 10 + "!" * 40,
        long,
        long + " " + long,
    ]


def randomize(model):
    """Weights of unit-scale activations, so logits are O(1) and every
    term of the forward pass matters in the comparison."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif ".ln" in name or name.startswith("ln_f"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("emb.weight"):
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1]
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


@torch.no_grad()
def case(model, tok, cal, text, window, stride, head=None):
    """head: (weight, bias, cfg["ngram"]) of an n-gram head, or None."""
    ids, spans = tok.encode(text)
    wins = []
    for s, e in T.windows(ids, window, stride):
        x = torch.tensor([[T.CLS] + ids[s:e]], dtype=torch.long)
        z = model(x)[0]
        wins.append({"start": s, "len": 1 + e - s,
                     "logits": [float(v) for v in z]})
    if head is None:
        (scores, span), = M.score_texts(model, tok, [text], window, stride, cal)
    else:
        weight, bias, ng = head
        fz = NG.Featurizer(ng["buckets"])
        ws = NG.window_logits(model, tok, fz, weight, bias, [text], window, stride,
                              context=ng.get("context", "window"))
        for w, (_, zn, _) in zip(wins, ws[0]):
            w["ngram"] = [float(v) for v in zn]
        sc, sp = NG.doc_scores(ws, ng["combine"])
        scores, span = sc[0], sp[0]
    return {"text": text, "ids": ids, "spans": [list(p) for p in spans],
            "window": window, "stride": stride, "windows": wins,
            "scores": [float(v) for v in scores], "span": list(span)}


def build(out, data):
    torch.manual_seed(SEED)
    sample = sample_texts(data)
    tok = T.train(sample, vocab_size=VOCAB, min_char_count=2,
                  max_word_chars=64)
    model = M.Encoder(len(tok), n_labels=len(M.LABELS), **SHAPE)
    randomize(model)
    model.eval()
    g = torch.Generator().manual_seed(SEED + 1)
    cal = {"scale": [float(1 + 0.5 * v) for v in torch.rand(6, generator=g)],
           "bias": [float(v - 0.5) for v in torch.rand(6, generator=g)]}
    M.export(model, tok, M.LABELS, cal, out)
    # a small n-gram head: random weights of a size that makes both
    # logits matter in the combination
    weight = (0.5 * torch.randn(NGRAM_BUCKETS, len(M.LABELS), generator=g)).numpy()
    bias = (0.1 * torch.randn(len(M.LABELS), generator=g)).numpy()
    comb = {"w_transformer": [float(0.5 + v) for v in torch.rand(6, generator=g)],
            "w_ngram": [float(0.5 + v) for v in torch.rand(6, generator=g)],
            "bias": [float(v - 0.5) for v in torch.rand(6, generator=g)]}
    NG.export_head(out, weight, bias, comb, NGRAM_BUCKETS, "window")
    texts = own_cases(sample)
    write_cases(out, model, tok, cal, texts, blns(data))
    # the same weights with [CLS] pooling and a window-count term, on
    # fewer cases: OUT-cls
    slope = [float(v) for v in torch.rand(6, generator=g)]
    model.pooling = model.hp["pooling"] = "cls"
    M.export(model, tok, M.LABELS, cal, out + "-cls")
    NG.export_head(out + "-cls", weight, bias, dict(comb, window_slope=slope),
                   NGRAM_BUCKETS, "window")
    write_cases(out + "-cls", model, tok, cal, texts, blns(data)[:CLS_BLNS])


def write_cases(out, model, tok, cal, texts, more):
    """out/cases.jsonl: TEXTS at window 16 (the last two also at 32),
    MORE at 16."""
    head = NG.load_head(out)
    with open(os.path.join(out, "cases.jsonl.tmp"), "w",
              encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(case(model, tok, cal, t, 16, 8, head),
                               ensure_ascii=False) + "\n")
        for t in texts[-2:]:
            f.write(json.dumps(case(model, tok, cal, t, 32, 24, head),
                               ensure_ascii=False) + "\n")
            f.write(json.dumps(case(model, tok, cal, t, 32, 31, head),
                               ensure_ascii=False) + "\n")
        for t in more:
            f.write(json.dumps(case(model, tok, cal, t, 16, 8, head),
                               ensure_ascii=False) + "\n")
    os.replace(os.path.join(out, "cases.jsonl.tmp"),
               os.path.join(out, "cases.jsonl"))


def expect(a):
    model, tok, cfg = M.load(a.expect)
    cal = cfg["calibration"]
    head = NG.load_head(a.expect)
    w = min(a.window, cfg["max_positions"])
    stride = min(a.stride, w - 1)
    with open(a.texts, encoding="utf-8") as f:
        for i, line in enumerate(f):
            text = json.loads(line)["text"]
            if a.logits is None or i < a.logits:
                out = case(model, tok, cal, text, w, stride, head)
            else:
                ids, spans = tok.encode(text)
                out = {"text": text, "ids": ids,
                       "spans": [list(p) for p in spans]}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(TOP, "tests", "data",
                                                  "model-golden"))
    ap.add_argument("--data", default=os.path.join(TOP, "..", "shared",
                                                   "data"))
    ap.add_argument("--expect", metavar="MODEL_DIR")
    ap.add_argument("--texts")
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--stride", type=int, default=96)
    ap.add_argument("--logits", type=int)
    a = ap.parse_args()
    if a.expect:
        use_threads(1)
        expect(a)
        return 0
    os.makedirs(a.out, exist_ok=True)
    build(a.out, a.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
