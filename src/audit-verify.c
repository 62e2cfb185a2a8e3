/*
 * audit-verify: see include/audit-verify.h.
 *
 * Each record must have seq = previous seq + 1 and prev = hash of the
 * previous line.  On the first break the verifier looks ahead a little to
 * name what happened: a later record with the missing seq means the records
 * were reordered, none means they were dropped; a record whose successor
 * links past it was inserted; otherwise the record before the break was
 * edited.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit-key.h"
#include "audit-record.h"
#include "audit-verify.h"

#define LOOKAHEAD_LINES	100000	/* lines searched for a missing seq */

enum diag { DIAG_NONE, DIAG_JUMP, DIAG_LINK, DIAG_FORK, DIAG_DONE };

struct loc {
	char		 file[256];
	size_t		 line;
};

struct audit_verify {
	int		 flags;
	int		 pinned;
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
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
	return v;
}

void
audit_verify_free(struct audit_verify *v)
{
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

/* Check a checkpoint record O that links correctly.  0 or -1 (failed). */
static int
check_checkpoint(struct audit_verify *v, json_t *o, const struct loc *l)
{
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	const char	*key = str(o, "key"), *sig = str(o, "sig");
	json_t		*hs = json_object_get(o, "head_seq");
	char		 msg[256];
	size_t		 mlen;

	if (key == NULL || sig == NULL || !json_is_integer(hs)) {
		fail(v, l, "signature", "checkpoint without key, sig or "
		    "head_seq");
		return -1;
	}
	if ((uint64_t)json_integer_value(hs) != v->last_seq) {
		fail(v, l, "signature", "checkpoint head_seq %" PRId64
		    " is not the previous record (seq %" PRIu64 ")",
		    (int64_t)json_integer_value(hs), v->last_seq);
		return -1;
	}
	if (audit_key_parse_public(key, pk) == -1) {
		fail(v, l, "signature", "checkpoint key is not an Ed25519 "
		    "public key");
		return -1;
	}
	if (v->pinned && sodium_memcmp(pk, v->pk, sizeof(pk)) != 0) {
		fail(v, l, "signature", "checkpoint signed by another key "
		    "(%s)", key);
		return -1;
	}
	mlen = audit_checkpoint_msg(msg, sizeof(msg), v->last_seq,
	    v->last_hash);
	if (audit_key_check(pk, msg, mlen, sig) == -1) {
		fail(v, l, "signature", "bad checkpoint signature over seq %"
		    PRIu64 " (the records before it were changed, or the "
		    "checkpoint was)", v->last_seq);
		return -1;
	}
	v->r.checkpoints++;
	v->r.signed_seq = v->last_seq;
	return 0;
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

/* A record line O that reads fine: check its link. */
static void
record(struct audit_verify *v, json_t *o, const char *line, size_t len,
    uint64_t seq, const char *prev)
{
	struct loc	 l;
	const char	*ev = str(o, "event");

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
		else if (v->pinned && v->r.checkpoints == 0) {
			if (v->last_loc.line == 0)
				here(v, &v->last_loc);
			fail(v, &v->last_loc, "unsigned", "no checkpoint "
			    "signed with the given key: the chain is not "
			    "proven against rewriting");
		}
	}
	*r = v->r;
	return r->ok ? 0 : -1;
}
