#!/usr/bin/env python3
"""Write a model's recommended thresholds into the policies of a
modgated.conf, or check that they are there.

  scripts/policy-thresholds.py [--check] [MODEL_DIR [CONF]]

MODEL_DIR (default models/default) holds thresholds.json; CONF (default
etc/modgated.conf) is rewritten in place: in each policy below, the lines of
its `categories = { ... };` block become

  default, family, monitor  rewrite and block as recommended;
  strict                    block at the recommended rewrite threshold,
                            rewrite at 0.8 times it;
  permissive                block only, 0.15 above the recommended block
                            threshold (at most 0.97, never below it).

A policy the file does not have is skipped; everything else in the file
stays as it is.  --check changes nothing and exits 1 when the file differs
from what it would write (make test runs it on the shipped pair).
"""
import json
import os
import re
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def derive(thr):
    """{policy: {category: {"block": x, "rewrite": y}}} from thresholds.json."""
    rew, blk = thr["rewrite"], thr["block"]
    same = {c: {"block": blk[c], "rewrite": rew[c]} for c in thr["labels"]}
    return {
        "default": same, "family": same, "monitor": same,
        "strict": {c: {"block": rew[c], "rewrite": round(0.8 * rew[c], 4)}
                   for c in thr["labels"]},
        "permissive": {c: {"block": round(max(blk[c], min(0.97, blk[c] + 0.15)), 4)}
                       for c in thr["labels"]},
    }


def render(cats, indent):
    lines = []
    for c, v in cats.items():
        parts = " ".join("%s = %s;" % (k, repr(float(v[k])).rstrip("0").rstrip(".")
                                       if v[k] != int(v[k]) else "%d.0" % v[k])
                         for k in ("block", "rewrite") if k in v)
        lines.append("%s%s = { %s };" % (indent, c, parts))
    return "\n".join(lines)


def rewrite(conf, policies):
    out = conf
    for name, cats in policies.items():
        m = re.search(r"(?m)^(\s*)%s:\s*\{" % re.escape(name), out)
        if not m:
            continue
        c = re.compile(r"(?m)^(\s*)categories\s*=\s*\{\n(.*?)^\s*\};", re.S)
        cm = c.search(out, m.end())
        if not cm:
            raise SystemExit("policy %s has no categories block" % name)
        indent = cm.group(1) + "\t"
        body = render(cats, indent) + "\n"
        out = out[:cm.start(2)] + body + out[cm.end(2):]
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = "--check" in sys.argv[1:]
    if any(a.startswith("-") for a in args) or len(args) > 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 64
    model = args[0] if args else os.path.join(TOP, "models", "default")
    conf = args[1] if len(args) > 1 else os.path.join(TOP, "etc", "modgated.conf")
    with open(os.path.join(model, "thresholds.json")) as f:
        thr = json.load(f)
    with open(conf) as f:
        old = f.read()
    new = rewrite(old, derive(thr))
    if check:
        if new != old:
            print("%s: policy thresholds differ from %s/thresholds.json "
                  "(run scripts/policy-thresholds.py)" % (conf, model), file=sys.stderr)
            return 1
        return 0
    if new != old:
        with open(conf, "w") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
