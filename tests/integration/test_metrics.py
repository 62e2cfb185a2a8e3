#!/usr/bin/env python3
"""Metrics: {"op": "metrics"} and `modgate stats --prometheus` return the
Prometheus text format, accepted by `promtool check metrics`, and the counts
match the traffic this test sent: verdicts by policy, rule hits and flagged
categories as the answers reported them, error codes, refused connections,
per-stage histograms, reload generation and failures.  {"op": "stats"} and
`modgate stats` give the same verdicts and rule hits by rule and mode."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, DaemonProcess  # noqa: E402

RULES = r'''
rule test.email {
    match     /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/i
    on        raw
    category  pii
    action    rewrite "[email]"
    test match   "write to bob@corp.io today"
}
rule test.shadow {
    match     /\btoday\b/
    on        raw
    category  test
    action    block
    mode      monitor
    test match   "write to bob@corp.io today"
}
'''


def parse(text):
    """{(name, frozenset(labels)): value} of a text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, "bad sample line %r" % line
        labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"',
                                      m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def promtool(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text,
                          capture_output=True, text=True, timeout=60)


class MetricsTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modgate-metrics-")
        self.sock = os.path.join(self.tmp, "modgated.sock")
        rules = os.path.join(self.tmp, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "test.rules"), "w") as f:
            f.write(RULES)
        cfg = harness.ops_config(self.tmp, self.sock)
        cfg["rules"]["paths"] = [rules]
        cfg["server"]["max_connections_per_uid"] = 3
        cfg["policies"] = {"default": {}, "strict": {}}
        self.cfg = cfg
        self.conf = harness.write_config(self.tmp, cfg)
        self.daemon = DaemonProcess(["-c", self.conf], logdir=self.tmp)
        self.daemon.wait_socket(self.sock)

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.tmp)

    def metrics(self):
        c = Client(self.sock)
        ans = c.ask({"id": "m", "op": "metrics"})
        c.close()
        self.assertIn("metrics", ans, ans)
        return ans["metrics"]

    @unittest.skipUnless(shutil.which("promtool"), "no promtool")
    def test_promtool_and_counts(self):
        c = Client(self.sock)
        answers = []
        for i in range(5):
            answers.append(c.ask({"id": "a%d" % i, "text": "hello %d" % i}))
        for i in range(3):
            answers.append(c.ask({"id": "s%d" % i, "policy": "strict",
                                  "text": "write to bob@corp.io today"}))
        bad = c.ask("{not json")
        self.assertEqual(bad["error"]["code"], "bad_request")
        unknown = c.ask({"text": "x", "policy": "no-such-policy"})
        self.assertEqual(unknown["error"]["code"], "unknown_policy")
        c.close()

        text = self.metrics()
        p = promtool(text)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + text)
        m = parse(text)

        # Verdicts by policy, as answered.
        want = {}
        for a in answers:
            self.assertNotIn("error", a)
            k = (a["policy"], a["verdict"])
            want[k] = want.get(k, 0) + 1
        for (pol, verdict), n in want.items():
            self.assertEqual(value(m, "modgate_requests_total", policy=pol,
                                   verdict=verdict), n, text)
        total = sum(v for (name, _), v in m.items()
                    if name == "modgate_requests_total")
        self.assertEqual(total, len(answers))

        # Rule hits and flagged categories, as answered.
        hits = {}
        for a in answers:
            for h in a.get("matches", []):
                k = (h["rule"], h["category"], h["action"],
                     "monitor" if h.get("monitor") else "enforce")
                hits[k] = hits.get(k, 0) + 1
        self.assertIn(("test.shadow", "test", "block", "monitor"), hits)
        for (rule, cat, action, mode), n in hits.items():
            self.assertEqual(value(m, "modgate_rule_matches_total",
                                   rule=rule, category=cat, action=action,
                                   mode=mode), n, text)
        # op stats and `modgate stats` count the same hits by rule and mode,
        # and the same verdicts.
        by_mode = {}
        for (rule, _, _, mode), n in hits.items():
            by_mode.setdefault(rule, {"enforce": 0, "monitor": 0})
            by_mode[rule][mode] += n
        c = Client(self.sock)
        st = c.ask({"op": "stats"})
        c.close()
        self.assertEqual(st["rules"], by_mode, st)
        self.assertEqual(st["rules"]["test.shadow"],
                         {"enforce": 0, "monitor": 3})
        for verdict in ("allow", "rewrite", "block"):
            self.assertEqual(st["verdicts"][verdict], sum(
                n for (_, v), n in want.items() if v == verdict))
        p = subprocess.run([harness.MODGATE, "stats", "-s", self.sock],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = dict(line.split(None, 1) for line in p.stdout.splitlines())
        self.assertEqual(lines["rules.test.shadow.monitor"].strip(), "3")
        self.assertEqual(lines["rules.test.email.enforce"].strip(), "3")
        # The monitor rule would have blocked the strict requests.
        self.assertEqual(value(m, "modgate_would_verdicts_total",
                               policy="strict", verdict="block"), 3, text)
        would = sum(v for (name, _), v in m.items()
                    if name == "modgate_would_verdicts_total")
        self.assertEqual(would, len(answers))
        flagged = {}
        for a in answers:
            for cat in a.get("flagged", []):
                flagged[cat] = flagged.get(cat, 0) + 1
        for cat, n in flagged.items():
            self.assertEqual(value(m, "modgate_flagged_total",
                                   category=cat), n, text)

        self.assertEqual(value(m, "modgate_request_errors_total",
                               code="bad_request"), 1)
        self.assertEqual(value(m, "modgate_request_errors_total",
                               code="unknown_policy"), 1)
        # Histograms: every answered request went through normalize.
        self.assertEqual(value(m, "modgate_request_duration_seconds_count"),
                         len(answers))
        self.assertEqual(value(m, "modgate_request_duration_seconds_bucket",
                               le="+Inf"), len(answers))
        self.assertEqual(value(m, "modgate_stage_duration_seconds_count",
                               stage="normalize"), len(answers))
        self.assertEqual(value(m, "modgate_snapshot_generation"), 1)
        self.assertEqual(value(m, "modgate_queue_depth"), 0)
        self.assertGreaterEqual(value(m, "modgate_workers"), 1)
        self.assertEqual(value(m, "modgate_connections"), 1)

    def test_reloads_and_refusals(self):
        self.daemon.signal(signal.SIGHUP)
        harness.wait_for(lambda: value(parse(self.metrics()),
                         "modgate_snapshot_generation") == 2, 30,
                         "generation 2")
        # A broken config is refused; generation stays, failures count.
        with open(self.conf, "a") as f:
            f.write("bogus_section = { x = 1; };\n")
        self.daemon.signal(signal.SIGHUP)
        harness.wait_for(lambda: value(parse(self.metrics()),
                         "modgate_reloads_total", result="failed") == 1, 30,
                         "a failed reload")
        m = parse(self.metrics())
        self.assertEqual(value(m, "modgate_reloads_total", result="ok"), 1)
        self.assertEqual(value(m, "modgate_snapshot_generation"), 2)

        # Three connections per uid: the fourth is refused and counted.
        conns = [Client(self.sock) for _ in range(3)]
        for c in conns:
            self.assertNotIn("error", c.ask({"op": "ping"}))
        extra = Client(self.sock)
        ans = extra.recv()
        self.assertEqual(ans["error"]["code"], "overloaded", ans)
        extra.close()
        conns.pop().close()
        time.sleep(0.2)
        m = parse(self.metrics())
        self.assertEqual(value(m, "modgate_connections_refused_total",
                               reason="max_connections_per_uid"), 1)
        for c in conns:
            c.close()

    @unittest.skipUnless(shutil.which("promtool"), "no promtool")
    def test_modgate_stats_prometheus(self):
        c = Client(self.sock)
        c.ask({"text": "hello"})
        c.close()
        p = subprocess.run([harness.MODGATE, "stats", "--prometheus", "-s",
                            self.sock], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("# TYPE modgate_requests_total counter", p.stdout)
        self.assertEqual(value(parse(p.stdout), "modgate_requests_total",
                               policy="default", verdict="allow"), 1)
        r = promtool(p.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        p = subprocess.run([harness.MODGATE, "stats", "--prometheus", "-s",
                            os.path.join(self.tmp, "nothing.sock")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 69, p.stderr)   # EX_UNAVAILABLE


if __name__ == "__main__":
    unittest.main(verbosity=2)
