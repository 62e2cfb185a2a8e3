"""test_contrib: the observability files of contrib/ against the daemon.

promtool accepts the Prometheus alert rules; the Grafana dashboard is
valid JSON with a query on every panel; and every metric the two files
name is one that modgated exports (read from a running daemon's
{"op": "metrics"}), so a renamed metric fails here, not on a dashboard.
"""
import json
import os
import re
import subprocess
import tempfile
import unittest

from harness import TOP, Daemon

ALERTS = os.path.join(TOP, "contrib", "prometheus", "modgate-alerts.yml")
DASHBOARD = os.path.join(TOP, "contrib", "grafana", "modgate-dashboard.json")
RULES = 'rule t.word {\n  match /\\bdarn\\b/\n  action rewrite "d***"\n}\n'


def exported():
    """Metric names of a running daemon's exposition, histogram series
    (_bucket, _sum, _count) included."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "t.rules")
        with open(rules, "w") as f:
            f.write(RULES)
        with Daemon(classifier={"enabled": False},
                    rules={"paths": [rules]}) as d:
            c = d.client()
            c.ask({"id": "1", "text": "darn"})
            text = c.ask({"id": "m", "op": "metrics"})["metrics"]
    names = set()
    for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.add(m.group(1))
        if m.group(2) == "histogram":
            names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return names


class Contrib(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.names = exported()

    def named(self, text):
        return set(re.findall(r"\bmodgate_[a-z_]+\b", text))

    def test_alert_rules(self):
        p = subprocess.run(["promtool", "check", "rules", ALERTS],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout)
        with open(ALERTS) as f:
            text = f.read()
        used = self.named(text)
        # the conditions README.md names, each with an alert
        for m in ("modgate_audit_failures_total", "modgate_reloads_total",
                  "modgate_queue_depth", "modgate_queue_capacity",
                  "modgate_degraded_total", "modgate_build_info"):
            self.assertIn(m, used)
        self.assertEqual(used - self.names, set(), "not exported")

    def test_dashboard(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertEqual(dash["uid"], "modgate")
        panels = dash["panels"]
        self.assertGreaterEqual(len(panels), 8)
        self.assertEqual(len({p["id"] for p in panels}), len(panels))
        used = set()
        for p in panels:
            self.assertTrue(p["targets"], p["title"])
            for t in p["targets"]:
                self.assertTrue(t["expr"], p["title"])
                self.assertEqual(t["expr"].count("("), t["expr"].count(")"),
                                 t["expr"])
                used |= self.named(t["expr"])
        self.assertIn("modgate_rule_matches_total", used)
        self.assertEqual(used - self.names, set(), "not exported")
        # the missing metric check can fail
        self.assertNotIn("modgate_no_such_metric", self.names)


if __name__ == "__main__":
    unittest.main()
