/*
 * audit: see include/audit.h and man 5 modgate.audit.
 *
 * One mutex serialises the file: seq, prev and the byte size of the
 * complete records are only touched under it.  A record is built and
 * serialised outside the lock; under it the line gets its seq, time and
 * prev, goes out in one write(2) (continued on short writes), and is
 * fsync'ed when fsync = always.  A failed write is cut back to the last
 * complete record (ftruncate), so the file never keeps half a line; the
 * failures are written into the log as an "audit_failure" event as soon as
 * a write succeeds again.
 *
 * fsync = always commits in groups: a request's record is written under the
 * lock, then its writer waits on a second lock for an fdatasync(2) that
 * covers its bytes; one sync covers every record written while the previous
 * one ran.  Event records written under the lock are synced at once.
 *
 * One background thread (the ticker) syncs with fsync = interval and writes
 * a checkpoint once audit.checkpoint_seconds pass without one, records or
 * not, so that a log whose last checkpoint is older than that, and that
 * does not end with a stop, was cut or its daemon died.  Checkpoints also
 * go to syslog, a witness kept apart from the file.
 */
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "audit-fss.h"
#include "audit-key.h"
#include "audit-record.h"
#include "log.h"

#ifndef MODGATE_VERSION
#define MODGATE_VERSION "unknown"
#endif

#define TAIL_CHUNK	(64 * 1024)

struct audit {
	pthread_mutex_t	 mu;
	struct audit_conf conf;		/* path and key are our copies */
	int		 fd;		/* -1 after a failed reopen */
	uint64_t	 seq;		/* seq of the last record written */
	char		 prev[AUDIT_HASH_SIZE];	/* hash of that record */
	off_t		 size;		/* bytes of complete records */
	int		 cut_pending;	/* bytes after size to ftruncate */
	int		 has_key;
	struct audit_key key;		/* a static Ed25519 key, or */
	struct audit_fss *fss;		/* a forward-secure one */
	struct audit_privacy priv;	/* text HMAC secret, meta bounds */
	char		 hmac_id[17];	/* names the secret in start records */
	time_t		 expired_at;	/* last look for expired files */
	uint64_t	 since_checkpoint;
	struct timespec	 checkpoint_at;	/* CLOCK_MONOTONIC, last checkpoint */
	struct timespec	 synced_at;	/* CLOCK_MONOTONIC, last interval sync */
	int		 witness;	/* the next line goes to syslog */
	const char	*previous_end;	/* "new", "clean" or "unclean" */
	off_t		 rotate_at;	/* next size that triggers rotation */

	uint64_t	 written;	/* records written since open */
	uint64_t	 failures;	/* failed appends since open */
	uint64_t	 lost;		/* of those, with on_failure = allow */
	uint64_t	 unlogged;	/* failures not yet told in the log */
	uint64_t	 unlogged_allowed;
	char		 fail_first[AUDIT_TS_SIZE], fail_last[AUDIT_TS_SIZE];
	int		 fail_errno;
	int		 failing;
	time_t		 warned_at;
	uint64_t	 warn_suppressed;

	int		 dirty;		/* written since the last fsync */
	int		 deferring;	/* the caller syncs (group commit) */
	uint64_t	 file_gen;	/* +1 whenever fd changes */
	pthread_mutex_t	 sync_mu;	/* one group sync; lock before mu */
	uint64_t	 synced_gen;	/* under sync_mu: file and size known */
	off_t		 synced_upto;	/*   to be on disk */
	int		 stop;
	int		 ticker_running;
	pthread_t	 ticker;
	pthread_cond_t	 cv;
};

static void	*ticker_main(void *);
static void	 start_ticker(struct audit *);
static void	 expire(struct audit *);

static const char *
on_failure_name(enum audit_on_failure f)
{
	switch (f) {
	case AUDIT_FAIL_BLOCK:
		return "block";
	case AUDIT_FAIL_ALLOW:
		return "allow";
	case AUDIT_FAIL_REFUSE:
		return "refuse";
	}
	return "block";
}

static const char *
fsync_name(enum audit_fsync f)
{
	switch (f) {
	case AUDIT_FSYNC_ALWAYS:
		return "always";
	case AUDIT_FSYNC_INTERVAL:
		return "interval";
	case AUDIT_FSYNC_NEVER:
		return "never";
	}
	return "always";
}

/* Write all of BUF; on error the bytes already written stay.  0 or -1. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Put LINE (LEN bytes, newline included; LEAD leading bytes that belong to
 * an earlier, torn line) at the end of the file and make it the chain head.
 * On failure cuts the file back to the last complete record.  0 or -1.
 */
