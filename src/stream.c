/*
 * stream: streaming moderation.  See include/stream.h.
 *
 * The table of open streams lives on the event loop thread (guarded by a
 * mutex all the same).  A stream's text, release point and classifier
 * state are guarded by the stream's own mutex; calls run in the order of
 * their tickets, handed out on the event loop.  A worker waiting for its
 * turn never waits for a call queued after it: the pool is FIFO, so every
 * earlier ticket has been taken by a thread already.
 *
 * Incremental rules.  With H = server.stream_holdback, after each append
 * of a text of LEN bytes, released so far up to R:
 *
 *	- the rules run over [R - H, LEN) (H bytes of context before R);
 *	- a hit ending at or before SE = LEN - H is settled: a block stops
 *	  the stream at its start, a rewrite is applied as the bytes before
 *	  it are released;
 *	- a hit ending after SE may still grow, shrink or vanish: nothing
 *	  from its start on is released;
 *	- the new release point is SE, or the start of the first unsettled
 *	  hit if earlier, never inside a rewritten span; so for hits of at
 *	  most H bytes, fewer than 2H bytes are held.  When a longer hit
 *	  would make the stream hold more than 2H bytes, it is settled as it
 *	  stands, so that at most 2H bytes are ever held.
 *
 * A hit of at most H bytes is found whole by this scan and by the
 * whole-text scan alike, which is why the released text agrees with the
 * final verdict for such rules.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>

#include <jansson.h>

#include "classifier.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "pipeline.h"
#include "policy.h"
#include "protocol.h"
#include "rewrite.h"
#include "rules.h"
#include "snapshot.h"
#include "stream.h"

/* A ticket given up unrun, its turn to be passed over. */
struct skip {
	SLIST_ENTRY(skip)	 entry;
	uint64_t		 ticket;
};

struct stream {
	TAILQ_ENTRY(stream)	 entry;
	char			 id[24];
	uint64_t		 owner;
	atomic_int		 refs;
	int			 closing;	/* a close is queued */
	size_t			 accepted;	/* bytes accepted (loop thread) */
	time_t			 used;		/* last call (loop thread) */

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;
	uint64_t		 tickets;	/* next ticket (loop thread) */
	uint64_t		 turn;		/* ticket allowed to run */
	SLIST_HEAD(, skip)	 skipped;	/* tickets given up unrun */

	struct snapshot		*snap;
	const struct policy_conf *policy;
	struct peer		 peer;
	json_t			*meta;
	size_t			 holdback;

	char			*buf;		/* the whole text so far */
	size_t			 len, cap;
	size_t			 released;	/* of buf */
	char			*out;		/* what was released, rewritten */
	size_t			 out_len, out_cap;
	int			 blocked;
	size_t			 block_at;
	int			 late;
	uint64_t		 appends;

	/* Classifier: the complete windows scored so far. */
	struct classifier_stream *cls;	/* NULL until the first append */
	size_t			 n_scores;
	float			 scores[MAX_LABELS];	/* the text so far's */
	const char		*labels[MAX_LABELS];
};

struct stream_call {
	struct stream		*s;
	enum stream_op		 op;
	uint64_t		 ticket;
	struct skip		*skip;		/* for S->skipped, made ahead */
	int			 ran;
	char			*text;
	size_t			 len;
	json_t			*id;
	json_t			*result;
	const char		*code;
	char			 msg[256];
};

TAILQ_HEAD(stream_list, stream);

static pthread_mutex_t	 table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stream_list table = TAILQ_HEAD_INITIALIZER(table);
static size_t		 table_n;
static uint64_t		 next_id;

static void
stream_unref(struct stream *s)
{
	struct skip	*k;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	snapshot_unref(s->snap);
	json_decref(s->meta);
	while ((k = SLIST_FIRST(&s->skipped)) != NULL) {
		SLIST_REMOVE_HEAD(&s->skipped, entry);
		free(k);
	}
	free(s->buf);
	free(s->out);
	classifier_stream_free(s->cls);
	free(s);
}

