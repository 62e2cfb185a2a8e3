#!/usr/bin/env python3
"""gen-lexicon-rules: write rules/profanity.rules and rules/slurs.rules from
../shared/data/surge-profanity/profanity_en.csv (Surge AI, MIT licence).

Each canonical term (canonical_form_1) becomes one rule on the skeleton form
whose pattern is the alternation of the skeleton forms of all its listed
spellings (computed by scripts/normtool.c, the rules stage's own code, so the
pattern and the text always agree).  Profanity rules mask the hit with the
term's first letter and asterisks; terms rated below 1.3 (mild, often benign:
"crow", "swine") are in monitor mode.  Slurs (racial / ethnic, sexual
orientation / gender, disability, political categories, rated 2.0 or more)
block.  Every spelling becomes a `test match` line, and every rule gets a
`test nomatch` line of benign words that contain the terms (Scunthorpe).

A spelling that occurs in ordinary chatbot answers (the alpacaeval-outputs
answers of every generator but the one the model card holds out, as
skeletons) is ambiguous ("finger", "spic" in "spices"): it goes to a rule of
its own with the suffix "-ambiguous" in monitor mode, so it is recorded but
never changes a verdict.  A slur spelling with a harmless sense (SENSES: a
homonym such as "chink in the armour" or the country Niger, a reclaimed
term, a historical name such as the Negro Leagues) goes to a rule with the
suffix "-context" whose action is flag: the hit is listed, and the
classifier's score decides the verdict.

Profanity of four to seven letters also matches masked: the first and last
letters kept and any letters between them replaced by asterisks ("f*ck", "f**k", "a**hole", "f***ing"); leetspeak ("sh!t",
"b1tch") is folded by the skeleton form already.

    make build/libmodgate.a && scripts/gen-lexicon-rules.py [DATA_DIR]
"""
import collections
import csv
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    TOP, "..", "shared", "data", "surge-profanity")
SLUR_CATS = {
    "racial / ethnic slurs": "race",
    "sexual orientation / gender": "gender",
    "mental disability": "disability",
    "physical disability": "disability",
    "political": "origin",
}
# Spellings left out: ordinary words or names, numbers, too short to be safe.
EXCLUDE = {
    "69", "s.o.b.", "s.o.b.s", "sob", "bastinado", "cooties", "hustler",
    "go to hell", "nymphomaniac", "crow", "crows", "kkk", "tart", "bell end",
    "dolt", "b to the inch", "bender", "hell", "god", "nonce", "scut",
}
# Slur spellings with harmless senses: flagged, never blocked by a rule
# alone (homonyms, reclaimed terms, historical or quoted use).  A skeleton
# here takes every spelling that folds to it ("n1g3r" is "niger").
SENSES = {
    # homonyms
    "chink", "niger", "nigers", "hoe", "hoes", "jigger", "jiggers", "nicker",
    "gyp", "spick", "spix", "spooks", "coons", "skank", "sambo", "mongrel",
    "flamer", "flamers", "tranny", "shiester", "sheister", "fag", "fags",
    "faggot", "faggots", "blacky", "cotton picker", "camel jockey",
    # historical, scientific or literary use
    "negro", "negroes", "negroid", "mongoloid", "retard", "retarded",
    "redskin", "injun", "tar-baby", "transvestite", "whore", "whores",
    "chinese-virus", "china-virus", "chinavirus",
    # reclaimed
    "dyke", "slut", "homos", "heeb", "nigga", "niggas", "ladyboy",
    "ladyboys", "lady-boy",
}
MASK_LEN = 7
BENIGN = ("A classic assessment in Scunthorpe: the therapist and Dickens "
          "had a cocktail with shiitake in Essex, then a grape analysis.")
MONITOR_BELOW = 1.3
SLUR_MIN = 2.0
CLEAN = os.path.join(os.path.dirname(DATA), "alpacaeval-outputs",
                     "alpacaeval_outputs_5models.jsonl")
HELD_OUT_GENERATOR = "Meta-Llama-3-8B-Instruct"


