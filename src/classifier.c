/*
 * classifier: sliding-window scoring; see include/classifier.h.
 *
 * Every call tokenizes its text, then puts its windows in the model's
 * queue.  A calling thread that finds fewer than its share of forward
 * passes running (one per CPU / BLAS threads) becomes a leader: it takes
 * up to batch_max queued windows, whoever they belong to, runs them in one
 * pass and folds each window's scores into its own call.  A lone call thus
 * runs its windows in batches of batch_max; calls arriving while every
 * core is busy are coalesced into shared passes (the group commit of
 * databases).  A leader waits up to batch_wait_us for more windows only
 * while other calls are still tokenizing.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier.h"
#include "log.h"
#include "model-internal.h"

struct batch_req {
	struct batch_req *next;		/* in the model's queue */
	const char	*text;		/* the caller's text */
	const float	*zn;		/* n-gram logits of the whole text */
	const struct token *toks;	/* the text's tokens (caller's slot) */
	size_t		 n;		/* tokens */
	size_t		 w, stride;	/* window geometry */
	size_t		 next_start;	/* first token of the next window */
	size_t		 left;		/* windows not handed out yet */
	size_t		 running;	/* handed out, not folded yet */
	size_t		 best_start;
	float		 best;		/* highest probability so far */
	int		 failed;
	struct classifier_out *out;
};

/*
 * Window geometry from CONF, bounded by the model: W tokens per window
 * ([CLS] included, at most max_positions), a stride of 1 to W - 1 (a
 * larger stride would skip tokens), 1 to MODEL_BATCH_MAX windows a pass.
 */
static int
geometry(const struct model *m, const struct classifier_conf *conf,
    size_t *w, size_t *stride, size_t *batch)
{
	if (conf->window < 2) {
		log_warnx("classifier: window %d is below 2 tokens",
		    conf->window);
		return -1;
	}
	*w = (size_t)conf->window;
	if (*w > m->cfg.max_positions)
		*w = m->cfg.max_positions;
	*stride = conf->stride < 1 ? 1 : (size_t)conf->stride;
	if (*stride > *w - 1)
		*stride = *w - 1;
	*batch = conf->batch_max < 1 ? 1 : (size_t)conf->batch_max;
	if (*batch > MODEL_BATCH_MAX)
		*batch = MODEL_BATCH_MAX;
	return 0;
}

/* Windows of W - 1 tokens at 0, stride, ..., the last reaching N. */
static size_t
window_count(size_t n, size_t w, size_t stride)
{
	if (n <= w - 1)
		return 1;
	return 1 + (n - (w - 1) + stride - 1) / stride;
}

/*
 * The probabilities P of R's window at token START (LEN with [CLS]) from
 * its LOGITS.  Runs unlocked: R's text and tokens stay put while R has
 * windows running.
 */
static void
window_probs(const struct model *m, const struct batch_req *r, size_t start,
    size_t len, const float *logits, float *p)
{
	size_t		 b = 0, e = 0;

	if (len > 1) {
		b = r->toks[start].start;
		e = r->toks[start + len - 2].end;
	}
	model_window_probs(m, logits, r->text + b, e - b, r->zn, p);
}

/* Fold the probabilities P of R's window at token START (LEN) into R. */
static void
fold(const struct model *m, struct batch_req *r, size_t start, size_t len,
    const float *p)
{
	size_t		 j;
	float		 top = -1;

	for (j = 0; j < m->n_labels; j++) {
		if (p[j] > r->out->scores[j])
			r->out->scores[j] = p[j];
		if (p[j] > top)
			top = p[j];
	}
	/* The highest window; on a tie the earliest, whatever the order. */
	if (top > r->best || (top == r->best && start < r->best_start)) {
		r->best = top;
		r->best_start = start;
		if (len > 1) {
			r->out->span_start = r->toks[start].start;
			r->out->span_end = r->toks[start + len - 2].end;
		} else
			r->out->span_start = r->out->span_end = 0;
	}
}

/*
 * Hand out up to BATCH queued windows into S (ids, lens, starts, owners).
 * Called with qlock held.  Returns the number of windows.
 */