size_t
stream_count(void)
{
	size_t	 n;

	pthread_mutex_lock(&table_lock);
	n = table_n;
	pthread_mutex_unlock(&table_lock);
	return n;
}

/* The stream ID of OWNER, or NULL.  Call with table_lock held. */
static struct stream *
table_find(const char *id, uint64_t owner)
{
	struct stream	*s;

	TAILQ_FOREACH(s, &table, entry)
		if (s->owner == owner && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

void
stream_drop_owner(uint64_t owner)
{
	struct stream	*s, *next;

	pthread_mutex_lock(&table_lock);
	for (s = TAILQ_FIRST(&table); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->owner != owner)
			continue;
		TAILQ_REMOVE(&table, s, entry);
		table_n--;
		stream_unref(s);
	}
	pthread_mutex_unlock(&table_lock);
}

void
stream_expire(uint64_t mask, int idle)
{
	struct stream	*s, *next;
	time_t		 now = time(NULL);

	pthread_mutex_lock(&table_lock);
	for (s = TAILQ_FIRST(&table); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if ((s->owner & mask) != mask || now - s->used <= idle)
			continue;
		log_info("stream %s: idle for %d seconds, dropped", s->id,
		    (int)(now - s->used));
		TAILQ_REMOVE(&table, s, entry);
		table_n--;
		stream_unref(s);
	}
	pthread_mutex_unlock(&table_lock);
}

static struct stream_call *
call_fail(struct stream_call *c, const char **code, char *msg, size_t msgsz,
    const char *ccode, const char *cmsg)
{
	*code = ccode;
	snprintf(msg, msgsz, "%s", cmsg);
	if (c != NULL) {
		free(c->skip);
		free(c->text);
		free(c);
	}
	return NULL;
}

struct stream_call *
stream_call_new(struct snapshot *snap, const struct stream_args *a,
    const char **code, char *msg, size_t msgsz)
{
	const struct server_conf *sv = &snap->cfg->server;
	struct stream_call	*c;
	struct stream		*s;
	struct request		 req;
	char			 m[256];

	/*
	 * The note of a call given up unrun is made here, where a failure
	 * can still be answered: giving the call up allocates nothing.
	 */
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->skip = malloc(sizeof(*c->skip))) == NULL)
		return call_fail(c, code, msg, msgsz, "internal",
		    "out of memory");
	c->op = a->op;
	if (a->text != NULL && a->len > 0) {
		if ((c->text = malloc(a->len)) == NULL)
			return call_fail(c, code, msg, msgsz, "internal",
			    "out of memory");
		memcpy(c->text, a->text, a->len);
		c->len = a->len;
	}
	if (a->op == STREAM_OPEN) {
		if (c->len > 0)
			return call_fail(c, code, msg, msgsz, "bad_request",
			    "stream_open takes no text");
		memset(&req, 0, sizeof(req));
		req.policy = a->policy;
		req.peer = a->peer;
		if (policy_select(snap->cfg, &req) == NULL) {
			snprintf(m, sizeof(m), "no policy named \"%.128s\"",
			    a->policy != NULL ? a->policy : sv->default_policy);
			return call_fail(c, code, msg, msgsz, "unknown_policy",
			    m);
		}
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return call_fail(c, code, msg, msgsz, "internal",
			    "out of memory");
		pthread_mutex_init(&s->mtx, NULL);
		pthread_cond_init(&s->cv, NULL);
		SLIST_INIT(&s->skipped);
		atomic_init(&s->refs, 2);	/* the table's and C's */
		s->owner = a->owner;
		s->snap = snapshot_ref(snap);
		s->policy = policy_select(snap->cfg, &req);
		s->peer = a->peer;
		s->meta = a->meta != NULL ? json_deep_copy(a->meta) : NULL;
		s->holdback = (size_t)sv->stream_holdback;
		/* Never NULL, so that offsets into them are always valid. */
		s->buf = malloc(s->cap = 256);
		s->out = malloc(s->out_cap = 256);
		if (s->buf == NULL || s->out == NULL) {
			atomic_store(&s->refs, 1);
			stream_unref(s);
			return call_fail(c, code, msg, msgsz, "internal",
			    "out of memory");
		}
		pthread_mutex_lock(&table_lock);
		if (table_n >= (size_t)sv->stream_max) {
			pthread_mutex_unlock(&table_lock);
			atomic_store(&s->refs, 1);
			stream_unref(s);
			return call_fail(c, code, msg, msgsz, "overloaded",
			    "too many open streams (server.stream_max)");
		}
		snprintf(s->id, sizeof(s->id), "s%llu",
		    (unsigned long long)++next_id);
		s->used = time(NULL);
		TAILQ_INSERT_TAIL(&table, s, entry);
		table_n++;
		pthread_mutex_unlock(&table_lock);
		c->s = s;
		c->ticket = s->tickets++;
		return c;
	}

	if (a->stream == NULL)
		return call_fail(c, code, msg, msgsz, "bad_request",
		    "missing field \"stream\"");
	pthread_mutex_lock(&table_lock);
	if ((s = table_find(a->stream, a->owner)) == NULL || s->closing) {
		pthread_mutex_unlock(&table_lock);
		snprintf(m, sizeof(m), "no open stream \"%.64s\" of this "
		    "client", a->stream);
		return call_fail(c, code, msg, msgsz, "bad_request", m);
	}
	if (c->len > (size_t)sv->stream_max_bytes - s->accepted ||
	    s->accepted > (size_t)sv->stream_max_bytes) {
		pthread_mutex_unlock(&table_lock);
		return call_fail(c, code, msg, msgsz, "too_large", "stream "
		    "longer than server.stream_max_bytes");
	}
	s->accepted += c->len;
	s->used = time(NULL);
	atomic_fetch_add(&s->refs, 1);
	if (a->op == STREAM_CLOSE) {
		/* Later ops on this id are unknown; the call holds it. */
		s->closing = 1;
		TAILQ_REMOVE(&table, s, entry);
		table_n--;
		atomic_fetch_sub(&s->refs, 1);	/* the table's */
		if (a->id != NULL)
			c->id = json_incref(a->id);
	}
	pthread_mutex_unlock(&table_lock);
	c->s = s;
	c->ticket = s->tickets++;
	return c;
}

