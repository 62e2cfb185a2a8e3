/*
 * audit-verify: see include/audit-verify.h.
 *
 * Each record must have seq = previous seq + 1 and prev = hash of the
 * previous line.  On the first break the verifier looks ahead a little to
 * name what happened: a later record with the missing seq means the records
 * were reordered, none means they were dropped; a record whose successor
 * links past it was inserted; otherwise the record before the break was
 * edited.
 *
 * The end of the log: it ends cleanly with a stop record and the checkpoint
 * after it (or a rotation checkpoint, the end of a rotated file).  A signed
 * log that ends otherwise is being written, or was cut: its daemon writes
 * a checkpoint at least every checkpoint_seconds (from its start record),
 * so a last checkpoint older than twice that is a cut end or a dead daemon.
 * Witness checkpoints (from syslog) must match the record of their seq and
 * may not lie past the end of the log.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit-fss.h"
#include "audit-key.h"
#include "audit-record.h"
#include "audit-verify.h"

#define LOOKAHEAD_LINES	100000	/* lines searched for a missing seq */
#define STALE_SLACK_US	5000000	/* beyond twice checkpoint_seconds */

struct witness {
	uint64_t	 seq;
	char		 hash[AUDIT_HASH_SIZE];	/* of the checkpoint line */
	char		 ts[AUDIT_TS_SIZE];
	int		 seen;
};

enum diag { DIAG_NONE, DIAG_JUMP, DIAG_LINK, DIAG_FORK, DIAG_DONE };

struct loc {
	char		 file[256];
	size_t		 line;
};

struct audit_verify {
	int		 flags;
	int		 pinned;
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	int		 pinned_fss;	/* instead: a forward-secure key */
	struct audit_fss_public fss;
	int64_t		 checkpoint_us;	/* time of the last checkpoint */
	int		 new_run;	/* a start record since it */
	char		 file[256];
	size_t		 line;

	int		 started;
	uint64_t	 last_seq;
	char		 last_hash[AUDIT_HASH_SIZE];
	struct loc	 last_loc;
	char		 last_prev[AUDIT_HASH_SIZE];	/* its prev */

	int		 torn_pending;	/* an unterminated line was read */
	struct loc	 torn_loc;
	size_t		 torn_len;
	int		 bad_pending;	/* a line that is not a record */
	struct loc	 bad_loc;
	char		 bad_hash[AUDIT_HASH_SIZE];
	size_t		 bad_len;
	char		 bad_why[128];

	enum diag	 diag;
	uint64_t	 want_seq;	/* DIAG_JUMP: the missing seq */
	uint64_t	 bad_seq;	/* DIAG_LINK, DIAG_FORK: its seq */
	char		 before_hash[AUDIT_HASH_SIZE];
	struct loc	 before_loc;	/* the record before the break */
	char		 fork_hash[AUDIT_HASH_SIZE];	/* DIAG_FORK: 2nd */
	size_t		 looked;

	int		 after_stop;	/* the last record is a stop */
	int64_t		 checkpoint_seconds;	/* of the last start record */
	int64_t		 now_us;
	struct witness	*wit;
	size_t		 nwit, capwit;
	int		 wit_sorted;

	struct audit_verify_result r;
};

static void
here(const struct audit_verify *v, struct loc *l)
{
	memcpy(l->file, v->file, sizeof(l->file));
	l->line = v->line;
}

static void
fail(struct audit_verify *v, const struct loc *l, const char *kind,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct audit_verify *v, const struct loc *l, const char *kind,
    const char *fmt, ...)
{
	va_list	 ap;

	if (v->diag == DIAG_DONE)
		return;
	v->diag = DIAG_DONE;
	v->r.ok = 0;
	memcpy(v->r.file, l->file, sizeof(v->r.file));
	v->r.line = l->line;
	v->r.kind = kind;
	va_start(ap, fmt);
	vsnprintf(v->r.message, sizeof(v->r.message), fmt, ap);
	va_end(ap);
}

struct audit_verify *
audit_verify_new(const unsigned char *pk, int flags)
{
	struct audit_verify	*v;

	if (sodium_init() < 0)
		return NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->flags = flags;
	if (pk != NULL) {
		memcpy(v->pk, pk, sizeof(v->pk));
		v->pinned = 1;
	}
	memcpy(v->last_hash, AUDIT_HASH_ZERO, sizeof(AUDIT_HASH_ZERO));
	snprintf(v->file, sizeof(v->file), "-");
	v->r.ok = 1;
	audit_verify_set_now(v, time(NULL) * (int64_t)1000000);
	return v;
}

