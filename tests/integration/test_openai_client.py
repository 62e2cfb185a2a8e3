#!/usr/bin/env python3
"""A client nobody here wrote: the `openai` package from the npm registry
(pinned, installed under $BUILD/npm on first use) calls
moderations.create against modgated's HTTP front; the shapes and values it
hands back are checked here."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD  # noqa: E402
from httputil import HttpDaemon  # noqa: E402

OPENAI_VERSION = "6.30.1"   # supports node 20 (7.x wants node >= 22)
NPMDIR = os.path.join(BUILD, "npm")
HERE = os.path.dirname(os.path.abspath(__file__))


def installed_version():
    try:
        with open(os.path.join(NPMDIR, "node_modules", "openai",
                               "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def npm_install():
    if installed_version() == OPENAI_VERSION:
        return
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError("%s is not installed (scripts/deps.sh test)"
                                 % tool)
    os.makedirs(NPMDIR, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", NPMDIR, "--no-audit",
                        "--no-fund", "--save-exact",
                        "openai@" + OPENAI_VERSION],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    if r.returncode != 0 or installed_version() != OPENAI_VERSION:
        raise AssertionError("npm install openai@%s failed:\n%s" %
                             (OPENAI_VERSION, r.stdout.decode()))


class OpenAIClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        npm_install()
        cls.d = HttpDaemon()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def run_client(self):
        r = subprocess.run(["node", os.path.join(HERE, "openai_client.mjs"),
                            NPMDIR, self.d.base + "/v1", self.d.token],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return json.loads(r.stdout)

    def test_moderations_create(self):
        out = self.run_client()
        self.assertEqual(out["version"], OPENAI_VERSION)

        one = out["one"]
        self.assertTrue(one["id"].startswith("modr-"))
        self.assertEqual(one["model"], "omni-moderation-latest")
        self.assertEqual(len(one["results"]), 1)
        r = one["results"][0]
        self.assertIs(r["flagged"], True)
        self.assertIs(r["categories"]["hate"], True)
        self.assertIs(r["categories"]["violence"], False)
        self.assertEqual(r["category_scores"]["hate"], 1)
        self.assertEqual(r["verdict"], "block")      # modgate's extras
        self.assertEqual(r["matches"][0]["rule"], "t.slur")

        many = out["many"]["results"]
        self.assertEqual(len(many), 3)
        self.assertIs(many[0]["flagged"], False)
        self.assertIs(many[1]["categories"]["self-harm"], True)
        self.assertIs(many[1]["categories"]["self-harm/intent"], True)
        self.assertEqual(many[2]["verdict"], "rewrite")
        self.assertEqual(many[2]["text"], "d*** it, [email]")
        for res in many:
            self.assertEqual(set(res["categories"]),
                             set(res["category_scores"]))

        self.assertEqual(out["unauthorized"]["status"], 401)
        self.assertEqual(out["unauthorized"]["name"], "AuthenticationError")
        self.assertIn("bearer token", out["unauthorized"]["message"])
        self.assertEqual(out["bad_request"]["status"], 400)
        self.assertEqual(out["bad_request"]["name"], "BadRequestError")

        # The daemon audited every text the client sent, with its token.
        recs = [x for x in self.d.audit_records() if "meta" in x]
        self.assertGreaterEqual(len(recs), 4)
        self.assertTrue(all(x["meta"]["http_peer"]["token"] == "ci"
                            for x in recs))


if __name__ == "__main__":
    unittest.main(verbosity=2)