static int
put_line(struct audit *a, const char *line, size_t len, size_t lead)
{
	int	 saved;

	if (a->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (a->cut_pending) {
		if (ftruncate(a->fd, a->size) == -1)
			return -1;
		a->cut_pending = 0;
	}
	if (write_all(a->fd, line, len) == -1) {
		saved = errno;
		if (ftruncate(a->fd, a->size) == -1)
			a->cut_pending = 1;
		errno = saved;
		return -1;
	}
	a->seq++;
	audit_hash(line + lead, len - lead - 1, a->prev);
	a->size += (off_t)len;
	a->dirty = 1;
	if (a->conf.fsync == AUDIT_FSYNC_ALWAYS && !a->deferring) {
		if (fdatasync(a->fd) == -1)
			return -1;
		a->dirty = 0;
	}
	if (a->conf.syslog || a->witness)
		syslog(LOG_AUTHPRIV | (a->witness ? LOG_NOTICE : LOG_INFO),
		    "%.*s", (int)(len - lead - 1), line + lead);
	return 0;
}

/*
 * Append a record with BODY (an object, consumed) as the next link, dated
 * TS (NULL: now); LEAD is prepended raw (used to seal a torn line).  0 or
 * -1.
 */
static int
put_body(struct audit *a, json_t *body, const char *lead, const char *ts)
{
	char		 now[AUDIT_TS_SIZE], *s = NULL, *line = NULL;
	char		*buf = NULL;
	size_t		 slen, len, ll = lead != NULL ? strlen(lead) : 0;
	int		 rc = -1;

	if (body == NULL || (s = audit_body_dump(body, &slen)) == NULL)
		goto done;
	if (ts == NULL) {
		audit_ts_now(now);
		ts = now;
	}
	if ((line = audit_line_make(a->seq + 1, ts, s, slen, a->prev, &len))
	    == NULL)
		goto done;
	if (ll > 0) {
		if ((buf = malloc(ll + len)) == NULL)
			goto done;
		memcpy(buf, lead, ll);
		memcpy(buf + ll, line, len);
		rc = put_line(a, buf, ll + len, ll);
	} else
		rc = put_line(a, line, len, 0);
 done:
	if (rc == -1 && errno == 0)
		errno = ENOMEM;
	json_decref(body);
	free(s);
	free(line);
	free(buf);
	return rc;
}

static json_t *
event_new(const char *name)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "event", json_string(name)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * A signed checkpoint over the current head, written for REASON ("records",
 * "interval", "rotate", "reload" or "stop") and sent to syslog as a
 * witness.  0 or -1.
 */
/* The public key checkpoints name. */
static const char *
key_pubstr(const struct audit *a)
{
	return a->fss != NULL ? audit_fss_pubstr(a->fss) : a->key.pubstr;
}

struct fss_msg {
	const char	*ts;
	uint64_t	 seq;
	const char	*head;
};

static size_t
fss_msg(char *out, size_t size, uint64_t epoch, void *arg)
{
	const struct fss_msg *m = arg;

	return audit_checkpoint_msg_fss(out, size, epoch, m->ts, m->seq,
	    m->head);
}

/*
 * The members of a checkpoint over the head, dated TS, after "event" and
 * "reason" in O: with a forward-secure key, the epoch's key and its path
 * to the key's root; then the signature.  0 or -1.
 */
static int
checkpoint_sign(struct audit *a, json_t *o, const char *ts)
{
	char		 msg[256], sig[AUDIT_SIG_B64_SIZE];
	char		 epk[AUDIT_PUBSTR_SIZE];
	struct fss_msg	 m = { ts, a->seq, a->prev };
	uint64_t	 epoch;
	int64_t		 us;
	json_t		*path = NULL;
	size_t		 mlen;

	if (json_object_set_new(o, "head_seq", json_integer((json_int_t)a->seq))
	    == -1 || json_object_set_new(o, "key", json_string(key_pubstr(a)))
	    == -1)
		return -1;
	if (a->fss == NULL) {
		mlen = audit_checkpoint_msg(msg, sizeof(msg), a->seq, a->prev);
		if (audit_key_sign(&a->key, msg, mlen, sig) == -1)
			return -1;
	} else if (audit_ts_parse(ts, &us) == -1 ||
	    audit_fss_sign(a->fss, us / 1000000, fss_msg, &m, &epoch, epk,
	    &path, sig) == -1 ||
	    json_object_set_new(o, "epoch", json_integer((json_int_t)epoch))
	    == -1 ||
	    json_object_set_new(o, "epoch_key", json_string(epk)) == -1 ||
	    json_object_set_new(o, "path", path) == -1)
		return -1;
	return json_object_set_new(o, "sig", json_string(sig));
}

static int
checkpoint(struct audit *a, const char *reason)
{
	char	 ts[AUDIT_TS_SIZE];
	json_t	*o;
	int	 rc;

	if (!a->has_key)
		return 0;
	audit_ts_now(ts);
	if ((o = event_new("checkpoint")) == NULL ||
	    json_object_set_new(o, "reason", json_string(reason)) == -1 ||
	    checkpoint_sign(a, o, ts) == -1) {
		json_decref(o);
		errno = EINVAL;
		return -1;
	}
	a->witness = 1;
	rc = put_body(a, o, NULL, ts);
	a->witness = 0;
	if (rc == -1)
		return -1;
	a->since_checkpoint = 0;
	clock_gettime(CLOCK_MONOTONIC, &a->checkpoint_at);
	return 0;
}

/* After a record: a checkpoint when one is due.  0 or -1. */
static int
after_record(struct audit *a)
{
	a->since_checkpoint++;
	if (a->has_key && a->conf.checkpoint_every > 0 &&
	    a->since_checkpoint >= (uint64_t)a->conf.checkpoint_every)
		return checkpoint(a, "records");
	return 0;
}

/* Write the event record O (put_body owns it) and what follows a record;
   a failure is logged, the caller goes on. */
static void
put_event(struct audit *a, json_t *o)
{
	if (put_body(a, o, NULL, NULL) == -1)
		log_warn("audit: %s", a->conf.path);
	else
		after_record(a);
}

static int
open_file(struct audit *a)
{
	struct stat	 st;

	a->file_gen++;
	a->fd = open(a->conf.path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640);
	if (a->fd == -1)
		return -1;
	if (fstat(a->fd, &st) == -1) {
		close(a->fd);
		a->fd = -1;
		return -1;
	}
	a->size = st.st_size;
	a->cut_pending = 0;
	return 0;
}

/* Tell the log about failures it could not record, once it can. */
static int
tell_failures(struct audit *a)
{
	json_t	*o;

	if (a->unlogged == 0)
		return 0;
	if ((o = event_new("audit_failure")) == NULL ||
	    json_object_set_new(o, "failed",
	    json_integer((json_int_t)a->unlogged)) == -1 ||
	    json_object_set_new(o, "answered_allow",
	    json_integer((json_int_t)a->unlogged_allowed)) == -1 ||
	    json_object_set_new(o, "on_failure",
	    json_string(on_failure_name(a->conf.on_failure))) == -1 ||
	    json_object_set_new(o, "first", json_string(a->fail_first)) == -1 ||
	    json_object_set_new(o, "last", json_string(a->fail_last)) == -1 ||
	    json_object_set_new(o, "error",
	    json_string(strerror(a->fail_errno))) == -1) {
		json_decref(o);
		errno = ENOMEM;
		return -1;
	}
	if (put_body(a, o, NULL, NULL) == -1)
		return -1;
	log_warnx("audit: %s writable again; %" PRIu64 " record(s) "
	    "could not be written (%" PRIu64 " answered allow), noted as "
	    "seq %" PRIu64, a->conf.path, a->unlogged, a->unlogged_allowed,
	    a->seq);
	a->unlogged = a->unlogged_allowed = 0;
	return after_record(a);
}

static void
note_failure(struct audit *a, int err)
{
	time_t	 now = time(NULL);

	a->failures++;
	a->unlogged++;
	if (a->conf.on_failure == AUDIT_FAIL_ALLOW) {
		a->lost++;
		a->unlogged_allowed++;
	}
	audit_ts_now(a->fail_last);
	if (a->unlogged == 1)
		memcpy(a->fail_first, a->fail_last, sizeof(a->fail_first));
	a->fail_errno = err;
	a->failing = 1;
	if (now != a->warned_at) {
		log_warnx("audit: cannot write %s: %s; on_failure %s "
		    "(%" PRIu64 " failed, %" PRIu64 " answered without a "
		    "record%s)", a->conf.path, strerror(err),
		    on_failure_name(a->conf.on_failure), a->failures, a->lost,
		    a->warn_suppressed > 0 ? ", more warnings suppressed" : "");
		a->warned_at = now;
		a->warn_suppressed = 0;
	} else
		a->warn_suppressed++;
}

/* New name for the current file: PATH-YYYYmmddTHHMMSS.uuuuuuZ. */
static int
rotated_name(const struct audit *a, char *out, size_t size)
{
	char	 ts[AUDIT_TS_SIZE], compact[AUDIT_TS_SIZE];
	size_t	 i, j;

	audit_ts_now(ts);
	for (i = j = 0; ts[i] != '\0'; i++)
		if (ts[i] != '-' && ts[i] != ':')
			compact[j++] = ts[i];
	compact[j] = '\0';
	if ((size_t)snprintf(out, size, "%s-%s", a->conf.path, compact) >= size)
		return -1;
	return 0;
}

/* Close the current file under a new name and start the next one. */
static void
rotate(struct audit *a)
{
	char		 name[4096];
	const char	*base;
	json_t		*o;

	if (checkpoint(a, "rotate") == -1)
		goto fail;
	if (rotated_name(a, name, sizeof(name)) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (fdatasync(a->fd) == -1 || rename(a->conf.path, name) == -1)
		goto fail;
	close(a->fd);
	if (open_file(a) == -1) {
		log_warn("audit: %s", a->conf.path);
		return;
	}
	base = strrchr(name, '/') != NULL ? strrchr(name, '/') + 1 : name;
	if ((o = event_new("rotate")) == NULL ||
	    json_object_set_new(o, "from", json_string(base)) == -1) {
		json_decref(o);
		return;
	}
	put_event(a, o);
	a->rotate_at = a->conf.rotate_bytes;
	log_info("audit: rotated to %s", name);
	expire(a);
	return;
 fail:
	log_warn("audit: cannot rotate %s", a->conf.path);
	/* try again after another eighth of the limit */
	a->rotate_at = a->size + a->conf.rotate_bytes / 8 + 1;
}

/*
 * Make sure the bytes up to END of file generation GEN are on disk, with
 * one fdatasync for everybody waiting.  Called without MU.  0 or -1.
 */
static int
group_sync(struct audit *a, uint64_t gen, off_t end)
{
	off_t		 target;
	uint64_t	 tgen;
	int		 fd, rc = 0;

	pthread_mutex_lock(&a->sync_mu);
	if (a->synced_gen == gen && a->synced_upto >= end)
		goto out;
	pthread_mutex_lock(&a->mu);
	if (a->file_gen != gen) {
		/* rotated or reopened: the old file was synced first */
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	fd = a->fd != -1 ? dup(a->fd) : -1;
	target = a->size;
	tgen = a->file_gen;
	pthread_mutex_unlock(&a->mu);
	if (fd == -1)
		rc = -1;
	else {
		if (fdatasync(fd) == -1)
			rc = -1;
		close(fd);
	}
	if (rc == 0) {
		a->synced_gen = tgen;
		a->synced_upto = target;
	}
 out:
	pthread_mutex_unlock(&a->sync_mu);
	return rc;
}

int
audit_append(struct audit *a, const struct request *req, struct result *res,
    const char *policy_version)
{
	enum audit_text_mode	 mode;
	json_t			*body;
	char			 ts[AUDIT_TS_SIZE], *s = NULL, *line = NULL;
	size_t			 slen, len;
	uint64_t		 gen = 0;
	off_t			 end = 0;
	int			 rc = -1, err = ENOMEM, saved;

	mode = audit_text_mode(&a->conf, res->policy);
	if ((body = audit_record_body(req, res, policy_version, mode,
	    &a->priv)) != NULL)
		s = audit_body_dump(body, &slen);
	json_decref(body);

	pthread_mutex_lock(&a->mu);
	start_ticker(a);
	if (s == NULL)
		goto done;
	if (a->fd == -1 && open_file(a) == -1) {
		err = errno;
		goto done;
	}
	if (tell_failures(a) == -1) {
		err = errno;
		goto done;
	}
	audit_ts_now(ts);
	if ((line = audit_line_make(a->seq + 1, ts, s, slen, a->prev, &len))
	    == NULL)
		goto done;
	a->deferring = 1;
	rc = put_line(a, line, len, 0);
	a->deferring = 0;
	if (rc == -1) {
		err = errno;
		goto done;
	}
	rc = -1;
	gen = a->file_gen;
	end = a->size;
	res->audit_seq = a->seq;
	a->written++;
	a->failing = 0;
	rc = 0;
	if (after_record(a) == -1)
		log_warn("audit: checkpoint in %s", a->conf.path);
	if (a->conf.rotate_bytes > 0 && a->size >= a->rotate_at)
		rotate(a);
 done:
	if (rc == -1)
		note_failure(a, err);
	pthread_mutex_unlock(&a->mu);
	free(s);
	free(line);
	if (rc == 0 && a->conf.fsync == AUDIT_FSYNC_ALWAYS &&
	    group_sync(a, gen, end) == -1) {
		/* the record is in the chain but maybe not on disk */
		saved = errno;
		pthread_mutex_lock(&a->mu);
		note_failure(a, saved);
		pthread_mutex_unlock(&a->mu);
		rc = -1;
	}
	return rc;
}

/*
 * Read the end of the file: find the last complete line and what follows
 * it.  Sets *BUF (malloc'd) to the bytes from the start of that line to
 * the end of the file, *LINE_LEN to the line's length (newline excluded,
 * 0 when there is none) and *TORN_OFF to where the bytes after it start.
 */
static int
read_tail(int fd, off_t size, char **bufp, size_t *bufsz, size_t *line_len,
    size_t *torn_off)
{
	size_t	 want = TAIL_CHUNK, got, i, last_nl, prev_nl;
	char	*buf = NULL, *nb;
	ssize_t	 n;
	int	 found;

	for (;;) {
		if ((off_t)want > size)
			want = (size_t)size;
		if ((nb = realloc(buf, want)) == NULL)
			goto fail;
		buf = nb;
		for (got = 0; got < want; got += (size_t)n)
			if ((n = pread(fd, buf + got, want - got,
			    size - (off_t)want + (off_t)got)) <= 0) {
				if (n == 0)
					errno = EIO;
				goto fail;
			}
		/* the last newline, then the one before it */
		found = 0;
		last_nl = prev_nl = SIZE_MAX;
		for (i = want; i > 0; i--)
			if (buf[i - 1] == '\n') {
				if (last_nl == SIZE_MAX)
					last_nl = i - 1;
				else {
					prev_nl = i - 1;
					found = 1;
					break;
				}
			}
		if (found || (off_t)want == size)
			break;
		if (want > 2 * (size_t)AUDIT_LINE_MAX) {
			errno = EFBIG;
			goto fail;
		}
		want *= 2;
	}
	if (last_nl == SIZE_MAX) {		/* no complete line at all */
		*line_len = 0;
		*torn_off = 0;
	} else {
		size_t start = prev_nl == SIZE_MAX ? 0 : prev_nl + 1;

		memmove(buf, buf + start, want - start);
		want -= start;
		*line_len = last_nl - start;
		*torn_off = last_nl - start + 1;
	}
	*bufp = buf;
	*bufsz = want;
	return 0;
 fail:
	free(buf);
	return -1;
}

/* Seq and prev of a record line, or -1 when it is not one. */
static int
parse_link(const char *line, size_t len, uint64_t *seq, const char **prevp,
    json_t **rootp)
{
	json_t		*root, *js, *jp;

	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL)
		return -1;
	js = json_object_get(root, "seq");
	jp = json_object_get(root, "prev");
	if (!json_is_integer(js) || json_integer_value(js) < 1 ||
	    !json_is_string(jp)) {
		json_decref(root);
		return -1;
	}
	*seq = (uint64_t)json_integer_value(js);
	*prevp = json_string_value(jp);
	*rootp = root;
	return 0;
}

/*
 * Whether the record ROOT is the last one of a clean stop: the stop record
 * itself (unsigned log) or the checkpoint written after it.
 */
static int
ended_cleanly(json_t *root)
{
	const char	*ev = json_string_value(json_object_get(root, "event"));
	const char	*why = json_string_value(json_object_get(root, "reason"));

	return ev != NULL && (strcmp(ev, "stop") == 0 ||
	    (strcmp(ev, "checkpoint") == 0 && why != NULL &&
	    strcmp(why, "stop") == 0));
}

/*
 * Pick up the chain from the existing file: seq and hash of its last
 * record.  A torn last line (a write cut short, e.g. by kill -9) is sealed
 * with a newline and followed by a "torn_tail" record.  0 or -1 (logged).
 */
static int
resume(struct audit *a)
{
	char		*buf = NULL, h[AUDIT_HASH_SIZE];
	size_t		 bufsz, line_len, torn_off, torn_len;
	uint64_t	 seq, tseq;
	const char	*prev, *tprev;
	json_t		*root = NULL, *troot = NULL, *o;
	int		 rc = -1;

	if (a->size == 0)
		return 0;
	if (read_tail(a->fd, a->size, &buf, &bufsz, &line_len, &torn_off)
	    == -1) {
		log_warn("audit: %s: cannot read the last record",
		    a->conf.path);
		return -1;
	}
	if (line_len > 0) {
		if (parse_link(buf, line_len, &seq, &prev, &root) == -1) {
			log_warnx("audit: %s: the last complete line is not an "
			    "audit record; check the file with `modgate audit "
			    "verify` and move it away", a->conf.path);
			goto done;
		}
		a->seq = seq;
		audit_hash(buf, line_len, a->prev);
		a->previous_end = ended_cleanly(root) ? "clean" : "unclean";
	}
	torn_len = bufsz - torn_off;
	if (torn_len == 0) {
		rc = 0;
		goto done;
	}
	/* a complete record that only lacks its newline is kept as is */
	if (parse_link(buf + torn_off, torn_len, &tseq, &tprev, &troot) == 0 &&
	    tseq == a->seq + 1 && strcmp(tprev, a->prev) == 0) {
		if (write_all(a->fd, "\n", 1) == -1) {
			log_warn("audit: %s", a->conf.path);
			goto done;
		}
		a->seq = tseq;
		audit_hash(buf + torn_off, torn_len, a->prev);
		a->previous_end = ended_cleanly(troot) ? "clean" : "unclean";
		a->size++;
		log_warnx("audit: %s: last record lacked its newline; "
		    "completed it", a->conf.path);
		rc = 0;
		goto done;
	}
	a->previous_end = "unclean";
	audit_hash(buf + torn_off, torn_len, h);
	if ((o = event_new("torn_tail")) == NULL ||
	    json_object_set_new(o, "torn_bytes",
	    json_integer((json_int_t)torn_len)) == -1 ||
	    json_object_set_new(o, "torn_sha256", json_string(h + 7)) == -1) {
		json_decref(o);
		goto done;
	}
	if (put_body(a, o, "\n", NULL) == -1) {
		log_warn("audit: %s: cannot seal the torn last line",
		    a->conf.path);
		goto done;
	}
	log_warnx("audit: %s: last line was torn (%zu bytes, an interrupted "
	    "write); sealed it and resumed the chain at seq %" PRIu64,
	    a->conf.path, torn_len, a->seq);
	after_record(a);
	rc = 0;
 done:
	json_decref(root);
	json_decref(troot);
	free(buf);
	return rc;
}

/*
 * Open the directory of PATH, with *BASE set to PATH's last component; DIR
 * (SIZE bytes) gets the directory's name.  NULL on error.
 */
static DIR *
open_dir_of(const char *path, char *dir, size_t size, const char **base)
{
	const char	*slash = strrchr(path, '/');

	*base = slash != NULL ? slash + 1 : path;
	if (slash == NULL)
		snprintf(dir, size, ".");
	else if ((size_t)snprintf(dir, size, "%.*s", (int)(slash - path),
	    path) >= size)
		return NULL;
	if (dir[0] == '\0')
		snprintf(dir, size, "/");
	return opendir(dir);
}

/* Whether NAME is a rotated file of BASE (BLEN bytes): "BASE-...". */
static int
is_rotated(const char *name, const char *base, size_t blen)
{
	return strncmp(name, base, blen) == 0 && name[blen] == '-';
}

/*
 * The newest rotated file of PATH ("PATH-" and a time, as written by
 * rotate() or logrotate's dateext; names sort in time order), not
 * compressed, into OUT.  0, or -1 when there is none.
 */
static int
newest_rotated(const char *path, char *out, size_t size)
{
	const char	*base, *ext;
	char		 dir[4096], best[256] = "";
	size_t		 blen;
	DIR		*d;
	struct dirent	*e;

	if ((d = open_dir_of(path, dir, sizeof(dir), &base)) == NULL)
		return -1;
	blen = strlen(base);
	while ((e = readdir(d)) != NULL) {
		if (!is_rotated(e->d_name, base, blen) ||
		    strlen(e->d_name) >= sizeof(best))
			continue;
		if ((ext = strrchr(e->d_name + blen, '.')) != NULL &&
		    (strcmp(ext, ".gz") == 0 || strcmp(ext, ".xz") == 0 ||
		    strcmp(ext, ".bz2") == 0 || strcmp(ext, ".zst") == 0))
			continue;
		if (strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	closedir(d);
	if (best[0] == '\0' ||
	    (size_t)snprintf(out, size, "%s/%s", dir, best) >= size)
		return -1;
	return 0;
}

/*
 * Remove the rotated files of the log (compressed ones too) last written
 * more than retain_days ago, and say which in an "expire" record: the
 * oldest file left starts with the rotate (or reopen) record that links it
 * to the removed ones, and verifies from there (verify -a).  Under MU.
 */
static void
expire(struct audit *a)
{
	const char	*base;
	char		 dir[4096], name[4400];
	size_t		 blen;
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	time_t		 now = time(NULL);
	json_t		*o, *gone;

	if (a->conf.retain_days <= 0 || a->fd == -1)
		return;
	a->expired_at = now;
	if ((gone = json_array()) == NULL)
		return;
	if ((d = open_dir_of(a->conf.path, dir, sizeof(dir), &base)) == NULL) {
		log_warn("audit: retention: %s", dir);
		json_decref(gone);
		return;
	}
	blen = strlen(base);
	while ((e = readdir(d)) != NULL) {
		if (!is_rotated(e->d_name, base, blen) ||
		    (size_t)snprintf(name, sizeof(name), "%s/%s", dir,
		    e->d_name) >= sizeof(name) || lstat(name, &st) == -1 ||
		    !S_ISREG(st.st_mode) ||
		    now - st.st_mtime <= (time_t)a->conf.retain_days * 86400)
			continue;
		if (unlink(name) == -1)
			log_warn("audit: retention: %s", name);
		else
			json_array_append_new(gone, json_string(e->d_name));
	}
	closedir(d);
	if (json_array_size(gone) == 0) {
		json_decref(gone);
		return;
	}
	log_info("audit: removed %zu file(s) older than %d days",
	    json_array_size(gone), a->conf.retain_days);
	if ((o = event_new("expire")) == NULL ||
	    json_object_set_new(o, "retain_days",
	    json_integer(a->conf.retain_days)) == -1 ||
	    json_object_set_new(o, "removed", gone) == -1) {
		json_decref(o);
		return;
	}
	put_event(a, o);
}

/*
 * A new or empty log whose previous file was rotated away while the daemon
 * was stopped: pick the chain up from the newest rotated file (sealing its
 * torn line there, if any).  0 (also when there is none) or -1.
 */
static int
resume_rotated(struct audit *a)
{
	char	 prevfile[4096];
	int	 fd = a->fd, rc;
	off_t	 size = a->size;

	if (a->size != 0 || newest_rotated(a->conf.path, prevfile,
	    sizeof(prevfile)) == -1)
		return 0;
	if ((a->fd = open(prevfile, O_RDWR | O_APPEND | O_CLOEXEC)) == -1) {
		log_warn("audit: %s", prevfile);
		a->fd = fd;
		return -1;
	}
	a->size = lseek(a->fd, 0, SEEK_END);
	rc = a->size > 0 ? resume(a) : 0;
	if (rc == 0 && a->seq > 0)
		log_info("audit: chain continues from %s (seq %" PRIu64 ")",
		    prevfile, a->seq);
	close(a->fd);
	a->fd = fd;
	a->size = size;
	a->file_gen++;
	return rc;
}

/* Whether a checkpoint is due by time.  Under MU. */
static int
checkpoint_due(struct audit *a, const struct timespec *now)
{
	return a->has_key && a->conf.checkpoint_seconds > 0 && a->fd != -1 &&
	    now->tv_sec - a->checkpoint_at.tv_sec >=
	    (time_t)a->conf.checkpoint_seconds;
}

static void *
ticker_main(void *arg)
{
	struct audit	*a = arg;
	struct timespec	 until, now;
	long		 ms;
	int		 fd;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		/* wake for the next sync, or at least once a second */
		ms = a->conf.fsync == AUDIT_FSYNC_INTERVAL &&
		    a->conf.fsync_interval_ms < 1000 ?
		    a->conf.fsync_interval_ms : 1000;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ms / 1000;
		until.tv_nsec += (ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu,
		    &until) != ETIMEDOUT)
			;
		if (a->stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (checkpoint_due(a, &now) && (tell_failures(a) == -1 ||
		    checkpoint(a, "interval") == -1)) {
			log_warn("audit: checkpoint in %s", a->conf.path);
			/* try again after another interval, not every tick */
			a->checkpoint_at = now;
		}
		if (a->conf.retain_days > 0 &&
		    time(NULL) - a->expired_at >= 3600)
			expire(a);
		if (a->conf.fsync != AUDIT_FSYNC_INTERVAL || !a->dirty ||
		    a->fd == -1 || (now.tv_sec - a->synced_at.tv_sec) * 1000 +
		    (now.tv_nsec - a->synced_at.tv_nsec) / 1000000 <
		    a->conf.fsync_interval_ms)
			continue;
		if ((fd = dup(a->fd)) == -1)
			continue;
		a->dirty = 0;
		a->synced_at = now;
		pthread_mutex_unlock(&a->mu);
		if (fdatasync(fd) == -1)
			log_warn("audit: fsync %s", a->conf.path);
		close(fd);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Start the ticker when it has work, once.  Under MU. */
static void
start_ticker(struct audit *a)
{
	if (a->ticker_running || a->stop ||
	    (a->conf.fsync != AUDIT_FSYNC_INTERVAL && a->conf.retain_days <= 0 &&
	    !(a->has_key && a->conf.checkpoint_seconds > 0)))
		return;
	if (pthread_create(&a->ticker, NULL, ticker_main, a) == 0)
		a->ticker_running = 1;
	else
		log_warnx("audit: cannot start the fsync and checkpoint "
		    "thread");
}

void
audit_start(struct audit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	start_ticker(a);
	pthread_mutex_unlock(&a->mu);
}

/*
 * The text HMAC secret (created at the first start) and the meta bounds of
 * CONF, whose meta_redact strings are copied.  0 or -1 (logged).
 */
static int
load_privacy(struct audit *a, const struct audit_conf *conf)
{
	char		*path = NULL;
	unsigned char	 id[crypto_auth_hmacsha256_BYTES];
	size_t		 i;
	int		 rc;

	for (i = 0; i < conf->n_meta_redact; i++) {
		if ((a->conf.meta_redact[i] = strdup(conf->meta_redact[i])) ==
		    NULL) {
			log_warn("audit");
			return -1;
		}
		a->conf.n_meta_redact++;
	}

	if (conf->hmac_key != NULL && conf->hmac_key[0] != '\0')
		path = strdup(conf->hmac_key);
	else if (asprintf(&path, "%s.hmac-key", conf->path) == -1)
		path = NULL;
	if (path == NULL) {
		log_warn("audit");
		return -1;
	}
	rc = audit_hmac_key_load(path, 1, a->priv.hmac_key);
	free(path);
	if (rc == -1)
		return -1;
	crypto_auth_hmacsha256(id, (const unsigned char *)"modgate-audit-hmac-id",
	    21, a->priv.hmac_key);
	sodium_bin2hex(a->hmac_id, sizeof(a->hmac_id), id, 8);
	a->priv.meta_max = conf->meta_max_bytes;
	a->priv.redact = a->conf.meta_redact;
	a->priv.n_redact = a->conf.n_meta_redact;
	return 0;
}

static void
audit_free(struct audit *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	if (a->fd != -1)
		close(a->fd);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->sync_mu);
	free(a->conf.path);
	free(a->conf.key);
	for (i = 0; i < a->conf.n_meta_redact; i++)
		free(a->conf.meta_redact[i]);
	sodium_memzero(&a->key, sizeof(a->key));
	audit_fss_free(a->fss);
	sodium_memzero(&a->priv, sizeof(a->priv));
	free(a);
}

struct audit *
audit_open(const struct audit_conf *conf)
{
	struct audit		*a;
	pthread_condattr_t	 ca;
	json_t			*o;

	if (conf->path == NULL || conf->path[0] == '\0') {
		log_warnx("audit: no path");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("audit");
		return NULL;
	}
	a->fd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->sync_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	a->conf = *conf;
	a->conf.hmac_key = NULL;	/* CONF's, read by load_privacy only */
	a->conf.n_meta_redact = 0;	/* copied by load_privacy */
	a->conf.path = strdup(conf->path);
	a->conf.key = strdup(conf->key != NULL ? conf->key : "");
	if (a->conf.path == NULL || a->conf.key == NULL) {
		log_warn("audit");
		goto fail;
	}
	if (a->conf.fsync_interval_ms <= 0)
		a->conf.fsync_interval_ms = 1000;
	a->rotate_at = a->conf.rotate_bytes;
	memcpy(a->prev, AUDIT_HASH_ZERO, sizeof(AUDIT_HASH_ZERO));
	if (a->conf.key[0] != '\0') {
		if (audit_fss_is_fss(a->conf.key)) {
			if ((a->fss = audit_fss_load(a->conf.key)) == NULL)
				goto fail;
		} else if (audit_key_load(a->conf.key, &a->key) == -1)
			goto fail;
		a->has_key = 1;
	}
	if (load_privacy(a, conf) == -1)
		goto fail;
	if (open_file(a) == -1) {
		log_warn("audit: %s", a->conf.path);
		goto fail;
	}
	a->previous_end = "new";
	if (resume_rotated(a) == -1 || resume(a) == -1)
		goto fail;
	if (strcmp(a->previous_end, "unclean") == 0)
		log_warnx("audit: %s: the previous run did not end with a stop "
		    "record (a crash, kill -9, or records cut from the end); "
		    "noted in the start record", a->conf.path);
	if ((o = event_new("start")) == NULL ||
	    json_object_set_new(o, "version", json_string(MODGATE_VERSION))
	    == -1 ||
	    json_object_set_new(o, "format", json_integer(AUDIT_FORMAT)) ==
	    -1 ||
	    json_object_set_new(o, "previous_end",
	    json_string(a->previous_end)) == -1 ||
	    json_object_set_new(o, "checkpoint_seconds",
	    json_integer(a->has_key ? a->conf.checkpoint_seconds : 0)) == -1 ||
	    json_object_set_new(o, "fsync",
	    json_string(fsync_name(a->conf.fsync))) == -1 ||
	    json_object_set_new(o, "on_failure",
	    json_string(on_failure_name(a->conf.on_failure))) == -1 ||
	    json_object_set_new(o, "key", a->has_key ?
	    json_string(key_pubstr(a)) : json_null()) == -1 ||
	    json_object_set_new(o, "hmac_key_id", json_string(a->hmac_id)) ==
	    -1) {
		json_decref(o);
		log_warnx("audit: out of memory");
		goto fail;
	}
	if (put_body(a, o, NULL, NULL) == -1) {
		log_warn("audit: %s", a->conf.path);
		goto fail;
	}
	after_record(a);
	expire(a);
	clock_gettime(CLOCK_MONOTONIC, &a->synced_at);
	if (a->since_checkpoint > 0 && checkpoint(a, "start") == -1) {
		log_warn("audit: %s", a->conf.path);
		goto fail;
	}
	return a;
 fail:
	audit_free(a);
	return NULL;
}

void
audit_close(struct audit *a)
{
	json_t	*o;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (a->ticker_running)
		pthread_join(a->ticker, NULL);
	pthread_mutex_lock(&a->mu);
	if (a->fd != -1) {
		tell_failures(a);
		if ((o = event_new("stop")) != NULL &&
		    json_object_set_new(o, "written",
		    json_integer((json_int_t)a->written)) == 0 &&
		    json_object_set_new(o, "failed",
		    json_integer((json_int_t)a->failures)) == 0) {
			if (put_body(a, o, NULL, NULL) == -1)
				log_warn("audit: %s", a->conf.path);
		} else
			json_decref(o);
		if (checkpoint(a, "stop") == -1)
			log_warn("audit: final checkpoint in %s", a->conf.path);
		if (fdatasync(a->fd) == -1)
			log_warn("audit: fsync %s", a->conf.path);
	}
	pthread_mutex_unlock(&a->mu);
	audit_free(a);
}

int
audit_reopen(struct audit *a)
{
	json_t	*o;
	int	 rc = -1;

	pthread_mutex_lock(&a->mu);
	if (a->fd != -1) {
		if (fdatasync(a->fd) == -1)
			log_warn("audit: fsync %s", a->conf.path);
		close(a->fd);
		a->fd = -1;
		a->file_gen++;
	}
	if (open_file(a) == -1) {
		log_warn("audit: reopen %s", a->conf.path);
		goto done;
	}
	if ((o = event_new("reopen")) == NULL ||
	    json_object_set_new(o, "size", json_integer((json_int_t)a->size))
	    == -1) {
		json_decref(o);
		goto done;
	}
	if (put_body(a, o, NULL, NULL) == -1) {
		log_warn("audit: reopen %s", a->conf.path);
		goto done;
	}
	after_record(a);
	a->rotate_at = a->conf.rotate_bytes;
	log_info("audit: reopened %s at seq %" PRIu64, a->conf.path, a->seq);
	rc = 0;
 done:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_reload(struct audit *a, int ok, const unsigned int *uids, size_t n,
    const char *old_version, const char *new_version)
{
	json_t	*o, *by;
	size_t	 i;
	int	 rc = -1;

	if (a == NULL)
		return 0;
	if ((o = event_new("reload")) == NULL ||
	    json_object_set_new(o, "ok", json_boolean(ok)) == -1 ||
	    json_object_set_new(o, "by", by = n == 0 ?
	    json_string("signal") : json_array()) == -1 ||
	    json_object_set_new(o, "old_version", json_string(old_version))
	    == -1 ||
	    json_object_set_new(o, "new_version", ok && new_version != NULL ?
	    json_string(new_version) : json_null()) == -1) {
		json_decref(o);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(by, json_pack("{s:I}", "uid",
		    (json_int_t)uids[i])) == -1) {
			json_decref(o);
			return -1;
		}
	pthread_mutex_lock(&a->mu);
	if ((a->fd == -1 && open_file(a) == -1) || tell_failures(a) == -1)
		json_decref(o);
	else if (put_body(a, o, NULL, NULL) == 0 &&
	    checkpoint(a, "reload") == 0)
		rc = 0;
	if (rc == -1)
		log_warn("audit: reload record in %s", a->conf.path);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_check_key(const char *path)
{
	struct audit_key	 k;
	struct audit_fss	*f;
	int			 rc;

	if (audit_fss_is_fss(path)) {
		f = audit_fss_load(path);
		rc = f != NULL ? 0 : -1;
		audit_fss_free(f);
		return rc;
	}
	rc = audit_key_load(path, &k);
	sodium_memzero(&k, sizeof(k));
	return rc;
}

enum audit_on_failure
audit_on_failure(const struct audit *a)
{
	return a->conf.on_failure;
}

void
audit_stats(struct audit *a, struct audit_stats *st)
{
	pthread_mutex_lock(&a->mu);
	st->seq = a->seq;
	st->written = a->written;
	st->failures = a->failures;
	st->lost = a->lost;
	st->failing = a->failing;
	pthread_mutex_unlock(&a->mu);
}
