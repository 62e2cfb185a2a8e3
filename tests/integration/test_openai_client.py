#!/usr/bin/env python3
"""A client nobody here wrote: the `openai` package from the npm registry
(pinned, installed under build/npm on first use, with TypeScript) calls
moderations.create against modgated's HTTP front, with the shipped model
and the test rules; the values it hands back are checked here, and the
answers it captured are type-checked with `tsc --strict` against the
package's own response types (tests/integration/openai_types.ts), beside
broken copies that tsc must refuse."""
import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOP, HttpDaemon  # noqa: E402

OPENAI_VERSION = "6.30.1"   # supports node 20 (7.x wants node >= 22)
TYPESCRIPT_VERSION = "5.9.3"
PACKAGES = {"openai": OPENAI_VERSION, "typescript": TYPESCRIPT_VERSION}
# Shared by every build flavour (build-san too): one download per machine.
NPMDIR = os.path.join(TOP, "build", "npm")
HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ("harassment", "harassment/threatening", "hate", "hate/threatening",
        "illicit", "illicit/violent", "self-harm", "self-harm/instructions",
        "self-harm/intent", "sexual", "sexual/minors", "violence",
        "violence/graphic")
# The shipped model's labels under their API keys.
MODEL_KEYS = ("harassment", "hate", "self-harm", "sexual", "violence")


