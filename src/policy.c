/*
 * policy: pick the policy of a request and turn stage results into a
 * verdict.  See include/policy.h.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "policy.h"
#include "rewrite.h"

const struct policy_conf *
policy_select(const struct config *cfg, const struct request *req)
{
	const struct server_conf	*sv = &cfg->server;
	size_t				 i;

	if (req->policy != NULL)
		return config_policy(cfg, req->policy);
	for (i = 0; i < sv->n_peer_policies; i++)
		if (!sv->peer_policies[i].is_gid &&
		    sv->peer_policies[i].id == req->peer.uid)
			return config_policy(cfg, sv->peer_policies[i].policy);
	for (i = 0; i < sv->n_peer_policies; i++)
		if (sv->peer_policies[i].is_gid &&
		    sv->peer_policies[i].id == req->peer.gid)
			return config_policy(cfg, sv->peer_policies[i].policy);
	return config_policy(cfg, sv->default_policy);
}

static int
in_list(char *const *v, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static void
flag(struct result *res, const char *category)
{
	size_t	 i;

	for (i = 0; i < res->n_flagged; i++)
		if (strcmp(res->flagged[i], category) == 0)
			return;
	if (res->n_flagged < MAX_LABELS)
		res->flagged[res->n_flagged++] = category;
}

static int
sentence_end(char c)
{
	return c == '.' || c == '!' || c == '?' || c == '\n';
}

/* Widen [*START, *END) of TEXT to the sentences it touches. */
static void
sentence_bounds(const char *text, size_t len, size_t *start, size_t *end)
{
	size_t	 a = *start, b = *end;

	if (a > len)
		a = len;
	if (b > len)
		b = len;
	while (a > 0 && !sentence_end(text[a - 1]))
		a--;
	while (a < b && (text[a] == ' ' || text[a] == '\t'))
		a++;
	while (b < len && !sentence_end(text[b]))
		b++;
	if (b < len)
		b++;		/* the terminator goes with its sentence */
	*start = a;
	*end = b;
}

/* The threshold of P for LABEL, or NULL. */
static const struct category_threshold *
threshold(const struct policy_conf *p, const char *label)
{
	size_t	 i;

	for (i = 0; i < p->n_thresholds; i++)
		if (strcmp(p->thresholds[i].category, label) == 0)
			return &p->thresholds[i];
	return NULL;
}

int
policy_apply(const struct policy_conf *p, const struct request *req,
    struct result *res)
{
	const struct category_threshold	*t;
	struct span_edit		*edits = NULL;
	struct match			*m;
	size_t				 i, n = 0, a, b;
	int				 block = 0, rewrite = 0, span_rewrite = 0;
	int				 rv = -1;

	res->policy = p;
	/* Rule hits: the policy's category overrides, then precedence. */
	for (i = 0; i < res->matches.n; i++) {
		m = &res->matches.v[i];
		if (in_list(p->block_rule_categories,
		    p->n_block_rule_categories, m->category))
			m->action = ACTION_BLOCK;
		else if (in_list(p->rewrite_rule_categories,
		    p->n_rewrite_rule_categories, m->category))
			m->action = ACTION_REWRITE;
		if (m->monitor)
			continue;
		switch (m->action) {
		case ACTION_BLOCK:
			block = 1;
			break;
		case ACTION_REWRITE:
			rewrite = 1;
			break;
		case ACTION_FLAG:
			flag(res, m->category);
			break;
		}
	}
	/* Classifier scores against the policy's thresholds. */
	for (i = 0; i < res->n_scores; i++) {
		if ((t = threshold(p, res->labels[i])) == NULL)
			continue;
		if (res->scores[i] >= t->block) {
			block = 1;
			flag(res, res->labels[i]);
		} else if (res->scores[i] >= t->rewrite) {
			span_rewrite = 1;
			flag(res, res->labels[i]);
		}
	}
	if (res->degraded && p->on_error == ON_ERROR_BLOCK)
		block = 1;

	if (block)
		res->verdict = VERDICT_BLOCK;
	else if (rewrite || span_rewrite)
		res->verdict = VERDICT_REWRITE;
	else
		res->verdict = VERDICT_ALLOW;
	res->would_verdict = res->verdict;
	if (p->monitor)
		res->verdict = VERDICT_ALLOW;

	if (res->verdict == VERDICT_BLOCK)
		res->message = p->message;
	if (res->verdict != VERDICT_REWRITE) {
		rv = 0;
		goto done;
	}

	if ((edits = calloc(res->matches.n + 1, sizeof(*edits))) == NULL) {
		log_warn("policy");
		goto done;
	}
	for (i = 0; i < res->matches.n; i++) {
		m = &res->matches.v[i];
		if (m->monitor || m->action != ACTION_REWRITE)
			continue;
		edits[n].start = m->start;
		edits[n].end = m->end;
		edits[n].replacement = m->replacement != NULL ?
		    m->replacement : p->rewrite_text;
		n++;
	}
	if (span_rewrite) {
		if (p->rewrite_scope == REWRITE_ALL) {
			a = 0;
			b = req->len;
		} else {
			a = res->span_start;
			b = res->span_end;
			sentence_bounds(req->text, req->len, &a, &b);
		}
		edits[n].start = a;
		edits[n].end = b;
		edits[n].replacement = p->rewrite_text;
		n++;
	}
	free(res->text);
	res->text = rewrite_apply(req->text, req->len, edits, n,
	    &res->text_len);
	if (res->text == NULL) {
		log_warnx("policy %s: rewrite failed", p->name);
		goto done;
	}
	rv = 0;
done:
	free(edits);
	return rv;
}
