/* test-audit-verify: the verifier against every kind of tampering with a
 * log written by the real writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit.h"
#include "audit-fss.h"
#include "audit-key.h"
#include "audit-record.h"
#include "audit-verify.h"

#define NREC	40

static char		 dir[256], path[300], skpath[300];
static struct audit_key	 key;
static char		*lines[NREC * 2];	/* the original log, no newlines */
static int		 nlines;

/* A log of NREC requests with a checkpoint every 5 records. */
static int
setup_log(void **state)
{
	struct audit_conf	 c;
	struct audit		*a;
	struct request		 req;
	struct result		 res;
	struct policy_conf	 pol = { .name = "default" };
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 i;

	snprintf(dir, sizeof(dir), "/tmp/test-audit-verify.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(skpath, sizeof(skpath), "%s/key", dir);
	if (audit_key_generate(skpath, NULL, 0, &key) == -1)
		return -1;
	memset(&c, 0, sizeof(c));
	c.enabled = 1;
	c.path = path;
	c.text = AUDIT_TEXT_FULL;
	c.fsync = AUDIT_FSYNC_NEVER;
	c.key = skpath;
	c.checkpoint_every = 5;
	c.checkpoint_seconds = 60;
	if ((a = audit_open(&c)) == NULL)
		return -1;
	for (i = 0; i < NREC; i++) {
		memset(&req, 0, sizeof(req));
		memset(&res, 0, sizeof(res));
		req.text = i % 2 ? "hello there" : "something else";
		req.len = strlen(req.text);
		req.peer.uid = 1000 + i % 3;
		res.policy = &pol;
		res.verdict = i % 3 == 0 ? VERDICT_BLOCK : VERDICT_ALLOW;
		if (audit_append(a, &req, &res, "sha256:x") == -1)
			return -1;
	}
	audit_close(a);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) != -1 && nlines < NREC * 2) {
		line[n - 1] = '\0';
		lines[nlines++] = strdup(line);
	}
	fclose(f);
	free(line);
	return 0;
}

