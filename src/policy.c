/*
 * policy: pick the policy of a request and turn stage results into a
 * verdict.  See include/policy.h.
 *
 * Precedence, strongest first:
 *
 *	1. block	an enforce-mode rule hit whose action is block (after
 *			the policy's block_, rewrite_ and flag_rule_categories
 *			overrides, in that order), a classifier score at or above
 *			the category's block threshold, or a failed stage
 *			under on_error = block;
 *	2. rewrite	an enforce-mode rule hit whose action is rewrite, or a
 *			score at or above the category's rewrite threshold
 *			(the flagged sentences, or all the text with
 *			rewrite_scope = all, become rewrite_text);
 *	3. allow	anything else; flag-action hits and over-threshold
 *			categories are listed in "flagged".
 *
 * Monitor-mode rules never change the verdict, and a monitor policy always
 * answers allow; in both cases would_verdict holds what the verdict would
 * have been with every rule enforced and the policy not in monitor mode,
 * and the audit record keeps it.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "policy.h"
#include "rewrite.h"
#include "verdict.h"

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

	if (b <= a) {			/* no span known: all of it */
		*start = 0;
		*end = len;
		return;
	}
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

enum rule_action
policy_rule_action(const struct policy_conf *p, const struct match *m)
{
	if (m->category == NULL)
		return m->action;
	if (in_list(p->block_rule_categories, p->n_block_rule_categories,
	    m->category))
		return ACTION_BLOCK;
	if (in_list(p->rewrite_rule_categories,
	    p->n_rewrite_rule_categories, m->category))
		return ACTION_REWRITE;
	if (in_list(p->flag_rule_categories, p->n_flag_rule_categories,
	    m->category))
		return ACTION_FLAG;
	return m->action;
}

enum rule_action
policy_hit_effect(const struct policy_conf *p, const struct match *m)
{
	if (m->monitor || p->monitor)
		return ACTION_FLAG;
	return policy_rule_action(p, m);
}

const char *
policy_replacement(const struct policy_conf *p, const struct match *m)
{
	return m->replacement != NULL ? m->replacement : p->rewrite_text;
}

int
policy_scores_block(const struct policy_conf *p, const char *const *labels,
    const float *scores, size_t n)
{
	const struct category_threshold	*t;
	size_t				 i;

	for (i = 0; i < n; i++)
		if (labels[i] != NULL && (t = threshold(p, labels[i])) != NULL &&
		    scores[i] >= t->block)
			return 1;
	return 0;
}

int
policy_error_blocks(const struct policy_conf *p)
{
	return p->on_error == ON_ERROR_BLOCK;
}

const struct policy_conf *
policy_rules_only(void)
{
	static const struct policy_conf rules_only = {
		.name = "rules-only",
		.on_error = ON_ERROR_ALLOW,
		.stage_rules = 1,
	};

	return &rules_only;
}

int
policy_rules_block(const struct policy_conf *p, const struct result *res)
{
	const struct match	*m;
	size_t			 i;

	if (p->monitor)
		return 0;
	for (i = 0; i < res->matches.n; i++) {
		m = &res->matches.v[i];
		if (!m->monitor && m->action == ACTION_BLOCK)
			return 1;
	}
	return 0;
}

void
policy_block(const struct policy_conf *p, struct result *res)
{
	free(res->text);
	res->text = NULL;
	res->text_len = 0;
	res->verdict = VERDICT_BLOCK;
	res->message = p->message;
}

/* Apply the policy's category overrides to a rule hit. */
static void
override(const struct policy_conf *p, struct match *m)
{
	m->action = policy_rule_action(p, m);
}

static enum verdict
decide(int block, int rewrite)
{
	if (block)
		return VERDICT_BLOCK;
	if (rewrite)
		return VERDICT_REWRITE;
	return VERDICT_ALLOW;
}

/* RES->text: the rule rewrites, plus the classifier's span when SPAN. */
static int
rewrite_text(const struct policy_conf *p, const struct request *req,
    struct result *res, int span)
{
	struct span_edit	*edits;
	const struct match	*m;
	size_t			 i, n = 0, a, b;

	if ((edits = calloc(res->matches.n + 1, sizeof(*edits))) == NULL) {
		log_warn("policy");
		return -1;
	}
	for (i = 0; i < res->matches.n; i++) {
		m = &res->matches.v[i];
		if (m->monitor || m->action != ACTION_REWRITE)
			continue;
		edits[n].start = m->start;
		edits[n].end = m->end;
		edits[n].replacement = policy_replacement(p, m);
		n++;
	}
	if (span) {
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
	free(edits);
	if (res->text == NULL) {
		log_warnx("policy %s: rewrite failed", p->name);
		return -1;
	}
	return 0;
}

int
policy_apply(const struct policy_conf *p, const struct request *req,
    struct result *res)
{
	const struct category_threshold	*t;
	struct match			*m;
	size_t				 i;
	int				 block = 0, rewrite = 0, span = 0;
	int				 wblock = 0, wrewrite = 0;

	res->policy = p;
	res->message = NULL;
	/* Rule hits; monitor ones only count for would_verdict. */
	for (i = 0; i < res->matches.n; i++) {
		m = &res->matches.v[i];
		override(p, m);
		switch (m->action) {
		case ACTION_BLOCK:
			wblock = 1;
			block |= !m->monitor;
			break;
		case ACTION_REWRITE:
			wrewrite = 1;
			rewrite |= !m->monitor;
			break;
		case ACTION_FLAG:
			if (!m->monitor)
				flag(res, m->category);
			break;
		}
	}
	/* Classifier scores against the policy's thresholds. */
	for (i = 0; i < res->n_scores && i < MAX_LABELS; i++) {
		if (res->labels[i] == NULL ||
		    (t = threshold(p, res->labels[i])) == NULL)
			continue;
		if (res->scores[i] >= t->block) {
			block = wblock = 1;
			flag(res, res->labels[i]);
		} else if (res->scores[i] >= t->rewrite) {
			span = 1;
			flag(res, res->labels[i]);
		}
	}
	if (res->degraded && policy_error_blocks(p))
		block = wblock = 1;

	res->would_verdict = decide(wblock, wrewrite || span);
	res->verdict = p->monitor ? VERDICT_ALLOW : decide(block,
	    rewrite || span);
	free(res->text);
	res->text = NULL;
	res->text_len = 0;
	switch (res->verdict) {
	case VERDICT_BLOCK:
		res->message = p->message;
		return 0;
	case VERDICT_REWRITE:
		return rewrite_text(p, req, res, span);
	case VERDICT_ALLOW:
		break;
	}
	return 0;
}
