#!/usr/bin/env python3
"""mkseeds-model.py: write the seeds of fuzz-model-load into DIR (default
fuzz/corpus/model-load): tiny but valid model directories (config.json,
tokenizer, safetensors joined by lines "%%%%", as fuzz-model-load.c reads
them), and a few broken variants.  Standard library only."""
import json
import os
import random
import struct
import sys

SEP = b"\n%%%%\n"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "e", "n", "r", "s", "w",
         "##a", "##e", "##n", "##r", "##s", "##w", "answer", "##er", "1",
         "2", "3", "4"]


def model(d=4, layers=1, heads=1, ff=8, pos=16, labels=("hate", "sexual"),
          seed=1):
    rnd = random.Random(seed)
    cfg = {"format": "modgate-encoder-v1", "vocab_size": len(VOCAB),
           "d_model": d, "n_layers": layers, "n_heads": heads, "d_ff": ff,
           "max_positions": pos, "norm_eps": 1e-5, "labels": list(labels),
           "tokenizer": {"kind": "wordpiece", "file": "tokenizer.txt",
                         "max_word_chars": 32},
           "calibration": {"scale": [1.0] * len(labels),
                           "bias": [0.0] * len(labels)}}
    shapes = [("tok_emb.weight", [len(VOCAB), d]),
              ("pos_emb.weight", [pos, d])]
    for i in range(layers):
        p = "layers.%d." % i
        shapes += [(p + "ln1.weight", [d]), (p + "ln1.bias", [d]),
                   (p + "attn.qkv.weight", [3 * d, d]),
                   (p + "attn.qkv.bias", [3 * d]),
                   (p + "attn.out.weight", [d, d]),
                   (p + "attn.out.bias", [d]),
                   (p + "ln2.weight", [d]), (p + "ln2.bias", [d]),
                   (p + "ffn.up.weight", [ff, d]), (p + "ffn.up.bias", [ff]),
                   (p + "ffn.down.weight", [d, ff]),
                   (p + "ffn.down.bias", [d])]
    shapes += [("ln_f.weight", [d]), ("ln_f.bias", [d]),
               ("head.weight", [len(labels), d]),
               ("head.bias", [len(labels)])]
    header, blob = {}, b""
    for name, shape in shapes:
        n = 1
        for s in shape:
            n *= s
        data = struct.pack("<%df" % n, *[rnd.uniform(-0.5, 0.5)
                                         for _ in range(n)])
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    st = struct.pack("<Q", len(h)) + h + blob
    return cfg, st


def join(cfg, vocab, st):
    c = cfg if isinstance(cfg, bytes) else json.dumps(cfg, indent=1).encode()
    return c + SEP + ("\n".join(vocab) + "\n").encode() + SEP + st


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/model-load"
    os.makedirs(out, exist_ok=True)
    seeds = {}
    cfg, st = model()
    seeds["tiny"] = join(cfg, VOCAB, st)
    cfg2, st2 = model(d=8, layers=2, heads=2, ff=8, pos=8, seed=2,
                      labels=("hate", "harassment", "sexual", "violence",
                              "self_harm", "jailbreak"))
    seeds["two-layers"] = join(cfg2, VOCAB, st2)
    seeds["two-layers-cls"] = join(dict(cfg2, pooling="cls"), VOCAB, st2)
    bad = dict(cfg, vocab_size=len(VOCAB) + 1)
    seeds["vocab-mismatch"] = join(bad, VOCAB, st)
    seeds["truncated-weights"] = join(cfg, VOCAB, st[:len(st) // 2])
    seeds["heads-not-divisor"] = join(dict(cfg, n_heads=3), VOCAB, st)
    seeds["not-json"] = join(b"{\"format\": ", VOCAB, st)
    seeds["empty"] = b""
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