/* Let the next call run.  With S->mtx held. */
static void
turn_pass(struct stream *s)
{
	struct skip	*k;
	int		 again = 1;

	s->turn++;
	while (again) {
		again = 0;
		SLIST_FOREACH(k, &s->skipped, entry)
			if (k->ticket == s->turn) {
				SLIST_REMOVE(&s->skipped, k, skip, entry);
				free(k);
				s->turn++;
				again = 1;
				break;
			}
	}
	pthread_cond_broadcast(&s->cv);
}

void
stream_call_free(struct stream_call *c)
{
	struct stream	*s;

	if (c == NULL)
		return;
	if ((s = c->s) != NULL && !c->ran) {
		/*
		 * Never run (the queue was full): as if never sent.  An open
		 * takes its stream away again, a close puts it back.
		 */
		pthread_mutex_lock(&table_lock);
		if (c->op == STREAM_OPEN && !s->closing) {
			s->closing = 1;
			TAILQ_REMOVE(&table, s, entry);
			table_n--;
			atomic_fetch_sub(&s->refs, 1);
		} else if (c->op != STREAM_OPEN) {
			s->accepted -= c->len;
			if (c->op == STREAM_CLOSE) {
				s->closing = 0;
				TAILQ_INSERT_TAIL(&table, s, entry);
				table_n++;
				atomic_fetch_add(&s->refs, 1);
			}
		}
		pthread_mutex_unlock(&table_lock);
		pthread_mutex_lock(&s->mtx);
		if (s->turn == c->ticket)
			turn_pass(s);
		else {
			c->skip->ticket = c->ticket;
			SLIST_INSERT_HEAD(&s->skipped, c->skip, entry);
			c->skip = NULL;		/* the stream's now */
		}
		pthread_mutex_unlock(&s->mtx);
	}
	stream_unref(s);
	json_decref(c->result);
	json_decref(c->id);
	free(c->skip);
	free(c->text);
	free(c);
}