static size_t
take(struct model *m, struct model_slot *s, size_t batch)
{
	struct batch_req *r;
	size_t		 nb = 0, used = 0, end, k;

	while (nb < batch && (r = m->qhead) != NULL) {
		end = r->next_start + (r->w - 1);
		if (end > r->n)
			end = r->n;
		s->owner[nb] = r;
		s->starts[nb] = r->next_start;
		s->lens[nb] = 1 + end - r->next_start;
		s->ids[used++] = TOKEN_CLS;
		for (k = r->next_start; k < end; k++)
			s->ids[used++] = r->toks[k].id;
		nb++;
		r->next_start += r->stride;
		r->running++;
		m->q_windows--;
		if (--r->left == 0) {
			m->qhead = r->next;
			if (m->qhead == NULL)
				m->qtail = NULL;
		}
	}
	return nb;
}

/* Wait on the queue until ABSTIME (NULL: no limit).  qlock held. */
static void
queue_wait(struct model *m, const struct timespec *abstime)
{
	if (abstime == NULL)
		pthread_cond_wait(&m->qcond, &m->qlock);
	else
		pthread_cond_timedwait(&m->qcond, &m->qlock, abstime);
}

/*
 * Lead one forward pass with slot S: take windows (after waiting up to
 * WAIT_US for more while calls are arriving), run them unlocked, fold.
 * Called and returns with qlock held.
 */
static void
lead(struct model *m, struct model_slot *s, size_t batch, int wait_us)
{
	struct timespec	 until;
	float		 probs[MODEL_BATCH_MAX][MAX_LABELS];
	size_t		 nb, i, shared = 0;
	int		 rc;

	m->leaders++;
	if (wait_us > 0 && m->q_windows < batch && m->q_arriving > 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)wait_us * 1000;
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		while (m->q_windows < batch && m->q_arriving > 0) {
			struct timespec now;
			queue_wait(m, &until);
			clock_gettime(CLOCK_REALTIME, &now);
			if (now.tv_sec > until.tv_sec || (now.tv_sec ==
			    until.tv_sec && now.tv_nsec >= until.tv_nsec))
				break;
		}
	}
	nb = take(m, s, batch);
	pthread_mutex_unlock(&m->qlock);

	rc = nb == 0 ? 0 : transformer_forward(&m->cfg, &m->w, s->ts, s->ids,
	    s->lens, nb, s->logits);
	if (rc == 0)
		for (i = 0; i < nb; i++)
			window_probs(m, s->owner[i], s->starts[i], s->lens[i],
			    s->logits + i * m->n_labels, probs[i]);

	pthread_mutex_lock(&m->qlock);
	for (i = 0; i < nb; i++) {
		if (rc == -1)
			s->owner[i]->failed = 1;
		else
			fold(m, s->owner[i], s->starts[i], s->lens[i],
			    probs[i]);
		s->owner[i]->running--;
		if (i > 0 && s->owner[i] != s->owner[0])
			shared = 1;
	}
	if (nb > 0) {
		m->n_passes++;
		m->n_shared += shared;
	}
	m->leaders--;
	pthread_cond_broadcast(&m->qcond);
}