void
audit_verify_pin_fss(struct audit_verify *v, const struct audit_fss_public *p)
{
	v->fss = *p;
	v->pinned_fss = 1;
}

void
audit_verify_set_now(struct audit_verify *v, int64_t us)
{
	v->now_us = us;
}

void
audit_verify_free(struct audit_verify *v)
{
	if (v != NULL)
		free(v->wit);
	free(v);
}

void
audit_verify_file(struct audit_verify *v, const char *name)
{
	snprintf(v->file, sizeof(v->file), "%s", name);
	v->line = 0;
}

/* The link fields of a record line, or NULL with *WHY set. */
static json_t *
parse(const char *line, size_t len, uint64_t *seq, const char **prev,
    const char **why)
{
	json_t		*o, *js, *jp;
	json_error_t	 err;

	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		*why = "not valid JSON";
		return NULL;
	}
	js = json_object_get(o, "seq");
	jp = json_object_get(o, "prev");
	if (!json_is_object(o) || !json_is_integer(js) ||
	    json_integer_value(js) < 1 || !json_is_string(jp) ||
	    strlen(json_string_value(jp)) != AUDIT_HASH_SIZE - 1 ||
	    strncmp(json_string_value(jp), "sha256:", 7) != 0) {
		*why = "no valid seq or prev";
		json_decref(o);
		return NULL;
	}
	*seq = (uint64_t)json_integer_value(js);
	*prev = json_string_value(jp);
	return o;
}

static const char *
str(json_t *o, const char *k)
{
	json_t	*j = json_object_get(o, k);

	return json_is_string(j) ? json_string_value(j) : NULL;
}

/* checkpoint_sig for a forward-secure key. */
static int
checkpoint_sig_fss(const struct audit_verify *v, json_t *o,
    uint64_t head_seq, const char *head, char *why, size_t size)
{
	struct audit_fss_public p;
	const char	*key = str(o, "key"), *ts = str(o, "ts");
	const char	*epk = str(o, "epoch_key");
	json_t		*je = json_object_get(o, "epoch");
	char		 msg[256];
	size_t		 mlen;
	int64_t		 us;

	if (audit_fss_parse_public(key, &p) == -1) {
		snprintf(why, size, "checkpoint key is not a forward-secure "
		    "key, as the given key is");
		return -1;
	}
	if (v->pinned || (v->pinned_fss && (sodium_memcmp(p.root, v->fss.root,
	    sizeof(p.root)) != 0 || p.start != v->fss.start ||
	    p.epoch != v->fss.epoch))) {
		snprintf(why, size, "checkpoint signed by another key (%s)",
		    key);
		return -1;
	}
	if (ts == NULL || audit_ts_parse(ts, &us) == -1 || epk == NULL ||
	    !json_is_integer(je) || json_integer_value(je) < 0) {
		snprintf(why, size, "checkpoint without ts, epoch or "
		    "epoch_key");
		return -1;
	}
	mlen = audit_checkpoint_msg_fss(msg, sizeof(msg),
	    (uint64_t)json_integer_value(je), ts, head_seq, head);
	return audit_fss_check(&p, (uint64_t)json_integer_value(je), epk,
	    json_object_get(o, "path"), us / 1000000, msg, mlen,
	    str(o, "sig"), why, size);
}

/*
 * Check the signature of checkpoint O over HEAD_SEQ and HEAD (the hash of
 * the record before it).  0, or -1 with the reason in WHY.
 */