json_t *
stream_call_result(struct stream_call *c, const char **code, char *msg,
    size_t msgsz)
{
	if (c->result == NULL) {
		*code = c->code != NULL ? c->code : "internal";
		snprintf(msg, msgsz, "%s", c->code != NULL ? c->msg :
		    "the stream call did not run");
		return NULL;
	}
	return json_incref(c->result);
}

/* Buffers. */

static int
buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
	char	*v;
	size_t	 nc;

	if (n == 0)
		return 0;
	if (*len + n > *cap) {
		nc = *cap ? *cap : 256;
		while (nc < *len + n)
			nc *= 2;
		if ((v = realloc(*b, nc)) == NULL)
			return -1;
		*b = v;
		*cap = nc;
	}
	memcpy(*b + *len, p, n);
	*len += n;
	return 0;
}

/* Move OFF back, or forward, to the start of a UTF-8 character. */
static size_t
char_back(const char *b, size_t off)
{
	while (off > 0 && ((unsigned char)b[off] & 0xc0) == 0x80)
		off--;
	return off;
}

static size_t
char_fwd(const char *b, size_t len, size_t off)
{
	while (off < len && ((unsigned char)b[off] & 0xc0) == 0x80)
		off++;
	return off;
}

/* Classifier windows. */

/*
 * Score the windows of the whole-text scoring that the text so far
 * completes (classifier_stream_score).  Sets *BLOCK when a score reaches
 * its block threshold under the stream's policy.  0, or -1 (the classifier
 * failed).
 */
static int
classify_windows(struct stream *s, int *block)
{
	const struct model		*m = s->snap->model;
	const char *const		*labels;
	struct classifier_out		 out;
	size_t				 j, nl;
	int				 rc;

	*block = 0;
	if (!pipeline_classifies(s->snap, s->policy))
		return 0;
	if (s->cls == NULL && (s->cls = classifier_stream_new(m,
	    &s->snap->cfg->classifier)) == NULL)
		return -1;
	if ((rc = classifier_stream_score(s->cls, s->buf, s->len, &out)) <= 0)
		return rc;
	nl = model_labels(m, &labels);
	if (nl > MAX_LABELS)
		nl = MAX_LABELS;
	for (j = 0; j < nl; j++) {
		s->labels[j] = labels[j];
		s->scores[j] = out.scores[j];
	}
	s->n_scores = nl;
	*block = policy_scores_block(s->policy, s->labels, s->scores, nl);
	return 0;
}

/* Rules. */

struct hit {
	size_t		 start, end;
	enum rule_action action;
	const struct match *m;
};

/* What M does to the stream under its policy; -1: nothing. */
static int
hit_action(const struct stream *s, const struct match *m)
{
	enum rule_action	 a = policy_hit_effect(s->policy, m);

	return a == ACTION_FLAG ? -1 : (int)a;
}

static json_t *
scores_json(const struct stream *s)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; o != NULL && i < s->n_scores; i++)
		json_object_set_new(o, s->labels[i], json_real(s->scores[i]));
	return o;
}

static const char *const action_names[] = { "block", "rewrite", "flag" };

/*
 * Take the appended bytes into account: settle what can be settled,
 * release what is safe, and answer.  With S->mtx held.
 */
