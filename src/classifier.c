/* classifier: sliding-window scoring; see include/classifier.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "classifier.h"
#include "log.h"
#include "model.h"

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

/* Fold the logits of the NW windows in S into OUT and the best window. */
static void
fold(const struct model *m, const struct model_slot *s, size_t nw,
    const struct token *toks, struct classifier_out *out, float *best)
{
	size_t		 b, j, first, last;
	float		 p, top;

	for (b = 0; b < nw; b++) {
		top = -1;
		for (j = 0; j < m->n_labels; j++) {
			p = 1.0f / (1.0f + expf(-(m->scale[j] *
			    s->logits[b * m->n_labels + j] + m->bias[j])));
			if (p > out->scores[j])
				out->scores[j] = p;
			if (p > top)
				top = p;
		}
		if (top > *best) {
			*best = top;
			if (s->lens[b] > 1) {
				first = s->starts[b];
				last = first + s->lens[b] - 2;
				out->span_start = toks[first].start;
				out->span_end = toks[last].end;
			} else
				out->span_start = out->span_end = 0;
		}
	}
}

int
classifier_score(const struct model *m, const struct classifier_conf *conf,
    const char *text, size_t len, struct classifier_out *out)
{
	struct model_slot *s;
	size_t		 w, stride, batch, n, start, end, nw, k, used;
	float		 best = -1;
	int		 rc = -1;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < MAX_LABELS; k++)
		out->scores[k] = 0;
	if (geometry(m, conf, &w, &stride, &batch) == -1)
		return -1;
	if ((s = model_slot_get(m)) == NULL)
		return -1;
	/* A text of LEN bytes has at most LEN tokens. */
	n = tokenizer_encode(m->tok, text, len, s->toks, s->toks_cap);
	if (n > s->toks_cap) {
		if (model_slot_reserve(m, s, n) == -1)
			goto out;
		n = tokenizer_encode(m->tok, text, len, s->toks, s->toks_cap);
	}
	/* Windows of w - 1 tokens at 0, stride, ..., the last reaching n. */
	nw = used = 0;
	for (start = 0;; start += stride) {
		end = start + (w - 1) < n ? start + (w - 1) : n;
		s->starts[nw] = start;
		s->lens[nw] = 1 + (end - start);
		s->ids[used++] = TOKEN_CLS;
		for (k = start; k < end; k++)
			s->ids[used++] = s->toks[k].id;
		nw++;
		if (nw == batch || end >= n) {
			if (transformer_forward(&m->cfg, &m->w, s->ts, s->ids,
			    s->lens, nw, s->logits) == -1) {
				log_warnx("classifier: forward pass failed");
				goto out;
			}
			fold(m, s, nw, s->toks, out, &best);
			nw = used = 0;
		}
		if (end >= n)
			break;
	}
	rc = 0;
out:
	model_slot_put(m, s);
	return rc;
}