def normtool_build():
    exe = os.path.join(tempfile.mkdtemp(), "normtool")
    libs = subprocess.run(["pkg-config", "--libs", "libutf8proc"],
                          capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-O2", "-D_GNU_SOURCE",
                    "-I" + os.path.join(TOP, "include"), "-o", exe,
                    os.path.join(TOP, "scripts", "normtool.c"),
                    os.path.join(TOP, "build", "libmodgate.a")] + libs +
                   ["-pthread"], check=True)
    return exe


def skeletons(exe, terms):
    """Skeleton of each term inside a sentence, as the test lines use it
    (a term's last character folds differently at the end of a text)."""
    lines = ["so " + t.strip() + " then" for t in terms]
    out = subprocess.run([exe, "skeleton"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout
    keys = []
    for k in out.split("\n")[:len(terms)]:
        if k.startswith("so ") and k.endswith(" then"):
            keys.append(k[3:-5])
        else:
            keys.append("")
    return keys


def clean_skeletons(exe):
    """Skeletons of the clean answers used to find ambiguous spellings."""
    import json
    texts = []
    for line in open(CLEAN, encoding="utf-8"):
        d = json.loads(line)
        if HELD_OUT_GENERATOR in str(d.get("generator", "")):
            continue
        texts.append(" ".join(d["output"].split()))
    out = subprocess.run([exe, "skeleton"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return out


def ambiguous(keys, clean):
    """The keys whose pattern matches somewhere in CLEAN.  A key of letters
    and digits alone matches where a word of CLEAN is the key, plus "s" or
    "es" (the pattern's look-arounds); other keys run their pattern."""
    words = set(re.split(r"[^a-z0-9]+", clean))
    squeezed = clean.replace(" ", "")
    out = set()
    for k in set(keys):
        if re.fullmatch(r"[a-z0-9]+", k):
            if k in words or k + "s" in words or k + "es" in words:
                out.add(k)
        elif k.replace(" ", "") in squeezed and \
                re.search(pattern([k])[1:-1], clean) is not None:
            out.add(k)
    return out


def rstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def masked(k):
    """K as a pattern that also takes it masked, or None: a word of four to
    MASK_LEN letters whose inner letters may each be an asterisk (the first
    and last letters kept: "f*ck", "f**k", "a**hole", "f***ing").  Short
    words only (compounds are seldom masked): a class per letter costs the
    prefilter's compile more for every letter."""
    if not re.fullmatch(r"[a-z]{4,%d}" % MASK_LEN, k):
        return None
    return k[0] + "".join("[%s*]" % c for c in k[1:-1]) + k[-1]


def pattern(keys, masks=False):
    alts = []
    for k in sorted(set(keys), key=lambda k: (-len(k), k)):
        e = masked(k) if masks else None
        alts.append(e if e is not None else
                    re.escape(k).replace("\\ ", " ?"))
    body = "|".join(alts)
    return "/(?<![a-z0-9])(?:%s)(?:e?s)?(?![a-z0-9])/" % body


def split(g, amb, senses=()):
    """(suffix, spellings, mode) of the rules a term's spellings make: the
    unambiguous ones enforced, those with a harmless sense flagged
    ("context"), the ambiguous ones in monitor mode."""
    keys = {k for text, k, _ in g if k in senses or text.lower() in senses}
    sure = [x for x in g if x[1] not in amb and x[1] not in keys]
    ctx = [x for x in g if x[1] not in amb and x[1] in keys]
    unsure = [x for x in g if x[1] in amb]
    out = []
    if sure:
        out.append(("", sure, "enforce"))
    if ctx:
        out.append(("-context", ctx, "context"))
    if unsure:
        out.append(("-ambiguous", unsure, "monitor"))
    return out


def tests(f, part, masks=False):
    seen = set()
    for text, k, _ in part:
        if k in seen:
            continue
        seen.add(k)
        f.write("\ttest match   %s\n" % rstr("so " + text + " then"))
    if masks:
        k = next((k for _, k, _ in part if masked(k)), None)
        if k is not None:
            f.write("\ttest match   %s\n" %
                    rstr("so " + k[0] + "*" * (len(k) - 2) + k[-1] + " then"))
    f.write("\ttest nomatch %s\n}\n" % rstr(BENIGN))


def slug(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def main():
    rows = list(csv.DictReader(open(os.path.join(DATA, "profanity_en.csv"),
                                    encoding="utf-8")))
    exe = normtool_build()
    keys = skeletons(exe, [r["text"] for r in rows])
    amb = ambiguous([k for k in keys if k], clean_skeletons(exe))
    prof = collections.OrderedDict()
    slurs = collections.OrderedDict()
    for r, k in zip(rows, keys):
        text = r["text"].strip()
        rating = float(r["severity_rating"])
        if text.lower() in EXCLUDE or len(k.replace(" ", "")) < 3 or \
                not re.search(r"[a-z]", k) or "\n" in text:
            continue
        canon = r["canonical_form_1"].strip() or text
        if not re.search(r"[a-z]", canon.lower()):
            continue
        cat = SLUR_CATS.get(r["category_1"])
        if cat is not None and rating >= SLUR_MIN:
            g = slurs.setdefault((cat, canon), [])
        else:
            g = prof.setdefault(canon, [])
        g.append((text, k, rating))

    head = ("# %s: generated by scripts/gen-lexicon-rules.py from the Surge AI\n"
            "# profanity list (https://github.com/surge-ai/profanity, commit\n"
            "# 77dabf3, MIT licence, Copyright (c) 2021 Surge AI); do not edit,\n"
            "# regenerate.  Patterns are on the skeleton form (man 5\n"
            "# modgate.rules), so case, accents, look-alike letters, leetspeak,\n"
            "# zero-width characters and spaced-out letters are already folded.\n")
    with open(os.path.join(TOP, "rules", "profanity.rules"), "w") as f:
        f.write(head % "profanity.rules")
        f.write("# Hits are masked; mild terms (rated below %.1f of 3) are in\n"
                "# monitor mode: recorded, never rewritten.\n" % MONITOR_BELOW)
        for canon, g in sorted(prof.items()):
            top = max(x[2] for x in g)
            mask = canon[0] + "*" * (len(canon) - 1) if len(canon) > 1 else "*"
            for suffix, part, mode in split(g, amb):
                f.write("\nrule profanity.%s%s {\n" % (slug(canon), suffix))
                f.write("\tmatch    %s\n" %
                        pattern([x[1] for x in part], masks=True))
                f.write("\ton       skeleton\n\tcategory profanity\n")
                f.write("\taction   rewrite %s\n" % rstr(mask))
                f.write("\tscore    %.2f\n" % (top / 3))
                if mode == "monitor" or top < MONITOR_BELOW:
                    f.write("\tmode     monitor\n")
                tests(f, part, masks=True)
    n = collections.Counter()
    with open(os.path.join(TOP, "rules", "slurs.rules"), "w") as f:
        f.write(head % "slurs.rules")
        f.write("# Slurs (rated %.1f of 3 or more) block; spellings with a\n"
                "# harmless sense (homonyms, reclaimed or historical use) only\n"
                "# flag (ID-context): the classifier decides.  Rule ids are\n"
                "# neutral on purpose: they appear in answers and audit records.\n"
                % SLUR_MIN)
        for (cat, canon), g in sorted(slurs.items()):
            n[cat] += 1
            for suffix, part, mode in split(g, amb, SENSES):
                f.write("\nrule slur.%s-%02d%s {\n" % (cat, n[cat], suffix))
                f.write("\tmatch    %s\n" % pattern([x[1] for x in part]))
                f.write("\ton       skeleton\n\tcategory slur\n"
                        "\taction   %s\n" %
                        ("flag" if mode == "context" else "block"))
                f.write("\tscore    %.2f\n" % (max(x[2] for x in g) / 3))
                if mode == "monitor":
                    f.write("\tmode     monitor\n")
                tests(f, part)
    print("profanity: %d rules, slurs: %d rules" % (len(prof), len(slurs)))


if __name__ == "__main__":
    main()