static json_t *
stream_step(struct stream *s)
{
	const struct policy_conf *p = s->policy;
	struct match_list	 ml;
	struct span_edit	*edits = NULL;
	struct match		*m;
	json_t			*o, *hits;
	size_t			 H = s->holdback, rs, se, nr, hold, blk;
	size_t			 i, k, ne = 0, cap2, seglen = 0, was;
	signed char		*act = NULL;	/* settled hits: their action */
	char			*seg = NULL;
	const char		*verdict;
	int			 a, cblock = 0, changed, rc = 0;

	memset(&ml, 0, sizeof(ml));
	if ((hits = json_array()) == NULL)
		return NULL;
	if (s->blocked)
		goto answer;
	if (classify_windows(s, &cblock) == -1 && policy_error_blocks(p))
		cblock = 1;
	if (cblock) {
		s->blocked = 1;
		s->block_at = s->released;
		goto answer;
	}
	rs = char_fwd(s->buf, s->len, s->released > H ? s->released - H : 0);
	se = char_back(s->buf, s->len > H ? s->len - H : 0);
	if (se < s->released)
		se = s->released;
	if (p->stage_rules && s->snap->rules != NULL)
		rc = rules_match(s->snap->rules, s->buf + rs, s->len - rs,
		    &ml);
	if (rc == -1 && policy_error_blocks(p)) {
		s->blocked = 1;
		s->block_at = s->released;
		goto answer;
	}
	if ((edits = calloc(ml.n + 1, sizeof(*edits))) == NULL ||
	    (act = malloc(ml.n + 1)) == NULL)
		goto fail;
	hold = blk = SIZE_MAX;
	cap2 = s->len > 2 * H ? char_fwd(s->buf, s->len, s->len - 2 * H) : 0;
	for (i = 0; i < ml.n; i++) {
		m = &ml.v[i];
		m->start += rs;
		m->end += rs;
		act[i] = -1;
		if ((a = hit_action(s, m)) == -1 || m->end <= s->released)
			continue;
		if (m->start < s->released) {
			s->late = 1;	/* longer than the hold-back bound */
			m->start = s->released;
		}
		/* Unsettled, unless holding it would pass the 2H bound. */
		if (m->end > se && m->start >= cap2) {
			if (m->start < hold)
				hold = m->start;
			continue;
		}
		if (m->end > se)
			s->late = 1;	/* settled before it could be known */
		act[i] = (signed char)a;
		if (a == ACTION_BLOCK) {
			if (m->start < blk)
				blk = m->start;
		} else {
			edits[ne].start = m->start;
			edits[ne].end = m->end;
			edits[ne].replacement = policy_replacement(p, m);
			ne++;
		}
	}
	nr = se;
	if (hold < nr)
		nr = hold;
	if (blk < nr)
		nr = blk;
	/*
	 * Never cut a rewritten span: a settled one is released whole when
	 * nothing unsettled or blocked comes before its end (or when holding
	 * it back would pass the 2H bound), else not at all.
	 */
	for (k = 0; k <= ne; k++) {
		changed = 0;
		for (i = 0; i < ne; i++)
			if (edits[i].start < nr && edits[i].end > nr) {
				if (edits[i].end <= hold && edits[i].end <= blk)
					nr = edits[i].end;
				else if (blk < edits[i].end ||
				    s->len - edits[i].start <= 2 * H)
					nr = edits[i].start;
				else {		/* the 2H bound wins */
					nr = edits[i].end;
					s->late = 1;
				}
				changed = 1;
			}
		if (!changed)
			break;
	}
	if (nr < s->released)
		nr = s->released;
	/* Release [released, nr) with the settled rewrites inside it. */
	{
		k = 0;
		for (i = 0; i < ne; i++) {
			if (edits[i].start < s->released ||
			    edits[i].end > nr)
				continue;
			edits[k] = edits[i];
			edits[k].start -= s->released;
			edits[k].end -= s->released;
			k++;
		}
		ne = k;
	}
	if ((seg = rewrite_apply(s->buf + s->released, nr - s->released,
	    edits, ne, &seglen)) == NULL)
		goto fail;
	if (buf_add(&s->out, &s->out_len, &s->out_cap, seg, seglen) == -1)
		goto fail;
	was = s->released;
	s->released = nr;
	if (blk != SIZE_MAX) {
		s->blocked = 1;
		s->block_at = blk;
	}
	/* The hits this answer acts on: rewrites released now, the block. */
	for (i = 0; i < ml.n; i++) {
		m = &ml.v[i];
		if (act[i] == -1 || (act[i] == ACTION_REWRITE &&
		    (m->start < was || m->end > nr)) ||
		    (act[i] == ACTION_BLOCK && m->start != blk))
			continue;
		json_array_append_new(hits, json_pack("{s:s, s:s?, s:s, s:I,"
		    " s:I}", "rule", m->rule, "category", m->category,
		    "action", action_names[(int)act[i]], "start",
		    (json_int_t)m->start, "end", (json_int_t)m->end));
	}
answer:
	if (s->blocked)
		verdict = "block";
	else if (ne > 0)
		verdict = "rewrite";
	else if (s->released < s->len)
		verdict = "hold";
	else
		verdict = "ok";
	o = json_pack("{s:s, s:s, s:s, s:s%, s:I, s:I, s:I, s:o}",
	    "op", "stream_append", "stream", s->id, "verdict", verdict,
	    "release", seg != NULL ? seg : "", seg != NULL ? seglen : 0,
	    "released", (json_int_t)s->released,
	    "held", (json_int_t)(s->blocked ? 0 : s->len - s->released),
	    "bytes", (json_int_t)s->len, "matches", hits);
	hits = NULL;
	if (o != NULL && s->blocked)
		json_object_set_new(o, "offset", json_integer(
		    (json_int_t)s->block_at));
	if (o != NULL && s->n_scores > 0)
		json_object_set_new(o, "scores", scores_json(s));
	if (o != NULL && rc == -1)
		json_object_set_new(o, "degraded", json_true());
	free(seg);
	free(edits);
	free(act);
	match_list_clear(&ml);
	return o;
fail:
	free(seg);
	free(edits);
	free(act);
	match_list_clear(&ml);
	json_decref(hits);
	return NULL;
}