static int
teardown_log(void **state)
{
	char	 cmd[300];
	int	 i;

	for (i = 0; i < nlines; i++)
		free(lines[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Verify V[0..N) (the last one unterminated when TORN). */
static int
run(char **v, int n, const unsigned char *pk, int torn,
    struct audit_verify_result *r)
{
	struct audit_verify	*av;
	int			 i, rc;

	assert_non_null(av = audit_verify_new(pk, 0));
	audit_verify_file(av, "log");
	for (i = 0; i < n; i++)
		if (audit_verify_line(av, v[i], strlen(v[i]),
		    !(torn && i == n - 1)))
			break;
	rc = audit_verify_finish(av, r);
	audit_verify_free(av);
	return rc;
}

/*
 * Verify V[0..N) at time NOW_US (0: now) against the witness lines W[0..NW)
 * (each given a syslog prefix).
 */
static int
run_witness(char **v, int n, int64_t now_us, char **w, int nw,
    struct audit_verify_result *r)
{
	struct audit_verify	*av;
	char			 buf[4096], why[512];
	int			 i, rc;

	assert_non_null(av = audit_verify_new(key.pk, 0));
	if (now_us != 0)
		audit_verify_set_now(av, now_us);
	for (i = 0; i < nw; i++) {
		snprintf(buf, sizeof(buf), "Dec  7 00:10:00 host modgated[42]: "
		    "%s", w[i]);
		assert_true(audit_verify_witness(av, buf, strlen(buf), why,
		    sizeof(why)) >= 0);
	}
	audit_verify_file(av, "log");
	for (i = 0; i < n; i++)
		if (audit_verify_line(av, v[i], strlen(v[i]), 1))
			break;
	rc = audit_verify_finish(av, r);
	audit_verify_free(av);
	return rc;
}

/* A copy of the log, as pointers into lines[] (not owned). */
static char **
copy(int *n)
{
	char	**v = calloc(nlines + 2, sizeof(*v));

	assert_non_null(v);
	memcpy(v, lines, nlines * sizeof(*v));
	*n = nlines;
	return v;
}

static int
seq_of(const char *line)
{
	json_t	*o = json_loads(line, 0, NULL);
	int	 s;

	assert_non_null(o);
	s = (int)json_integer_value(json_object_get(o, "seq"));
	json_decref(o);
	return s;
}

/* Index of the first request record at or after I (not an event). */
static int
request_at(int i)
{
	for (; i < nlines; i++)
		if (strstr(lines[i], "\"event\":") == NULL)
			return i;
	fail();
	return -1;
}

static void
expect(int rc, struct audit_verify_result *r, const char *kind, int line)
{
	if (rc != -1 || strcmp(r->kind, kind) != 0 || (int)r->line != line)
		print_message("got %s at %zu: %s\n", r->ok ? "ok" : r->kind,
		    r->line, r->message);
	assert_int_equal(rc, -1);
	assert_false(r->ok);
	assert_string_equal(r->kind, kind);
	assert_int_equal(r->line, line);
	assert_string_equal(r->file, "log");
	assert_true(strlen(r->message) > 10);
}

static void
test_intact(void **state)
{
	struct audit_verify_result	 r;
	char				**v;
	int				 n;

	v = copy(&n);
	assert_int_equal(run(v, n, key.pk, 0, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.first_seq, 1);
	assert_int_equal(r.last_seq, n);
	assert_true(r.checkpoints >= NREC / 5);
	/* without a pinned key too */
	assert_int_equal(run(v, n, NULL, 0, &r), 0);
	free(v);
}

/* The end of the log: a clean stop, a live log, and a cut one. */
static void
test_end(void **state)
{
	struct audit_verify_result	 r;
	char				**v, *w[NREC];
	int				 n, nw = 0, i;
	int64_t				 later;

	v = copy(&n);
	later = (int64_t)time(NULL) * 1000000 + 3600 * (int64_t)1000000;
	/* ends with stop and its checkpoint: intact whenever it is read */
	assert_int_equal(run_witness(v, n, later, NULL, 0, &r), 0);
	assert_true(r.clean_end);
	assert_int_equal(r.unclean, 0);
	/* the last 10 records cut: fine while checkpoints may still come ... */
	assert_int_equal(run_witness(v, n - 10, 0, NULL, 0, &r), 0);
	assert_false(r.clean_end);
	assert_true(r.sealed_ts[0] != '\0');
	/* ... not once the last one is older than twice the interval */
	expect(run_witness(v, n - 10, later, NULL, 0, &r), &r, "truncated",
	    n - 10);
	/* the witness holds the checkpoints: the cut shows at once */
	for (i = 0; i < n; i++)
		if (strstr(v[i], "\"event\":\"checkpoint\"") != NULL)
			w[nw++] = v[i];
	assert_true(nw >= 3);
	assert_int_equal(run_witness(v, n, 0, w, nw, &r), 0);
	assert_int_equal(r.witnessed, nw);
	expect(run_witness(v, n - 10, 0, w, nw, &r), &r, "truncated", n - 10);
	assert_non_null(strstr(r.message, "witness"));
	free(v);
}

/* A witness checkpoint that the log does not hold as it is, or forged. */
static void
test_witness_mismatch(void **state)
{
	struct audit_verify_result	 r;
	struct audit_verify		*av;
	char				**v, *w[1], *forged, *p, why[512];
	int				 n, i;

	v = copy(&n);
	for (i = n - 1; i >= 0; i--)
		if (strstr(v[i], "\"event\":\"checkpoint\"") != NULL)
			break;
	assert_true(i > 0);
	/* the log's checkpoint differs from the witness's (a re-signed log
	 * would too): here its ts was changed */
	assert_non_null(forged = strdup(v[i]));
	assert_non_null(p = strstr(forged, "\"ts\":\"2"));
	p[6] = p[6] == '9' ? '8' : '9';
	w[0] = v[i];
	v[i] = forged;
	expect(run_witness(v, n, 0, w, 1, &r), &r, "witness", i + 1);
	/* a witness line whose signature does not hold is refused */
	assert_non_null(av = audit_verify_new(key.pk, 0));
	assert_int_equal(audit_verify_witness(av, forged, strlen(forged), why,
	    sizeof(why)), 0);
	assert_non_null(p = strstr(forged, "\"sig\":\""));
	p[7] = p[7] == 'A' ? 'B' : 'A';
	assert_int_equal(audit_verify_witness(av, forged, strlen(forged), why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "signature"));
	assert_int_equal(audit_verify_witness(av, "Dec 7 sshd: hello", 17,
	    why, sizeof(why)), 1);
	audit_verify_free(av);
	free(forged);
	free(v);
}

struct msg_arg {
	const char	*ts;
};

static size_t
msg_of(char *out, size_t size, uint64_t epoch, void *arg)
{
	const struct msg_arg *m = arg;

	return audit_checkpoint_msg_fss(out, size, epoch, m->ts, 1,
	    AUDIT_HASH_ZERO);
}

/*
 * A forward-secure key: checkpoints of two epochs verify against the root
 * alone; the file no longer holds the first seed, and what it holds can
 * neither sign for the first epoch nor pass a later epoch's signature off
 * as the first one's.
 */
static void
test_forward_secure(void **state)
{
	struct audit_conf		 c;
	struct audit			*a;
	struct audit_fss		*thief;
	struct audit_fss_public		 p;
	struct audit_verify_result	 r;
	struct request			 req;
	struct result			 res;
	struct policy_conf		 pol = { .name = "default" };
	char				 fk[300], pub[AUDIT_FSS_PUB_SIZE];
	char				 before[4096], after[4096], ts0[64];
	char				 msg[256], epk[AUDIT_PUBSTR_SIZE];
	char				 sig[AUDIT_SIG_B64_SIZE], why[256];
	struct msg_arg			 m = { ts0 };
	char				 logpath[300];
	uint64_t			 e;
	json_t				*mpath;
	FILE				*f;
	size_t				 mlen;
	int64_t				 t0 = time(NULL);
	int				 i;

	snprintf(fk, sizeof(fk), "%s/fss", dir);
	assert_int_equal(audit_fss_generate(fk, NULL, 0, t0, 1, 16, pub), 0);
	assert_int_equal(audit_fss_parse_public(pub, &p), 0);
	assert_non_null(f = fopen(fk, "r"));
	assert_int_equal(fread(before, 1, sizeof(before) - 1, f) > 0, 1);
	fclose(f);
	memset(&c, 0, sizeof(c));
	c.enabled = 1;
	snprintf(logpath, sizeof(logpath), "%s/fss.log", dir);
	c.path = logpath;
	c.fsync = AUDIT_FSYNC_NEVER;
	c.key = fk;
	c.checkpoint_every = 2;
	assert_non_null(a = audit_open(&c));
	for (i = 0; i < 6; i++) {
		memset(&req, 0, sizeof(req));
		memset(&res, 0, sizeof(res));
		req.text = "hello";
		req.len = 5;
		res.policy = &pol;
		assert_int_equal(audit_append(a, &req, &res, "sha256:x"), 0);
		if (i == 2)
			usleep(1200000);	/* into the next epoch */
	}
	audit_close(a);
	{
		struct audit_verify *v;
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;

		assert_non_null(v = audit_verify_new(NULL, 0));
		audit_verify_pin_fss(v, &p);
		assert_non_null(f = fopen(logpath, "r"));
		while ((n = getline(&line, &cap, f)) != -1)
			audit_verify_line(v, line, (size_t)n - 1, 1);
		fclose(f);
		free(line);
		assert_int_equal(audit_verify_finish(v, &r), 0);
		audit_verify_free(v);
	}
	assert_true(r.checkpoints >= 4);
	assert_true(r.clean_end);
	/* the seed of epoch 0 is gone from the file */
	assert_non_null(f = fopen(fk, "r"));
	assert_int_equal(fread(after, 1, sizeof(after) - 1, f) > 0, 1);
	fclose(f);
	assert_null(strstr(after, "epoch 0\n"));
	assert_string_not_equal(strstr(before, "seed "), strstr(after, "seed "));
	/* a thief with today's file cannot sign for epoch 0 ... */
	assert_non_null(thief = audit_fss_load(fk));
	snprintf(ts0, sizeof(ts0), "%s", "2026-01-01T00:00:00.000000Z");
	assert_int_equal(audit_fss_sign(thief, t0, msg_of, &m, &e, epk, &mpath,
	    sig), -1);
	/* ... nor pass its own epoch's signature off as one of epoch 0 */
	assert_int_equal(audit_fss_sign(thief, time(NULL), msg_of, &m, &e, epk,
	    &mpath, sig), 0);
	assert_true(e >= 1);
	mlen = audit_checkpoint_msg_fss(msg, sizeof(msg), e, ts0, 1,
	    AUDIT_HASH_ZERO);
	assert_int_equal(audit_fss_check(&p, e, epk, mpath, time(NULL), msg,
	    mlen, sig, why, sizeof(why)), 0);
	assert_int_equal(audit_fss_check(&p, e, epk, mpath, t0, msg, mlen, sig,
	    why, sizeof(why)), -1);
	assert_non_null(strstr(why, "outside"));
	mlen = audit_checkpoint_msg_fss(msg, sizeof(msg), 0, ts0, 1,
	    AUDIT_HASH_ZERO);
	assert_int_equal(audit_fss_check(&p, 0, epk, mpath, t0, msg, mlen, sig,
	    why, sizeof(why)), -1);
	json_decref(mpath);
	audit_fss_free(thief);
}

static void
test_edited(void **state)
{
	struct audit_verify_result	 r;
	char				**v, *e, *p;
	int				 n, i;

	v = copy(&n);
	i = request_at(10);
	e = strdup(lines[i]);
	assert_non_null(p = strstr(e, "\"verdict\":\""));
	p[11] = p[11] == 'a' ? 'b' : 'a';	/* allow <-> block-ish */
	v[i] = e;
	expect(run(v, n, key.pk, 0, &r), &r, "edited", i + 1);
	expect(run(v, n, NULL, 0, &r), &r, "edited", i + 1);
	/* one changed byte in the text */
	free(e);
	e = strdup(lines[i]);
	assert_non_null(p = strstr(e, "\"text\":\""));
	p[8] ^= 1;
	v[i] = e;
	expect(run(v, n, NULL, 0, &r), &r, "edited", i + 1);
	free(e);
	free(v);
}

static void
test_dropped(void **state)
{
	struct audit_verify_result	 r;
	char				**v;
	int				 n, i;

	v = copy(&n);
	i = request_at(12);
	memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
	expect(run(v, n - 1, key.pk, 0, &r), &r, "dropped", i + 1);
	assert_non_null(strstr(r.message, "missing"));
	/* two in a row */
	memmove(&v[i], &v[i + 1], (n - i - 2) * sizeof(*v));
	expect(run(v, n - 2, NULL, 0, &r), &r, "dropped", i + 1);
	free(v);
	/* the first records */
	v = copy(&n);
	expect(run(v + 1, n - 1, NULL, 0, &r), &r, "dropped", 1);
	free(v);
}

static void
test_reordered(void **state)
{
	struct audit_verify_result	 r;
	char				**v, *t;
	int				 n, i;

	v = copy(&n);
	i = request_at(15);
	t = v[i];
	v[i] = v[i + 1];
	v[i + 1] = t;
	expect(run(v, n, key.pk, 0, &r), &r, "reordered", i + 1);
	/* a record moved further down */
	free(v);
	v = copy(&n);
	t = v[i];
	memmove(&v[i], &v[i + 1], 5 * sizeof(*v));
	v[i + 5] = t;
	expect(run(v, n, NULL, 0, &r), &r, "reordered", i + 1);
	free(v);
}

static void
test_inserted(void **state)
{
	struct audit_verify_result	 r;
	char				**v, *fake, *p, h[AUDIT_HASH_SIZE];
	int				 n, i, s;

	/* a copy of an earlier record */
	v = copy(&n);
	i = request_at(20);
	memmove(&v[i + 1], &v[i], (n - i) * sizeof(*v));
	v[i] = lines[3];
	expect(run(v, n + 1, key.pk, 0, &r), &r, "inserted", i + 1);
	free(v);

	/* a second chain after the first (a file moved away while stopped) */
	v = calloc(2 * nlines, sizeof(*v));
	assert_non_null(v);
	memcpy(v, lines, nlines * sizeof(*v));
	memcpy(v + nlines, lines, nlines * sizeof(*v));
	expect(run(v, 2 * nlines, key.pk, 0, &r), &r, "inserted", nlines + 1);
	assert_non_null(strstr(r.message, "new chain"));
	free(v);

	/* a forged record that links to its predecessor with the next seq */
	v = copy(&n);
	s = seq_of(v[i]);
	audit_hash(v[i - 1], strlen(v[i - 1]), h);
	assert_true(asprintf(&fake, "{\"seq\":%d,\"ts\":\"2026-01-01T00:00:00."
	    "000000Z\",\"id\":\"forged\",\"verdict\":\"allow\",\"prev\":\"%s\"}",
	    s, h) > 0);
	memmove(&v[i + 1], &v[i], (n - i) * sizeof(*v));
	v[i] = fake;
	expect(run(v, n + 1, key.pk, 0, &r), &r, "inserted", i + 1);
	/* a forged record with a wrong prev */
	p = strstr(fake, "sha256:");
	p[8] = p[8] == '0' ? '1' : '0';
	expect(run(v, n + 1, NULL, 0, &r), &r, "inserted", i + 1);
	free(fake);
	free(v);
}

/*
 * Rewrite the whole chain after changing record I: renumber, re-hash every
 * prev.  What an attacker without the key can do.  DROP_CP also removes
 * the checkpoints.
 */
static char **
rechain(int i, int drop_cp, int *np)
{
	char	**v = calloc(nlines + 1, sizeof(*v)), h[AUDIT_HASH_SIZE];
	int	 k, n = 0;
	json_t	*o, *ev;

	assert_non_null(v);
	memcpy(h, AUDIT_HASH_ZERO, sizeof(AUDIT_HASH_ZERO));
	for (k = 0; k < nlines; k++) {
		assert_non_null(o = json_loads(lines[k], JSON_PRESERVE_ORDER,
		    NULL));
		ev = json_object_get(o, "event");
		if (drop_cp && json_is_string(ev) &&
		    strcmp(json_string_value(ev), "checkpoint") == 0) {
			json_decref(o);
			continue;
		}
		if (k == i)
			json_object_set_new(o, "id", json_string("tampered"));
		json_object_set_new(o, "seq", json_integer(n + 1));
		json_object_set_new(o, "prev", json_string(h));
		if (json_is_string(ev) && strcmp(json_string_value(ev),
		    "checkpoint") == 0)
			json_object_set_new(o, "head_seq", json_integer(n));
		v[n] = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		audit_hash(v[n], strlen(v[n]), h);
		n++;
		json_decref(o);
	}
	*np = n;
	return v;
}

static void
freev(char **v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
test_rechained_without_key(void **state)
{
	struct audit_verify_result	 r;
	char				**v;
	int				 n, i, cp;

	i = request_at(6);
	v = rechain(i, 0, &n);
	/* the chain itself is consistent now ... */
	/* ... but the first checkpoint after the change no longer verifies */
	assert_int_equal(run(v, n, key.pk, 0, &r), -1);
	assert_string_equal(r.kind, "signature");
	for (cp = i; cp < n; cp++)
		if (strstr(v[cp], "\"event\":\"checkpoint\"") != NULL)
			break;
	assert_int_equal(r.line, cp + 1);
	/* also without a pinned key: the signature is over the old head */
	assert_int_equal(run(v, n, NULL, 0, &r), -1);
	assert_string_equal(r.kind, "signature");
	freev(v, n);

	/* the attacker also removes every checkpoint: -k notices */
	v = rechain(i, 1, &n);
	assert_int_equal(run(v, n, key.pk, 0, &r), -1);
	assert_string_equal(r.kind, "unsigned");
	/* (without a key nothing can tell: that is what -k is for) */
	if (run(v, n, NULL, 0, &r) != 0)
		print_message("%s at %zu: %s\n", r.kind, r.line, r.message);
	assert_true(r.ok);
	freev(v, n);
}

static void
test_checkpoint_tampered(void **state)
{
	struct audit_verify_result	 r;
	struct audit_key		 other;
	char				**v, *e, *p, sk2[320];
	int				 n, i;

	v = copy(&n);
	for (i = 0; i < n; i++)
		if (strstr(v[i], "\"event\":\"checkpoint\"") != NULL)
			break;
	assert_true(i < n);
	e = strdup(v[i]);
	p = strstr(e, "\"sig\":\"") + 7;
	*p = *p == 'A' ? 'B' : 'A';
	v[i] = e;
	/* the next record's prev catches the edit too, but the signature
	 * check on the line itself comes first */
	expect(run(v, n, key.pk, 0, &r), &r, "signature", i + 1);
	free(e);
	/* re-signed with another key */
	snprintf(sk2, sizeof(sk2), "%s/other", dir);
	assert_int_equal(audit_key_generate(sk2, NULL, 0, &other), 0);
	v[i] = lines[i];
	assert_int_equal(run(v, n, other.pk, 0, &r), -1);
	assert_string_equal(r.kind, "signature");
	unlink(sk2);
	free(v);
}

static void
test_torn_and_malformed(void **state)
{
	struct audit_verify_result	 r;
	char				**v, *t;
	int				 n;

	v = copy(&n);
	/* a torn last line */
	t = strndup(lines[5], 30);
	v[n] = t;
	expect(run(v, n + 1, key.pk, 1, &r), &r, "torn", n + 1);
	/* a torn line in the middle, never sealed */
	v[n] = lines[n - 1];
	v[n - 1] = t;
	expect(run(v, n + 1, key.pk, 0, &r), &r, "malformed", n);
	free(t);
	free(v);
	/* garbage in the middle */
	v = copy(&n);
	v[8] = "not json at all";
	expect(run(v, n, NULL, 0, &r), &r, "malformed", 9);
	v[8] = "{\"seq\":\"nine\",\"prev\":\"x\"}";
	expect(run(v, n, NULL, 0, &r), &r, "malformed", 9);
	free(v);
	/* an empty log is intact; with a pinned key it is not signed */
	assert_int_equal(run(NULL, 0, NULL, 0, &r), 0);
	assert_int_equal(run(NULL, 0, key.pk, 0, &r), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intact),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_witness_mismatch),
		cmocka_unit_test(test_forward_secure),
		cmocka_unit_test(test_edited),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_reordered),
		cmocka_unit_test(test_inserted),
		cmocka_unit_test(test_rechained_without_key),
		cmocka_unit_test(test_checkpoint_tampered),
		cmocka_unit_test(test_torn_and_malformed),
	};

	return cmocka_run_group_tests(tests, setup_log, teardown_log);
}
