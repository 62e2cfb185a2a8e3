/*
 * verdict: the shared vocabulary's few functions.  See include/verdict.h.
 */
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

void
result_init(struct result *res)
{
	memset(res, 0, sizeof(*res));
}

void
result_clear(struct result *res)
{
	free(res->text);
	res->text = NULL;
	res->text_len = 0;
	match_list_clear(&res->matches);
}

int
match_list_push(struct match_list *l, const struct match *m)
{
	struct match	*v;
	size_t		 cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 8 : l->cap * 2;
		if ((v = reallocarray(l->v, cap, sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *m;
	return 0;
}

void
match_list_clear(struct match_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].replacement);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

const char *
verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_ALLOW:
		return "allow";
	case VERDICT_REWRITE:
		return "rewrite";
	case VERDICT_BLOCK:
		return "block";
	}
	return "unknown";
}

const char *
rule_action_name(enum rule_action a)
{
	switch (a) {
	case ACTION_BLOCK:
		return "block";
	case ACTION_REWRITE:
		return "rewrite";
	case ACTION_FLAG:
		return "flag";
	}
	return "unknown";
}

const char *
stage_name(enum stage_id s)
{
	static const char *const names[STAGE_COUNT] = {
		[STAGE_ADMIT] = "normalize", [STAGE_RULES] = "rules",
		[STAGE_CLASSIFIER] = "classifier", [STAGE_POLICY] = "policy",
		[STAGE_AUDIT] = "audit",
	};

	return (unsigned)s < STAGE_COUNT ? names[s] : "?";
}

const char *
stage_state_name(enum stage_state s)
{
	switch (s) {
	case STAGE_NOT_RUN:
		return "not_run";
	case STAGE_SKIPPED:
		return "skipped";
	case STAGE_PASSTHROUGH:
		return "passthrough";
	case STAGE_OK:
		return "ok";
	case STAGE_FAILED:
		return "failed";
	}
	return "unknown";
}
