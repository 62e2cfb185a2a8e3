#!/usr/bin/python3
"""The functional test suite (tests/data/functional/, format in its README).

  train/functional.py --check [SUITE]
  train/functional.py [--model DIR] [--config FILE | --thresholds FILE]
                      [--policy NAME] [--json] [SUITE]

--check checks the suite and prints one line per problem (exit 1 when there
is one).  Otherwise the suite goes through `build/modgate eval -j` (the C
pipeline decides what is flagged: rules, classifier, policy) and this prints,
in Markdown for the model card, per functionality the cases, harmful and
harmless ones, the share of harmless cases flagged and of harmful cases
caught, then per identity term (cases with an "identity" field) the same for
identity_neutral and identity_hate.  The model and policy are those of
--config (default etc/modgated.conf, its default policy); --model DIR
scores another model under the same policy; --thresholds FILE (a model's
thresholds.json) runs instead under a policy made of its block and rewrite
scores, with the shipped rules and its window and stride.
Standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.path.join(TOP, "tests", "data", "functional")
LABELS = ("hate", "harassment", "sexual", "violence", "self_harm",
          "jailbreak")
FIELDS = {"id", "functionality", "text", "labels", "pair"}
OPTIONAL = {"identity"}
MIN_CASES = 40          # per functionality
IDENTITY_FILE = "identity_neutral"
IDENTITY_TERMS = 30     # distinct terms in IDENTITY_FILE ...
IDENTITY_USES = 3       # ... each on at least this many cases
CARD_INTRO = """## Functional suite