def installed_version(name):
    try:
        with open(os.path.join(NPMDIR, "node_modules", name,
                               "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def npm_install():
    os.makedirs(NPMDIR, exist_ok=True)
    with open(os.path.join(NPMDIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # a concurrent make test
        if all(installed_version(n) == v for n, v in PACKAGES.items()):
            return
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is not installed (scripts/deps.sh "
                                     "test)" % tool)
        r = subprocess.run(["npm", "install", "--prefix", NPMDIR,
                            "--no-audit", "--no-fund", "--save-exact"] +
                           ["%s@%s" % nv for nv in PACKAGES.items()],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        if r.returncode != 0 or any(installed_version(n) != v
                                    for n, v in PACKAGES.items()):
            raise AssertionError("npm install failed:\n%s" %
                                 r.stdout.decode())


def tsc(files, cwd):
    """(exit status, output) of tsc --strict over FILES."""
    r = subprocess.run(["node", os.path.join(NPMDIR, "node_modules",
                                             "typescript", "bin", "tsc"),
                        "--strict", "--noEmit", "--pretty", "false",
                        "--skipLibCheck", "--target", "es2022",
                        "--lib", "es2022",
                        "--module", "nodenext",
                        "--moduleResolution", "nodenext"] + files,
                       cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    return r.returncode, r.stdout.decode()


def ts_module(answers, errors):
    """openai_types.ts followed by ANSWERS and ERRORS as typed constants."""
    with open(os.path.join(HERE, "openai_types.ts")) as f:
        text = f.read()
    text += "\nexport const answers: ModgateResponse[] = %s;\n" % (
        json.dumps(answers, indent=1))
    text += "export const seen = answers.map(asTheClientSeesIt);\n"
    text += "export const errors: ErrorBody[] = %s;\n" % (
        json.dumps(errors, indent=1))
    return text


class OpenAIClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        npm_install()
        cls.d = HttpDaemon(classifier={"enabled": True})
        r = subprocess.run(["node", os.path.join(HERE, "openai_client.mjs"),
                            NPMDIR, cls.d.base + "/v1", cls.d.token],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if r.returncode != 0:
            cls.d.close()
            raise AssertionError(r.stderr.decode())
        cls.out = json.loads(r.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def check_shape(self, res, scored):
        self.assertEqual(set(res["categories"]), set(KEYS))
        self.assertEqual(set(res["category_scores"]), set(KEYS))
        self.assertEqual(set(res["category_applied_input_types"]), set(KEYS))
        self.assertIs(res["flagged"], any(res["categories"].values()))
        for k in KEYS:
            hit = any(m["category"] == k.replace("-", "_").replace("/", "_")
                      or (k == "hate" and m["category"] == "slur")
                      for m in res["modgate"]["matches"])
            want = ["text"] if k in scored or hit else []
            self.assertEqual(res["category_applied_input_types"][k], want, k)
            if not want:
                self.assertEqual(res["category_scores"][k], 0)
                self.assertIs(res["categories"][k], False)

    def test_answers(self):
        out = self.out
        self.assertEqual(out["version"], OPENAI_VERSION)

        # A rule blocked at once: the model did not run, and says so.
        one = out["one"]
        self.assertRegex(one["id"], r"^modr-[0-9a-f]{24}$")
        self.assertEqual(one["model"], "modgate-rules")
        self.assertEqual(len(one["results"]), 1)
        r = one["results"][0]
        self.check_shape(r, ())
        self.assertIs(r["flagged"], True)
        self.assertIs(r["categories"]["hate"], True)
        self.assertEqual(r["category_scores"]["hate"], 1)
        self.assertEqual(r["modgate"]["verdict"], "block")
        self.assertEqual(r["modgate"]["matches"][0]["rule"], "t.slur")
        self.assertEqual(r["modgate"]["stages"]["classifier"], "skipped")

        # The model that decided, not the one asked for.
        many = out["many"]
        self.assertRegex(many["model"], r"^modgate-default-[0-9a-f]{12}$")
        rs = many["results"]
        self.assertEqual(len(rs), 3)
        for res in rs:
            self.check_shape(res, MODEL_KEYS)
            self.assertEqual(set(res["modgate"]["scores"]),
                             {"hate", "harassment", "sexual", "violence",
                              "self_harm", "jailbreak"})
            self.assertEqual(res["category_scores"]["sexual"],
                             res["modgate"]["scores"]["sexual"])
        self.assertIs(rs[0]["flagged"], False)
        self.assertIs(rs[1]["categories"]["self-harm"], True)
        self.assertIs(rs[1]["flagged"], True)
        # A PII and profanity rewrite is no harm: not flagged.
        self.assertEqual(rs[2]["modgate"]["verdict"], "rewrite")
        self.assertEqual(rs[2]["modgate"]["text"], "d*** it, [email]")
        self.assertIs(rs[2]["flagged"], False)

        # Text and an image: one result, the text checked, the image not.
        parts = out["parts"]["results"]
        self.assertEqual(len(parts), 1)
        self.check_shape(parts[0], MODEL_KEYS)
        self.assertEqual(parts[0]["modgate"]["text"], "look at this\nd*** it")
        self.assertIs(parts[0]["flagged"], False)
        for types in parts[0]["category_applied_input_types"].values():
            self.assertNotIn("image", types)

        # The daemon audited every text the client sent, with its token,
        # and the refusal of the unknown policy.
        recs = [x for x in self.d.audit_records() if "meta" in x]
        # (the texts of one call run at once: in any order)
        self.assertEqual(sorted(x.get("verdict", "error") for x in recs),
                         ["allow", "allow", "block", "error", "rewrite",
                          "rewrite"])
        self.assertTrue(all(x["meta"]["http_peer"]["token"] == "ci"
                            for x in recs))

    def test_errors(self):
        errs = self.out["errors"]
        for name, status, cls, code, param in (
                ("unauthorized", 401, "AuthenticationError",
                 "invalid_api_key", None),
                ("empty", 400, "BadRequestError", "bad_request", "input"),
                ("image_only", 400, "BadRequestError", "bad_request",
                 "input"),
                ("unknown_policy", 400, "BadRequestError", "unknown_policy",
                 "policy"),
                ("too_large", 413, "APIError", "too_large", None)):
            e = errs[name]
            self.assertIsNotNone(e, name)
            self.assertEqual((e["status"], e["name"], e["code"], e["param"],
                              e["type"]),
                             (status, cls, code, param,
                              "invalid_request_error"), name)
            self.assertEqual(set(e["error"]),
                             {"message", "type", "param", "code"})
            self.assertIn(e["error"]["message"], e["message"])
        self.assertIn("bearer token", errs["unauthorized"]["message"])
        self.assertIn("no text part", errs["image_only"]["message"])

    def test_types(self):
        out = self.out
        answers = [out["one"], out["many"], out["parts"]]
        errors = [{"error": e["error"]} for e in out["errors"].values()]
        # Each broken copy is one way of leaving the API's types.
        broken = [copy.deepcopy(out["one"]) for _ in range(4)]
        del broken[0]["results"][0]["categories"]["illicit/violent"]
        broken[1]["results"][0]["category_applied_input_types"]["hate"] = \
            ["image"]
        broken[2]["results"][0]["category_scores"]["hate"] = "1"
        broken[3]["results"][0]["verdict"] = "block"    # outside "modgate"
        bad_errors = [dict(errors[0], id=None)]
        tmp = tempfile.mkdtemp(prefix="tsc.", dir=NPMDIR)
        try:
            with open(os.path.join(tmp, "good.ts"), "w") as f:
                f.write(ts_module(answers, errors))
            with open(os.path.join(tmp, "bad.ts"), "w") as f:
                f.write(ts_module(broken, bad_errors))
            rc, text = tsc(["good.ts", "bad.ts"], tmp)
        finally:
            shutil.rmtree(tmp)
        self.assertNotEqual(rc, 0, text)
        diags = re.findall(r"^(\w+)\.ts\(\d+,\d+\): error (TS\d+)", text,
                           re.M)
        self.assertEqual([d for d in diags if d[0] != "bad"], [], text)
        # One diagnostic at least for each broken answer and error body.
        self.assertGreaterEqual(len(diags), 5, text)
        for msg in ("illicit/violent", "\"image\"", "verdict", "\"id\""):
            self.assertIn(msg, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