static int
checkpoint_sig(const struct audit_verify *v, json_t *o, uint64_t head_seq,
    const char *head, char *why, size_t size)
{
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	const char	*key = str(o, "key"), *sig = str(o, "sig");
	json_t		*hs = json_object_get(o, "head_seq");
	char		 msg[256];
	size_t		 mlen;

	if (key == NULL || sig == NULL || !json_is_integer(hs)) {
		snprintf(why, size, "checkpoint without key, sig or head_seq");
		return -1;
	}
	if ((uint64_t)json_integer_value(hs) != head_seq) {
		snprintf(why, size, "checkpoint head_seq %" PRId64 " is not "
		    "the previous record (seq %" PRIu64 ")",
		    (int64_t)json_integer_value(hs), head_seq);
		return -1;
	}
	if (strncmp(key, AUDIT_FSS_PREFIX, strlen(AUDIT_FSS_PREFIX)) == 0 ||
	    v->pinned_fss)
		return checkpoint_sig_fss(v, o, head_seq, head, why, size);
	if (audit_key_parse_public(key, pk) == -1) {
		snprintf(why, size, "checkpoint key is not an Ed25519 public "
		    "key");
		return -1;
	}
	if (v->pinned && sodium_memcmp(pk, v->pk, sizeof(pk)) != 0) {
		snprintf(why, size, "checkpoint signed by another key (%s)",
		    key);
		return -1;
	}
	mlen = audit_checkpoint_msg(msg, sizeof(msg), head_seq, head);
	if (audit_key_check(pk, msg, mlen, sig) == -1) {
		snprintf(why, size, "bad checkpoint signature over seq %" PRIu64
		    " (the records before it were changed, or the checkpoint "
		    "was)", head_seq);
		return -1;
	}
	return 0;
}

/* Check a checkpoint record O that links correctly.  0 or -1 (failed). */
static int
check_checkpoint(struct audit_verify *v, json_t *o, const struct loc *l)
{
	char	 why[256];
	int64_t	 us;

	if (checkpoint_sig(v, o, v->last_seq, v->last_hash, why,
	    sizeof(why)) == -1) {
		fail(v, l, "signature", "%s", why);
		return -1;
	}
	/*
	 * A forward-secure key binds a checkpoint to its epoch by its time.
	 * A thief with a later key could still re-date the past to its own
	 * epoch: so within a run (no start between), checkpoint times go
	 * forward and are at most twice checkpoint_seconds apart.
	 */
	if (json_object_get(o, "epoch") != NULL) {
		if (str(o, "ts") == NULL ||
		    audit_ts_parse(str(o, "ts"), &us) == -1 ||
		    us < v->checkpoint_us) {
			fail(v, l, "signature", "checkpoint dated before the "
			    "checkpoint before it");
			return -1;
		}
		if (!v->new_run && v->checkpoint_us > 0 &&
		    v->checkpoint_seconds > 0 && us - v->checkpoint_us >
		    2 * v->checkpoint_seconds * 1000000 + STALE_SLACK_US) {
			fail(v, l, "signature", "checkpoint %" PRId64 " s after "
			    "the one before it in the same run, more than "
			    "twice checkpoint_seconds: the records between "
			    "were re-signed with a later key, or modgated was "
			    "suspended", (us - v->checkpoint_us) / 1000000);
			return -1;
		}
		v->checkpoint_us = us;
		v->new_run = 0;
	}
	v->r.checkpoints++;
	v->r.signed_seq = v->last_seq;
	snprintf(v->r.sealed_ts, sizeof(v->r.sealed_ts), "%s",
	    str(o, "ts") != NULL ? str(o, "ts") : "");
	return 0;
}

int
audit_verify_witness(struct audit_verify *v, const char *line, size_t len,
    char *bad, size_t badsize)
{
	const char	*p = memmem(line, len, "{\"seq\":", 7), *prev, *why;
	char		 reason[256];
	uint64_t	 seq;
	json_t		*o;
	struct witness	*w;
	size_t		 n;
	int		 rc = 1;

	if (p == NULL)
		return 1;
	n = len - (size_t)(p - line);
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if ((o = parse(p, n, &seq, &prev, &why)) == NULL)
		return 1;
	if (str(o, "event") == NULL || strcmp(str(o, "event"), "checkpoint")
	    != 0)
		goto done;
	rc = -1;
	if (seq < 2 || checkpoint_sig(v, o, seq - 1, prev, reason,
	    sizeof(reason)) == -1) {
		snprintf(bad, badsize, "checkpoint seq %" PRIu64 ": %s", seq,
		    seq < 2 ? "no head" : reason);
		goto done;
	}
	if (v->nwit == v->capwit) {
		v->capwit = v->capwit ? v->capwit * 2 : 64;
		if ((w = reallocarray(v->wit, v->capwit, sizeof(*w))) == NULL) {
			snprintf(bad, badsize, "out of memory");
			goto done;
		}
		v->wit = w;
	}
	v->wit_sorted = 0;
	w = &v->wit[v->nwit++];
	memset(w, 0, sizeof(*w));
	w->seq = seq;
	audit_hash(p, n, w->hash);
	snprintf(w->ts, sizeof(w->ts), "%s", str(o, "ts") != NULL ?
	    str(o, "ts") : "?");
	rc = 0;
 done:
	json_decref(o);
	return rc;
}