/*
 * Close: the pipeline on the whole text (audited), and what is left to
 * release so that the output agrees with that verdict.
 */
static json_t *
stream_finish(struct stream *s, struct stream_call *c, struct audit *audit)
{
	struct request	 req;
	struct result	 res;
	json_t		*o = NULL, *meta, *sm;
	char		*line = NULL;
	const char	*want = NULL, *tail = "";
	size_t		 len = 0, wlen = 0, tlen = 0, i, off;
	int		 late = s->late, agreed = 0;

	memset(&req, 0, sizeof(req));
	req.id = c->id;
	req.text = s->buf != NULL ? s->buf : "";
	req.len = s->len;
	req.policy = s->policy->name;
	req.peer = s->peer;
	/* The audit record says what had gone out before the verdict. */
	meta = s->meta != NULL ? json_copy(s->meta) : json_object();
	sm = json_pack("{s:s, s:I, s:I}", "id", s->id, "appends",
	    (json_int_t)s->appends, "released", (json_int_t)s->released);
	if (meta == NULL || sm == NULL) {
		json_decref(meta);
		json_decref(sm);
		c->code = "internal";
		snprintf(c->msg, sizeof(c->msg), "out of memory");
		return NULL;
	}
	if (s->blocked)
		json_object_set_new(sm, "blocked_at",
		    json_integer((json_int_t)s->block_at));
	json_object_set_new(meta, "stream", sm);
	req.meta = meta;
	result_init(&res);
	if (pipeline_run(s->snap, audit, &req, &res) == -1) {
		c->code = res.error_code != NULL ? res.error_code : "internal";
		snprintf(c->msg, sizeof(c->msg), "%s", res.error_msg);
		result_clear(&res);
		json_decref(meta);
		return NULL;
	}
	metrics_request(&res);
	off = s->len;
	switch (res.verdict) {
	case VERDICT_ALLOW:
		want = req.text;
		wlen = s->len;
		break;
	case VERDICT_REWRITE:
		want = res.text;
		wlen = res.text_len;
		break;
	case VERDICT_BLOCK:
		/*
		 * Where the first blocking hit starts; with none (a score, a
		 * failed stage), where the released text ends.  Late when
		 * released bytes are part of what blocks.
		 */
		off = SIZE_MAX;
		for (i = 0; i < res.matches.n; i++)
			if (!res.matches.v[i].monitor &&
			    res.matches.v[i].action == ACTION_BLOCK &&
			    res.matches.v[i].start < off)
				off = res.matches.v[i].start;
		if (off == SIZE_MAX) {
			off = s->released;
			if (res.n_scores > 0 && res.span_end > res.span_start &&
			    res.span_start < s->released)
				late = 1;
		} else if (off < s->released)
			late = 1;
		break;
	}
	if (want != NULL) {
		if (s->blocked || s->out_len > wlen ||
		    memcmp(s->out, want, s->out_len) != 0)
			late = 1;
		else {
			tail = want + s->out_len;
			tlen = wlen - s->out_len;
			agreed = 1;
		}
	}
	line = protocol_answer(&req, &res, s->snap->version, &len);
	if (line != NULL)
		o = json_loadb(line, len, 0, NULL);
	if (o == NULL)
		goto out;
	json_object_del(o, "id");
	json_object_set_new(o, "op", json_string("stream_close"));
	json_object_set_new(o, "stream", json_string(s->id));
	json_object_set_new(o, "release", json_stringn(tail, tlen));
	json_object_set_new(o, "released", json_integer((json_int_t)
	    (agreed ? s->len : s->released)));
	json_object_set_new(o, "bytes", json_integer((json_int_t)s->len));
	json_object_set_new(o, "appends", json_integer((json_int_t)
	    s->appends));
	json_object_set_new(o, "late", json_boolean(late));
	if (res.verdict == VERDICT_BLOCK)
		json_object_set_new(o, "offset", json_integer((json_int_t)off));
out:
	free(line);
	result_clear(&res);
	json_decref(meta);
	return o;
}