`train/functional.py %s` (through `modgate eval`: the whole pipeline, rules \
included, under etc/modgated.conf's default policy) on the team's own suite \
tests/data/functional/, pairs of harmful and harmless texts that share their \
words. No case of it is used in training, calibration or thresholds.

"""
NAME = re.compile(r"^[a-z0-9_]+$")
CONFIG = os.path.join(TOP, "etc", "modgated.conf")
MODGATE = os.path.join(TOP, os.environ.get("BUILD", "build"), "modgate")
TARGET_FLAGGED = 0.10   # harmless cases flagged, per functionality
TARGET_IDENTITY = 0.20  # harmless identity sentences flagged, per term
ID = re.compile(r"^([a-z0-9_]+)-([0-9]{3,})$")


def load(suite=SUITE):
    """Every case of SUITE as (file, line number, parsed object or None)."""
    out = []
    for name in sorted(os.listdir(suite)):
        if not name.endswith(".jsonl"):
            continue
        path = os.path.join(suite, name)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                out.append((name, n, obj if isinstance(obj, dict) else None))
    return out


def harmful(case):
    return any(case["labels"][k] for k in LABELS)


def case_errors(name, case):
    """Problems of one parsed CASE of file NAME, on its own."""
    stem = name[:-len(".jsonl")]
    errs = []
    keys = set(case)
    if FIELDS - keys:
        errs.append("missing %s" % ", ".join(sorted(FIELDS - keys)))
    if keys - FIELDS - OPTIONAL:
        errs.append("unknown field %s" % ", ".join(sorted(keys - FIELDS -
                                                           OPTIONAL)))
    if not NAME.match(stem):
        errs.append("file name must be [a-z0-9_]+.jsonl")
    if case.get("functionality") != stem:
        errs.append("functionality %r is not the file's name %r" %
                    (case.get("functionality"), stem))
    m = ID.match(case.get("id")) if isinstance(case.get("id"), str) else None
    if not m or m.group(1) != stem:
        errs.append("id %r is not %s-NNN" % (case.get("id"), stem))
    t = case.get("text")
    if not isinstance(t, str) or not t.strip() or t != t.strip():
        errs.append("text must be a non-empty string without leading or "
                    "trailing white space")
    labs = case.get("labels")
    if not isinstance(labs, dict) or set(labs) != set(LABELS) or any(
            type(labs[k]) is not int or labs[k] not in (0, 1) for k in labs):
        errs.append("labels must give all of %s as 0 or 1" % ", ".join(LABELS))
    if not isinstance(case.get("pair"), str):
        errs.append("pair must be an id")
    ident = case.get("identity")
    if "identity" in case and (not isinstance(ident, str) or not ident or
                               ident != ident.strip().lower()):
        errs.append("identity must be a lower-case term")
    return errs


def check(cases):
    """Problems of the suite CASES (from load) as "file:line: message"."""
    errs, byid, texts, count = [], {}, {}, {}
    good = []
    for name, n, case in cases:
        where = "%s:%d" % (name, n)
        if case is None:
            errs.append("%s: not a JSON object" % where)
            continue
        e = case_errors(name, case)
        errs += ["%s: %s" % (where, x) for x in e]
        count[name[:-6]] = count.get(name[:-6], 0) + 1
        if e:
            continue
        if case["id"] in byid:
            errs.append("%s: id %s also at %s" % (where, case["id"],
                                                 byid[case["id"]][0]))
            continue
        if case["text"] in texts:
            errs.append("%s: same text as %s" % (where, texts[case["text"]]))
        texts[case["text"]] = where
        byid[case["id"]] = (where, case)
        good.append((where, case))
    for where, case in good:
        twin = byid.get(case["pair"])
        if case["pair"] == case["id"]:
            errs.append("%s: %s is its own pair" % (where, case["id"]))
        elif twin is None:
            errs.append("%s: pair %s does not exist" % (where, case["pair"]))
        elif twin[1]["pair"] != case["id"]:
            errs.append("%s: pair %s names %s back, not %s" % (
                where, case["pair"], twin[1]["pair"], case["id"]))
    for func, k in sorted(count.items()):
        if k < MIN_CASES:
            errs.append("%s.jsonl: %d cases, fewer than %d" % (func, k,
                                                                MIN_CASES))
    if IDENTITY_FILE in count:
        uses = {}
        for where, case in good:
            if case["functionality"] == IDENTITY_FILE:
                if "identity" not in case:
                    errs.append("%s: no identity term" % where)
                else:
                    uses[case["identity"]] = uses.get(case["identity"], 0) + 1
        rare = sorted(t for t, k in uses.items() if k < IDENTITY_USES)
        if rare:
            errs.append("%s.jsonl: terms on fewer than %d cases: %s" % (
                IDENTITY_FILE, IDENTITY_USES, ", ".join(rare)))
        if len(uses) < IDENTITY_TERMS:
            errs.append("%s.jsonl: %d identity terms, fewer than %d" % (
                IDENTITY_FILE, len(uses), IDENTITY_TERMS))
    return errs


def threshold_config(path, model, out):
    """A config at OUT: the shipped rules, MODEL with the window and stride
    of the thresholds.json at PATH, one policy "default" of its scores."""
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    cats = "".join("    %s = { block = %r; rewrite = %r; };\n" % (
        k, float(t["block"][k]), float(t["rewrite"][k])) for k in t["labels"])
    with open(out, "w", encoding="utf-8") as f:
        f.write('rules: { paths = [ %s ]; };\n'
                'classifier: { model = %s; window = %d; stride = %d; };\n'
                'policies: { default: { categories = {\n%s  }; }; };\n' % (
                    json.dumps(os.path.join(TOP, "rules", "*.rules")),
                    json.dumps(os.path.abspath(model)), t.get("window", 128),
                    t.get("stride", 96), cats))


def run_eval(cases, conf, model=None, policy=None, modgate=MODGATE):
    """`modgate eval -j` on CASES (dicts with text, labels, functionality);
    its "functional" object."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl",
                                     encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps({k: c[k] for k in ("text", "labels",
                                                  "functionality")}) + "\n")
        f.flush()
        cmd = [modgate, "eval", "-j", "-c", conf]
        if model:
            cmd += ["-m", model]
        if policy:
            cmd += ["-p", policy]
        p = subprocess.run(cmd + [f.name], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("%s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                               p.stderr))
    rep = json.loads(p.stdout)
    return rep, rep.get("functional", {"functionalities": {}, "all": None})


def pct(k, n):
    return "-" if n == 0 else "%.1f%% (%d/%d)" % (100.0 * k / n, k, n)


def markdown(func, idents):
    """The two tables, as lines of Markdown."""
    out = ["| functionality | cases | harmful | harmless | harmless flagged "
           "| harmful caught |", "|---|---|---|---|---|---|"]
    rows = sorted(func["functionalities"].items())
    for name, g in rows + [("**all**", func["all"])]:
        out.append("| %s | %d | %d | %d | %s | %s |" % (
            name, g["n"], g["harmful"], g["harmless"],
            pct(g["harmless_flagged"], g["harmless"]),
            pct(g["harmful_caught"], g["harmful"])))
    over = [n for n, g in rows if g["harmless"] and g["harmless_flagged"] >
            TARGET_FLAGGED * g["harmless"]]
    out += ["", "Functionalities whose harmless cases are flagged more than "
            "%d%% of the time: %d of %d%s." % (
                100 * TARGET_FLAGGED, len(over),
                sum(1 for _, g in rows if g["harmless"]),
                (" (" + ", ".join(over) + ")") if over else "")]
    if not idents:
        return out
    out += ["", "| identity term | neutral flagged | hateful caught |",
            "|---|---|---|"]
    order = sorted(idents.items(), key=lambda kv: (
        -kv[1]["neutral"][0] / max(kv[1]["neutral"][1], 1), kv[0]))
    for term, v in order:
        out.append("| %s | %s | %s |" % (term, pct(*v["neutral"]),
                                         pct(*v["hate"])))
    over = [t for t, v in order if v["neutral"][1] and
            v["neutral"][0] > TARGET_IDENTITY * v["neutral"][1]]
    out += ["", "Identity terms whose neutral sentences are flagged more "
            "than %d%% of the time: %d of %d%s." % (
                100 * TARGET_IDENTITY, len(over), len(idents),
                (" (" + ", ".join(over) + ")") if over else "")]
    return out


def identity_figures(cases, run):
    """Per identity term: [flagged, cases] of identity_neutral and
    [caught, cases] of identity_hate, from RUN (run_eval on cases whose
    functionality is "SIDE:TERM")."""
    sides = {"identity_neutral": "neutral", "identity_hate": "hate"}
    sel = [dict(c, functionality="%s:%s" % (sides[c["functionality"]],
                                            c["identity"]))
           for c in cases if c["functionality"] in sides and "identity" in c]
    if not sel:
        return {}
    out = {}
    for name, g in run(sel)["functionalities"].items():
        side, term = name.split(":", 1)
        v = out.setdefault(term, {"neutral": (0, 0), "hate": (0, 0)})
        v[side] = ((g["harmless_flagged"], g["harmless"]) if side ==
                   "neutral" else (g["harmful_caught"], g["harmful"]))
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--check", action="store_true",
                    help="check the suite and exit")
    ap.add_argument("--model", help="model directory (default: the "
                    "config's)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--config", default=CONFIG, help="modgated.conf "
                   "(default %(default)s)")
    g.add_argument("--thresholds", help="a thresholds.json: its scores "
                   "as the policy")
    ap.add_argument("--policy", help="policy (default: the config's "
                    "default)")
    ap.add_argument("--modgate", default=MODGATE, help="modgate binary "
                    "(default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print JSON, not "
                    "Markdown")
    ap.add_argument("--card", metavar="DIR", help="also put the tables into "
                    "DIR/MODEL_CARD.md as its Functional suite section")
    ap.add_argument("suite", nargs="?", default=SUITE)
    a = ap.parse_args()
    loaded = load(a.suite)
    errs = check(loaded)
    for e in errs:
        print(e, file=sys.stderr if not a.check else sys.stdout)
    if a.check:
        return 1 if errs else 0
    if errs:
        return 1
    cases = [c for _, _, c in loaded]
    with tempfile.TemporaryDirectory(prefix="functional-") as tmp:
        conf = a.config
        if a.thresholds:
            conf = os.path.join(tmp, "modgated.conf")
            threshold_config(a.thresholds, a.model or os.path.join(
                TOP, "models", "default"), conf)

        def run(sel):
            return run_eval(sel, conf, a.model, a.policy, a.modgate)[1]
        rep, func = run_eval(cases, conf, a.model, a.policy, a.modgate)
        idents = identity_figures(cases, run)
    if a.json:
        json.dump({"model": rep["model"], "policy": rep["policy"],
                   "functional": func, "identity": idents}, sys.stdout,
                  indent=2)
        print()
        return 0
    text = "Model `%s`, policy `%s`; %d cases in %d functionalities.\n\n%s" % (
        os.path.relpath(rep["model"], TOP) if os.path.isabs(rep["model"])
        else rep["model"], rep["policy"], func["all"]["n"],
        len(func["functionalities"]), "\n".join(markdown(func, idents)))
    print(text)
    if a.card:
        from card import put_card_section
        put_card_section(a.card, CARD_INTRO % " ".join(sys.argv[1:]) + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