static int
witness_cmp(const void *a, const void *b)
{
	const struct witness *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The witness checkpoint of SEQ, or NULL. */
static struct witness *
witness_of(struct audit_verify *v, uint64_t seq)
{
	struct witness	 key = { .seq = seq };

	if (v->nwit == 0)
		return NULL;
	if (!v->wit_sorted) {
		qsort(v->wit, v->nwit, sizeof(*v->wit), witness_cmp);
		v->wit_sorted = 1;
	}
	return bsearch(&key, v->wit, v->nwit, sizeof(*v->wit), witness_cmp);
}

/* Settle a pending lookahead with the record O (NULL: none follows). */
static void
settle(struct audit_verify *v, uint64_t seq, const char *prev)
{
	struct loc	 l;

	here(v, &l);
	if (v->diag == DIAG_FORK) {
		/* two records with one seq and one predecessor: the one the
		 * chain goes on from is the original */
		v->diag = DIAG_NONE;
		if (prev != NULL && strcmp(prev, v->fork_hash) == 0)
			fail(v, &v->before_loc, "inserted", "record seq %"
			    PRIu64 " was inserted: a second record with this "
			    "seq follows (%s:%zu) and the chain goes on from "
			    "that one", v->bad_seq, v->last_loc.file,
			    v->last_loc.line);
		else
			fail(v, &v->last_loc, "inserted", "record seq %" PRIu64
			    " was inserted: it repeats the seq of the record "
			    "before it (%s:%zu)", v->bad_seq,
			    v->before_loc.file, v->before_loc.line);
		return;
	}
	if (v->diag == DIAG_LINK) {
		/* the successor links past the odd record: it was inserted */
		if (prev != NULL && (seq == v->bad_seq ||
		    strcmp(prev, v->before_hash) == 0)) {
			v->diag = DIAG_NONE;
			fail(v, &v->last_loc, "inserted", "record seq %" PRIu64
			    " was inserted: it does not link to the record "
			    "before it (%s:%zu) and the next one skips it",
			    v->bad_seq, v->before_loc.file, v->before_loc.line);
		} else {
			v->diag = DIAG_NONE;
			fail(v, &v->before_loc, "edited", "record seq %" PRIu64
			    " was edited: its hash is not the prev of the next "
			    "record (%s:%zu)", v->bad_seq - 1,
			    v->last_loc.file, v->last_loc.line);
		}
		return;
	}
	if (v->diag == DIAG_JUMP && prev != NULL && seq == v->want_seq) {
		v->diag = DIAG_NONE;
		fail(v, &v->before_loc, "reordered", "seq %" PRIu64
		    " where %" PRIu64 " was expected; seq %" PRIu64
		    " comes later, at %s:%zu (records reordered)", v->bad_seq,
		    v->want_seq, v->want_seq, l.file, l.line);
	}
}

static void
jump_dropped(struct audit_verify *v)
{
	v->diag = DIAG_NONE;
	if (v->bad_seq - 1 == v->want_seq)
		fail(v, &v->before_loc, "dropped", "record seq %" PRIu64
		    " is missing before this one (seq %" PRIu64 "): dropped",
		    v->want_seq, v->bad_seq);
	else
		fail(v, &v->before_loc, "dropped", "records seq %" PRIu64
		    "..%" PRIu64 " are missing before this one (seq %" PRIu64
		    "): dropped", v->want_seq, v->bad_seq - 1, v->bad_seq);
}

/* After a good record O (event EV): how the log would end here. */
static void
end_state(struct audit_verify *v, json_t *o, const char *ev)
{
	const char	*why = str(o, "reason");
	json_t		*cs;

	snprintf(v->r.last_ts, sizeof(v->r.last_ts), "%s",
	    str(o, "ts") != NULL ? str(o, "ts") : "");
	v->r.clean_end = ev != NULL && (strcmp(ev, "stop") == 0 ||
	    (strcmp(ev, "checkpoint") == 0 && (v->after_stop ||
	    (why != NULL && strcmp(why, "rotate") == 0))));
	v->after_stop = ev != NULL && strcmp(ev, "stop") == 0;
	if (ev == NULL || strcmp(ev, "start") != 0)
		return;
	v->new_run = 1;
	cs = json_object_get(o, "checkpoint_seconds");
	v->checkpoint_seconds = json_is_integer(cs) ? json_integer_value(cs) :
	    0;
	why = str(o, "previous_end");
	if (why != NULL && strcmp(why, "unclean") == 0)
		v->r.unclean++;
}

/* A record line O that reads fine: check its link. */
static void
record(struct audit_verify *v, json_t *o, const char *line, size_t len,
    uint64_t seq, const char *prev)
{
	struct loc	 l;
	const char	*ev = str(o, "event");
	struct witness	*w;

	here(v, &l);
	if (v->bad_pending) {
		const char *th = str(o, "torn_sha256");
		json_t *tb = json_object_get(o, "torn_bytes");

		if (ev == NULL || strcmp(ev, "torn_tail") != 0 || th == NULL ||
		    strcmp(th, v->bad_hash + 7) != 0 || !json_is_integer(tb) ||
		    (uint64_t)json_integer_value(tb) != v->bad_len) {
			fail(v, &v->bad_loc, "malformed", "%s (and no "
			    "torn_tail record seals it)", v->bad_why);
			return;
		}
		v->bad_pending = 0;
		v->r.torn_sealed++;
	} else if (ev != NULL && strcmp(ev, "torn_tail") == 0) {
		fail(v, &l, "edited", "torn_tail record without a torn line "
		    "before it");
		return;
	}
	if (!v->started) {
		v->started = 1;
		v->r.first_seq = seq;
		if (seq != 1 || strcmp(prev, AUDIT_HASH_ZERO) != 0) {
			if (!(v->flags & AUDIT_VERIFY_MIDDLE)) {
				fail(v, &l, "dropped", "the log starts at seq %"
				    PRIu64 ", not at the start of a chain: "
				    "earlier records are missing (give the "
				    "older files first, or -a when they are "
				    "archived)", seq);
				return;
			}
			v->last_seq = seq - 1;
			snprintf(v->last_hash, sizeof(v->last_hash), "%s",
			    prev);
		}
	}
	if (seq > v->last_seq + 1) {
		v->diag = DIAG_JUMP;
		v->want_seq = v->last_seq + 1;
		v->bad_seq = seq;
		v->before_loc = l;
		v->looked = 0;
		return;
	}
	if (seq == v->last_seq && strcmp(prev, v->last_prev) == 0) {
		v->diag = DIAG_FORK;
		v->bad_seq = seq;
		v->before_loc = v->last_loc;
		v->last_loc = l;
		audit_hash(line, len, v->fork_hash);
		return;
	}
	if (v->last_seq > 0 && seq == 1 && strcmp(prev, AUDIT_HASH_ZERO) == 0) {
		fail(v, &l, "inserted", "a new chain starts here after seq %"
		    PRIu64 ": records were inserted, or the file before this "
		    "one was moved away while modgated was stopped",
		    v->last_seq);
		return;
	}
	if (seq <= v->last_seq) {
		fail(v, &l, "inserted", "seq %" PRIu64 " after seq %" PRIu64
		    ": this seq was already used (inserted or copied record)",
		    seq, v->last_seq);
		return;
	}
	if (strcmp(prev, v->last_hash) != 0) {
		v->diag = DIAG_LINK;
		v->bad_seq = seq;
		memcpy(v->before_hash, v->last_hash, sizeof(v->before_hash));
		v->before_loc = v->last_loc;
		v->last_loc = l;
		return;
	}
	if (ev != NULL && strcmp(ev, "checkpoint") == 0 &&
	    check_checkpoint(v, o, &l) == -1)
		return;
	v->last_seq = seq;
	audit_hash(line, len, v->last_hash);
	if ((w = witness_of(v, seq)) != NULL) {
		if (strcmp(w->hash, v->last_hash) != 0) {
			fail(v, &l, "witness", "record seq %" PRIu64 " is not "
			    "the checkpoint the witness holds for this seq (%s)",
			    seq, w->ts);
			return;
		}
		w->seen = 1;
		v->r.witnessed++;
	}
	end_state(v, o, ev);
	snprintf(v->last_prev, sizeof(v->last_prev), "%s", prev);
	v->last_loc = l;
	v->r.last_seq = seq;
}

int
audit_verify_line(struct audit_verify *v, const char *line, size_t len,
    int complete)
{
	struct loc	 l;
	uint64_t	 seq = 0;
	const char	*prev = NULL, *why = NULL;
	json_t		*o;

	v->line++;
	if (v->diag == DIAG_DONE)
		return 1;
	here(v, &l);
	if (v->torn_pending && v->diag == DIAG_NONE) {
		fail(v, &v->torn_loc, "torn", "incomplete line (%zu bytes "
		    "without a newline) in the middle of the log", v->torn_len);
		return 1;
	}
	o = parse(line, len, &seq, &prev, &why);
	if (v->diag == DIAG_LINK || v->diag == DIAG_FORK) {
		settle(v, seq, o != NULL ? prev : NULL);
		json_decref(o);
		return 1;
	}
	if (v->diag == DIAG_JUMP) {
		if (o != NULL)
			settle(v, seq, prev);
		json_decref(o);
		if (v->diag == DIAG_JUMP && ++v->looked >= LOOKAHEAD_LINES)
			jump_dropped(v);
		return v->diag == DIAG_DONE;
	}
	if (!complete) {
		v->torn_pending = 1;
		v->torn_loc = l;
		v->torn_len = len;
		json_decref(o);
		return 0;
	}
	if (o == NULL) {
		if (v->bad_pending) {
			fail(v, &v->bad_loc, "malformed", "%s", v->bad_why);
			return 1;
		}
		v->bad_pending = 1;
		v->bad_loc = l;
		v->bad_len = len;
		audit_hash(line, len, v->bad_hash);
		snprintf(v->bad_why, sizeof(v->bad_why), "not an audit "
		    "record: %s", why);
		return 0;
	}
	v->r.records++;
	record(v, o, line, len, seq, prev);
	json_decref(o);
	return v->diag == DIAG_DONE;
}

/* The end of an otherwise intact log, and the witness. */
static void
check_end(struct audit_verify *v)
{
	int64_t	 sealed;
	size_t	 i;

	for (i = 0; i < v->nwit; i++)
		if (!v->wit[i].seen && v->wit[i].seq > v->r.last_seq &&
		    v->r.records > 0) {
			fail(v, &v->last_loc, "truncated", "the witness holds "
			    "a checkpoint at seq %" PRIu64 " (%s), past the "
			    "end of the log at seq %" PRIu64 ": records were "
			    "removed from the end", v->wit[i].seq,
			    v->wit[i].ts, v->r.last_seq);
			return;
		}
	if (v->r.clean_end || v->r.checkpoints == 0 ||
	    v->checkpoint_seconds <= 0 ||
	    audit_ts_parse(v->r.sealed_ts, &sealed) == -1)
		return;
	if (v->now_us - sealed > 2 * v->checkpoint_seconds * 1000000 +
	    STALE_SLACK_US)
		fail(v, &v->last_loc, "truncated", "the log ends at seq %"
		    PRIu64 " without a stop record, and its last checkpoint "
		    "(seq %" PRIu64 ", %s) is older than twice "
		    "checkpoint_seconds (%" PRId64 " s): records were cut from "
		    "the end, or modgated died and has not started since",
		    v->r.last_seq, v->r.signed_seq + 1, v->r.sealed_ts,
		    v->checkpoint_seconds);
}

int
audit_verify_finish(struct audit_verify *v, struct audit_verify_result *r)
{
	if (v->diag == DIAG_LINK || v->diag == DIAG_FORK)
		settle(v, 0, NULL);
	else if (v->diag == DIAG_JUMP)
		jump_dropped(v);
	if (v->diag != DIAG_DONE) {
		if (v->torn_pending)
			fail(v, &v->torn_loc, "torn", "the last line is "
			    "incomplete (%zu bytes without a newline: a torn "
			    "write; modgated seals it when it starts)",
			    v->torn_len);
		else if (v->bad_pending)
			fail(v, &v->bad_loc, "malformed", "%s", v->bad_why);
		else if ((v->pinned || v->pinned_fss) &&
		    v->r.checkpoints == 0) {
			if (v->last_loc.line == 0)
				here(v, &v->last_loc);
			fail(v, &v->last_loc, "unsigned", "no checkpoint "
			    "signed with the given key: the chain is not "
			    "proven against rewriting");
		} else
			check_end(v);
	}
	*r = v->r;
	return r->ok ? 0 : -1;
}