int
classifier_score(const struct model *cm, const struct classifier_conf *conf,
    const char *text, size_t len, struct classifier_out *out)
{
	struct model	*m = (struct model *)cm;	/* queue and pool only */
	struct model_slot *s;
	struct batch_req r;
	size_t		 w, stride, batch, n, max_leaders;
	float		 zn[MAX_LABELS];
	int		 threads;

	memset(out, 0, sizeof(*out));
	if (geometry(m, conf, &w, &stride, &batch) == -1)
		return -1;
	if (len > TOKENIZER_MAX_TEXT) {
		log_warnx("classifier: text of %zu bytes is too long", len);
		return -1;
	}
	threads = conf->threads < 1 ? 1 : conf->threads;
	max_leaders = m->ncpu / (size_t)threads;
	if (max_leaders < 1)
		max_leaders = 1;
	if ((s = model_slot_get(m)) == NULL)
		return -1;

	pthread_mutex_lock(&m->qlock);
	m->q_arriving++;
	pthread_mutex_unlock(&m->qlock);
	/* A text of LEN bytes has at most LEN tokens. */
	n = tokenizer_encode(m->tok, text, len, s->toks, s->toks_cap);
	if (n > s->toks_cap) {
		if (model_slot_reserve(m, s, n) == -1) {
			pthread_mutex_lock(&m->qlock);
			m->q_arriving--;
			pthread_mutex_unlock(&m->qlock);
			model_slot_put(m, s);
			return -1;
		}
		n = tokenizer_encode(m->tok, text, len, s->toks, s->toks_cap);
	}

	memset(&r, 0, sizeof(r));
	r.text = text;
	if (m->has_ngram && m->ng.whole_text) {
		ngram_logits(&m->ng, text, len, zn);
		r.zn = zn;
	}
	r.toks = s->toks;
	r.n = n;
	r.w = w;
	r.stride = stride;
	r.left = window_count(n, w, stride);
	r.best = -1;
	r.out = out;

	pthread_mutex_lock(&m->qlock);
	m->q_arriving--;
	if (m->qtail != NULL)
		m->qtail->next = &r;
	else
		m->qhead = &r;
	m->qtail = &r;
	m->q_windows += r.left;
	pthread_cond_broadcast(&m->qcond);
	while (r.left > 0 || r.running > 0) {
		if (m->q_windows > 0 && m->leaders < max_leaders)
			lead(m, s, batch, conf->batch_wait_us);
		else
			queue_wait(m, NULL);
	}
	pthread_mutex_unlock(&m->qlock);
	model_slot_shrink(m, s);
	model_slot_put(m, s);
	if (r.failed) {
		log_warnx("classifier: forward pass failed");
		memset(out, 0, sizeof(*out));
		return -1;
	}
	model_doc_probs(m, window_count(n, w, stride), out->scores);
	return 0;
}

/*
 * Incremental scoring.  The tokens of the text up to its last white space
 * are kept (ids and byte ranges), tokenized piece by piece as the text
 * grows: a piece ending in white space tokenizes as it does inside the
 * whole text.  A window of w - 1 tokens at windows * stride is scored once
 * it is complete.
 */
struct classifier_stream {
	const struct model *m;
	const struct classifier_conf *conf;
	uint32_t	*tok_ids;	/* [tokcap] */
	size_t		*tok_start;	/* [tokcap] byte range of each token */
	size_t		*tok_end;
	size_t		 ntoks, tokcap;
	size_t		 tok_bytes;	/* tokens cover text[0, tok_bytes) */
	size_t		 ws_end;	/* just after the last white space */
	size_t		 ws_scanned;	/* bytes looked at for it */
	size_t		 windows;	/* scored so far */
	float		 win_max[MAX_LABELS];	/* max over windows */
};

struct classifier_stream *
classifier_stream_new(const struct model *m, const struct classifier_conf *conf)
{
	struct classifier_stream *cs;

	if ((cs = calloc(1, sizeof(*cs))) == NULL) {
		log_warn("classifier");
		return NULL;
	}
	cs->m = m;
	cs->conf = conf;
	return cs;
}

void
classifier_stream_free(struct classifier_stream *cs)
{
	if (cs == NULL)
		return;
	free(cs->tok_ids);
	free(cs->tok_start);
	free(cs->tok_end);
	free(cs);
}

/* Make CS hold N tokens.  0, or -1 (out of memory). */
static int
stream_reserve(struct classifier_stream *cs, size_t n)
{
	uint32_t	*ti;
	size_t		*ts, *te, nc;

	if (n <= cs->tokcap)
		return 0;
	nc = cs->tokcap ? cs->tokcap : 256;
	while (nc < n)
		nc *= 2;
	ti = reallocarray(cs->tok_ids, nc, sizeof(*ti));
	if (ti != NULL)
		cs->tok_ids = ti;
	ts = reallocarray(cs->tok_start, nc, sizeof(*ts));
	if (ts != NULL)
		cs->tok_start = ts;
	te = reallocarray(cs->tok_end, nc, sizeof(*te));
	if (te != NULL)
		cs->tok_end = te;
	if (ti == NULL || ts == NULL || te == NULL)
		return -1;
	cs->tokcap = nc;
	return 0;
}

