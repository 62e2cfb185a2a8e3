#!/usr/bin/env python3
"""Access control with real clients running as other users (needs root:
the users are created with useradd when missing, clients run under
setpriv).  allowed_uids / allowed_gids decide who may connect, admin_uids
who may reload, max_connections_per_uid caps each uid, peer_policies give
each uid or gid its default policy, and identity comes from SO_PEERCRED
only: whatever a request claims, the answer's policy and the audit
record's peer are those of the real client."""
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, DaemonProcess  # noqa: E402

USERS = ("mgt-alice", "mgt-bob", "mgt-carol", "mgt-dave", "mgt-admin")
GROUP = "mgt-clients"
PYTHON = "/usr/bin/python3"   # reachable by every user, unlike a venv

# The client that runs as another user: opens N connections, on each waits
# a moment for an unsolicited refusal, else sends the requests; prints one
# JSON list of answers per connection; with "hold", keeps the connections
# open until its stdin closes.
CLIENT = r'''
import json, select, socket, sys
path, n, reqs, hold = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "hold"
keep = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rwb")
    out = []
    if select.select([s], [], [], 0.3)[0]:
        line = f.readline()
        out.append({"refused": json.loads(line) if line else None})
    else:
        for r in reqs:
            try:
                f.write((json.dumps(r) + "\n").encode()); f.flush()
                line = f.readline()
            except OSError:
                line = b""
            out.append(json.loads(line) if line else None)
    keep.append((s, f))
    print(json.dumps(out), flush=True)
if hold:
    sys.stdin.read()
'''


def ensure_accounts():
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
    for u in USERS:
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group",
                            "--no-create-home", "--shell",
                            "/usr/sbin/nologin", u], check=True)


def ids(user, group=None):
    pw = pwd.getpwnam(user)
    gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
    return pw.pw_uid, gid


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv") and
                     shutil.which("useradd") and os.path.exists(PYTHON),
                     "needs root, setpriv, useradd and /usr/bin/python3")
class AccessTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_accounts()
        cls.alice = ids("mgt-alice")
        cls.bob = ids("mgt-bob")
        cls.carol = ids("mgt-carol", GROUP)   # primary gid: mgt-clients
        cls.dave = ids("mgt-dave")            # mgt-clients as a supplement
        cls.clients = grp.getgrnam(GROUP).gr_gid
        cls.admin = ids("mgt-admin")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modgate-access-")
        os.chmod(self.tmp, 0o755)
        self.sock = os.path.join(self.tmp, "modgated.sock")
        self.client = os.path.join(self.tmp, "client.py")
        with open(self.client, "w") as f:
            f.write(CLIENT)
        os.chmod(self.client, 0o644)
        cfg = harness.ops_config(self.tmp, self.sock)
        cfg["server"].update({
            "allowed_uids": [self.alice[0], self.admin[0]],
            "allowed_gids": [self.carol[1]],
            "admin_uids": [self.admin[0]],
            "max_connections_per_uid": 2,
            "peer_policies": [{"uid": self.alice[0], "policy": "strict"},
                              {"gid": self.carol[1],
                               "policy": "permissive"}],
        })
        cfg["policies"] = {"default": {}, "strict": {}, "permissive": {}}
        self.conf = harness.write_config(self.tmp, cfg)
        self.daemon = DaemonProcess(["-c", self.conf], logdir=self.tmp)
        self.daemon.wait_socket(self.sock)

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.tmp)

    def run_as(self, who, reqs, n=1, hold=False, groups=()):
        uid, gid = who
        cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
        cmd += (["--groups=" + ",".join(str(g) for g in groups)] if groups
                else ["--clear-groups"])
        cmd += [PYTHON, self.client, self.sock, str(n), json.dumps(reqs),
                "hold" if hold else "-"]
        if hold:
            return subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(l) for l in p.stdout.splitlines()]

    def audit_records(self):
        with open(os.path.join(self.tmp, "audit.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]

    def test_allowed_uids_and_gids(self):
        [alice] = self.run_as(self.alice, [{"id": "a", "text": "hello"}])
        self.assertEqual(alice[0].get("policy"), "strict", alice)
        [carol] = self.run_as(self.carol, [{"id": "c", "text": "hello"}])
        self.assertEqual(carol[0].get("policy"), "permissive", carol)
        [bob] = self.run_as(self.bob, [{"id": "b", "text": "hello"}])
        self.assertIn("refused", bob[0], bob)
        self.assertEqual(bob[0]["refused"]["error"]["code"], "bad_request")
        # A member of an allowed group is allowed whatever his primary
        # group (SO_PEERGROUPS); peer_policies by gid match the primary one.
        [dave] = self.run_as(self.dave, [{"id": "e", "text": "hello"}],
                             groups=[self.clients])
        self.assertEqual(dave[0].get("policy"), "default", dave)
        [dave] = self.run_as(self.dave, [{"id": "x", "text": "hello"}])
        self.assertIn("refused", dave[0], dave)
        # The admin has no peer policy: the server's default_policy.
        [adm] = self.run_as(self.admin, [{"id": "d", "text": "hello"}])
        self.assertEqual(adm[0].get("policy"), "default", adm)
        # The refused client left no record; the others one each.
        recs = [r for r in self.audit_records() if "peer" in r]
        self.assertEqual(sorted(r["id"] for r in recs), ["a", "c", "d", "e"])
        uids = {r["id"]: r["peer"]["uid"] for r in recs}
        self.assertEqual(uids["a"], self.alice[0])
        self.assertEqual(uids["c"], self.carol[0])

    def test_admin_reload(self):
        [alice] = self.run_as(self.alice, [{"id": "r", "op": "reload"}])
        self.assertIn("error", alice[0], alice)
        [adm] = self.run_as(self.admin, [{"id": "r", "op": "version"},
                                         {"id": "r", "op": "reload"},
                                         {"id": "r", "op": "version"}])
        self.assertTrue(adm[1].get("ok"), adm)
        self.assertEqual(adm[2]["generation"], adm[0]["generation"] + 1)

    def test_per_uid_cap(self):
        held = self.run_as(self.alice, [{"op": "ping"}], n=3, hold=True)
        try:
            got = [json.loads(held.stdout.readline()) for _ in range(3)]
            self.assertTrue(got[0][0].get("ok"), got)
            self.assertTrue(got[1][0].get("ok"), got)
            self.assertEqual(got[2][0]["refused"]["error"]["code"],
                             "overloaded", got)
            # Another uid is not held back by alice's cap.
            carol = self.run_as(self.carol, [{"op": "ping"}], n=2)
            self.assertTrue(carol[0][0].get("ok"), carol)
            self.assertTrue(carol[1][0].get("ok"), carol)
        finally:
            held.stdin.close()
            held.wait(30)
            held.stdout.close()
        # Alice's connections are gone: she may connect again.
        [again] = self.run_as(self.alice, [{"op": "ping"}])
        self.assertTrue(again[0].get("ok"), again)

    def test_identity_not_from_payload(self):
        # Identity fields at the top level are not part of the protocol.
        forged = {"id": "f", "text": "hello",
                  "peer": {"uid": 0, "gid": 0, "pid": 1}, "uid": 0}
        [ans] = self.run_as(self.alice, [forged])
        if "error" in ans[0]:
            self.assertEqual(ans[0]["error"]["code"], "bad_request", ans)
        else:
            self.assertEqual(ans[0]["policy"], "strict", ans)
        # In meta they are the client's own data, copied as is; the request
        # still runs as alice, under alice's policy, and is recorded as hers.
        claim = {"id": "g", "text": "hello",
                 "meta": {"uid": 0, "gid": 0, "peer": {"uid": 0, "pid": 1},
                          "user": "root"}}
        [ans] = self.run_as(self.alice, [claim])
        self.assertEqual(ans[0].get("policy"), "strict", ans)
        [rec] = [r for r in self.audit_records() if r.get("id") == "g"]
        self.assertEqual(rec["peer"]["uid"], self.alice[0], rec)
        self.assertEqual(rec["peer"]["gid"], self.alice[1], rec)
        self.assertNotEqual(rec["peer"]["pid"], 1, rec)
        self.assertEqual(rec["meta"]["uid"], 0, rec)
        # A forged admin claim does not open op reload either.
        [rel] = self.run_as(self.alice, [{"op": "reload",
                                          "meta": {"uid": 0}}])
        self.assertIn("error", rel[0], rel)
        # Nor does a claim get bob in.
        [bob] = self.run_as(self.bob, [{"text": "x",
                                        "meta": {"uid": self.alice[0]}}])
        self.assertIn("refused", bob[0], bob)


if __name__ == "__main__":
    unittest.main(verbosity=2)