void
stream_call_run(struct stream_call *c, struct audit *audit)
{
	struct stream	*s = c->s;

	pthread_mutex_lock(&s->mtx);
	while (s->turn != c->ticket)
		pthread_cond_wait(&s->cv, &s->mtx);
	c->ran = 1;
	switch (c->op) {
	case STREAM_OPEN:
		c->result = json_pack("{s:s, s:s, s:s, s:I, s:I}", "op",
		    "stream_open", "stream", s->id, "policy", s->policy->name,
		    "holdback", (json_int_t)s->holdback, "max_held",
		    (json_int_t)(2 * s->holdback));
		break;
	case STREAM_APPEND:
	case STREAM_CLOSE:
		if (buf_add(&s->buf, &s->len, &s->cap, c->text, c->len) ==
		    -1) {
			c->code = "internal";
			snprintf(c->msg, sizeof(c->msg), "out of memory");
			break;
		}
		if (c->op == STREAM_APPEND) {
			s->appends++;
			c->result = stream_step(s);
		} else
			c->result = stream_finish(s, c, audit);
		break;
	}
	if (c->result == NULL && c->code == NULL) {
		c->code = "internal";
		snprintf(c->msg, sizeof(c->msg), "out of memory");
	}
	turn_pass(s);
	pthread_mutex_unlock(&s->mtx);
}