/* Tokenize TEXT up to its last white space (new bytes only).  0 or -1. */
static int
stream_tokenize(struct classifier_stream *cs, const char *text, size_t len)
{
	struct token	*toks;
	size_t		 k, n, end;

	for (k = cs->ws_scanned; k < len; k++)
		if (text[k] == ' ' || text[k] == '\n' || text[k] == '\t' ||
		    text[k] == '\r')
			cs->ws_end = k + 1;
	cs->ws_scanned = len;
	end = cs->ws_end;
	if (end <= cs->tok_bytes)
		return 0;
	n = end - cs->tok_bytes;
	if ((toks = calloc(n, sizeof(*toks))) == NULL)
		return -1;
	n = tokenizer_encode(cs->m->tok, text + cs->tok_bytes, n, toks, n);
	if (stream_reserve(cs, cs->ntoks + n) == -1) {
		free(toks);
		return -1;
	}
	for (k = 0; k < n; k++) {
		cs->tok_ids[cs->ntoks + k] = toks[k].id;
		cs->tok_start[cs->ntoks + k] = cs->tok_bytes + toks[k].start;
		cs->tok_end[cs->ntoks + k] = cs->tok_bytes + toks[k].end;
	}
	cs->ntoks += n;
	cs->tok_bytes = end;
	free(toks);
	return 0;
}

int
classifier_stream_score(struct classifier_stream *cs, const char *text,
    size_t len, struct classifier_out *out)
{
	const struct model	*m = cs->m;
	struct model_slot	*slot;
	size_t			 w, stride, batch, k, b, j, nw, used, first, last;
	size_t			 scored = 0;
	float			 pr[MAX_LABELS];
	int			 rc = -1;

	if (cs->conf->window < 2 || (m->has_ngram && m->ng.whole_text))
		return 0;
	if (geometry(m, cs->conf, &w, &stride, &batch) == -1)
		return -1;
	if (stream_tokenize(cs, text, len) == -1) {
		log_warnx("classifier: out of memory");
		return -1;
	}
	/* Complete windows: w - 1 tokens at windows * stride. */
	if (cs->windows * stride + (w - 1) > cs->ntoks)
		return 0;
	if ((slot = model_slot_get(m)) == NULL)
		return -1;
	while (cs->windows * stride + (w - 1) <= cs->ntoks) {
		nw = used = 0;
		while (nw < batch && cs->windows * stride + (w - 1) <=
		    cs->ntoks) {
			slot->lens[nw] = w;
			slot->starts[nw] = cs->windows * stride;
			slot->ids[used++] = TOKEN_CLS;
			for (k = 0; k < w - 1; k++)
				slot->ids[used++] =
				    cs->tok_ids[cs->windows * stride + k];
			nw++;
			cs->windows++;
		}
		if (transformer_forward(&m->cfg, &m->w, slot->ts, slot->ids,
		    slot->lens, nw, slot->logits) == -1) {
			log_warnx("classifier: forward pass failed");
			goto out;
		}
		for (b = 0; b < nw; b++) {
			/* The same probabilities as classifier_score's. */
			first = cs->tok_start[slot->starts[b]];
			last = cs->tok_end[slot->starts[b] + w - 2];
			model_window_probs(m, slot->logits + b * m->n_labels,
			    text + first, last - first, NULL, pr);
			for (j = 0; j < m->n_labels && j < MAX_LABELS; j++)
				if (pr[j] > cs->win_max[j])
					cs->win_max[j] = pr[j];
		}
		scored += nw;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->scores, cs->win_max, sizeof(out->scores));
	model_doc_probs(m, cs->windows, out->scores);
	rc = (int)scored;	/* at most one a token */
out:
	model_slot_put(m, slot);
	return rc;
}
