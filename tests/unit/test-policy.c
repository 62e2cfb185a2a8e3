/* test-policy: policy selection and every verdict path and precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "policy.h"
#include "verdict.h"

static const char *TEXT = "Hello there. You are awful! Mail bob@corp.io now.";

/* A policy: hate blocks at 0.9, rewrites at 0.5. */
static void
mkpolicy(struct policy_conf *p)
{
	static char hate[] = "hate";

	memset(p, 0, sizeof(*p));
	p->name = "default";
	p->message = "withheld";
	p->rewrite_text = "[removed]";
	p->rewrite_scope = REWRITE_SENTENCE;
	p->on_error = ON_ERROR_BLOCK;
	p->stage_rules = p->stage_classifier = 1;
	p->thresholds[0].category = hate;
	p->thresholds[0].block = 0.9;
	p->thresholds[0].rewrite = 0.5;
	p->n_thresholds = 1;
}

static void
mkreq(struct request *req)
{
	memset(req, 0, sizeof(*req));
	req->text = TEXT;
	req->len = strlen(TEXT);
}

static void
hit(struct result *res, const char *rule, const char *cat,
    enum rule_action a, int monitor, const char *rep)
{
	struct match	 m;
	const char	*at;

	memset(&m, 0, sizeof(m));
	m.rule = rule;
	m.category = cat;
	m.action = a;
	m.monitor = monitor;
	if (strcmp(cat, "pii") == 0) {
		at = strstr(TEXT, "bob@corp.io");
		m.start = (size_t)(at - TEXT);
		m.end = m.start + strlen("bob@corp.io");
	} else {
		at = strstr(TEXT, "awful");
		m.start = (size_t)(at - TEXT);
		m.end = m.start + 5;
	}
	m.replacement = rep != NULL ? strdup(rep) : NULL;
	assert_int_equal(match_list_push(&res->matches, &m), 0);
}

/* Classifier: "hate" scores S on the window of "awful". */
static void
score(struct result *res, float s)
{
	const char	*at = strstr(TEXT, "awful");

	res->n_scores = 2;
	res->labels[0] = "hate";
	res->labels[1] = "violence";
	res->scores[0] = s;
	res->scores[1] = 0.99f;		/* no threshold: never counts */
	res->span_start = (size_t)(at - TEXT);
	res->span_end = res->span_start + 5;
}

static int
flagged(const struct result *res, const char *cat)
{
	size_t	 i;

	for (i = 0; i < res->n_flagged; i++)
		if (strcmp(res->flagged[i], cat) == 0)
			return 1;
	return 0;
}

static void
test_allow_plain(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	score(&res, 0.1f);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_int_equal(res.would_verdict, VERDICT_ALLOW);
	assert_null(res.text);
	assert_null(res.message);
	assert_int_equal(res.n_flagged, 0);
	assert_ptr_equal(res.policy, &p);
	result_clear(&res);
}

static void
test_rule_block(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_BLOCK, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_string_equal(res.message, "withheld");
	assert_null(res.text);
	result_clear(&res);
}

static void
test_rule_rewrite_template_and_default(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text,
	    "Hello there. You are awful! Mail [email] now.");
	assert_int_equal(res.text_len, strlen(res.text));
	assert_null(res.message);
	result_clear(&res);

	/* no template: the policy's rewrite_text */
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_string_equal(res.text,
	    "Hello there. You are awful! Mail [removed] now.");
	result_clear(&res);
}

static void
test_flag_only(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_FLAG, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_true(flagged(&res, "pii"));
	result_clear(&res);
}

static void
test_category_overrides(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;
	static char		 pii[] = "pii", har[] = "harassment";

	mkpolicy(&p);
	mkreq(&req);
	/* a flag rule in a block category blocks */
	p.block_rule_categories[0] = pii;
	p.n_block_rule_categories = 1;
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_FLAG, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_int_equal(res.matches.v[0].action, ACTION_BLOCK);
	result_clear(&res);
	/* a block rule in a rewrite category rewrites */
	p.n_block_rule_categories = 0;
	p.rewrite_rule_categories[0] = har;
	p.n_rewrite_rule_categories = 1;
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_BLOCK, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text,
	    "Hello there. You are [removed]! Mail bob@corp.io now.");
	result_clear(&res);
	/* block categories win over rewrite categories */
	p.block_rule_categories[0] = har;
	p.n_block_rule_categories = 1;
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_FLAG, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	result_clear(&res);
}

/* flag_rule_categories: the hit is listed and flagged, the text passes. */
static void
test_flag_categories(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;
	static char		 prof[] = "profanity", pii[] = "pii";

	mkpolicy(&p);
	mkreq(&req);
	p.flag_rule_categories[0] = prof;
	p.n_flag_rule_categories = 1;
	result_init(&res);
	hit(&res, "profanity.awful", "profanity", ACTION_REWRITE, 0, "a****");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_null(res.text);
	assert_int_equal(res.matches.v[0].action, ACTION_FLAG);
	assert_int_equal(res.n_flagged, 1);
	assert_string_equal(res.flagged[0], "profanity");
	assert_int_equal(res.would_verdict, VERDICT_ALLOW);
	result_clear(&res);
	/* other categories keep their action beside it */
	result_init(&res);
	hit(&res, "profanity.awful", "profanity", ACTION_REWRITE, 0, "a****");
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text,
	    "Hello there. You are awful! Mail [email] now.");
	result_clear(&res);
	/* block and rewrite categories come first */
	p.rewrite_rule_categories[0] = prof;
	p.n_rewrite_rule_categories = 1;
	p.flag_rule_categories[0] = pii;
	result_init(&res);
	hit(&res, "profanity.awful", "profanity", ACTION_FLAG, 0, "a****");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text,
	    "Hello there. You are a****! Mail bob@corp.io now.");
	result_clear(&res);
}

static void
test_block_over_rewrite(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	hit(&res, "insult", "harassment", ACTION_BLOCK, 0, NULL);
	hit(&res, "pii.flag", "pii", ACTION_FLAG, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_null(res.text);
	assert_true(flagged(&res, "pii"));
	result_clear(&res);
	/* a rule rewrite with a classifier block: block */
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	score(&res, 0.95f);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_true(flagged(&res, "hate"));
	result_clear(&res);
}

static void
test_rewrite_over_allow(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	hit(&res, "pii.flag", "pii", ACTION_FLAG, 0, NULL);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	result_clear(&res);
}

static void
test_classifier_thresholds(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	/* exactly at the block threshold blocks */
	result_init(&res);
	score(&res, 0.9f);
	res.scores[0] = (float)0.9;
	p.thresholds[0].block = (float)0.9;
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_true(flagged(&res, "hate"));
	assert_false(flagged(&res, "violence"));
	result_clear(&res);
	/* between rewrite and block: the sentence is replaced */
	result_init(&res);
	score(&res, 0.6f);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text,
	    "Hello there. [removed] Mail bob@corp.io now.");
	assert_true(flagged(&res, "hate"));
	result_clear(&res);
	/* rewrite_scope all: the whole answer */
	p.rewrite_scope = REWRITE_ALL;
	result_init(&res);
	score(&res, 0.6f);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_string_equal(res.text, "[removed]");
	result_clear(&res);
	/* rule and classifier rewrites together */
	p.rewrite_scope = REWRITE_SENTENCE;
	result_init(&res);
	score(&res, 0.6f);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_string_equal(res.text,
	    "Hello there. [removed] Mail [email] now.");
	result_clear(&res);
	/* no span known: all the text */
	result_init(&res);
	score(&res, 0.6f);
	res.span_start = res.span_end = 0;
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_string_equal(res.text, "[removed]");
	result_clear(&res);
}

static void
test_monitor_rule(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_BLOCK, 1, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_int_equal(res.would_verdict, VERDICT_BLOCK);
	assert_null(res.message);
	result_clear(&res);
	/* a monitor rewrite is not applied; an enforce one is */
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_REWRITE, 1, "[x]");
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text,
	    "Hello there. You are awful! Mail [email] now.");
	result_clear(&res);
	/* a monitor flag is not flagged */
	result_init(&res);
	hit(&res, "pii.flag", "pii", ACTION_FLAG, 1, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_false(flagged(&res, "pii"));
	result_clear(&res);
}

static void
test_monitor_policy(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	p.monitor = 1;
	mkreq(&req);
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_BLOCK, 0, NULL);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_int_equal(res.would_verdict, VERDICT_BLOCK);
	assert_null(res.message);
	result_clear(&res);
	result_init(&res);
	score(&res, 0.6f);
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_int_equal(res.would_verdict, VERDICT_REWRITE);
	assert_null(res.text);
	assert_true(flagged(&res, "hate"));
	result_clear(&res);
}

static void
test_on_error(void **state)
{
	struct policy_conf	 p;
	struct request		 req;
	struct result		 res;

	mkpolicy(&p);
	mkreq(&req);
	result_init(&res);
	res.degraded = 1;
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_string_equal(res.message, "withheld");
	result_clear(&res);
	p.on_error = ON_ERROR_ALLOW;
	result_init(&res);
	res.degraded = 1;
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	result_clear(&res);
	/* on_error allow still honours what did run */
	result_init(&res);
	res.degraded = 1;
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, "[email]");
	assert_int_equal(policy_apply(&p, &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	result_clear(&res);
}

static void
test_select(void **state)
{
	static struct config	 cfg;
	struct request		 req;
	static char		 def[] = "default", strict[] = "strict",
				 lax[] = "lax";

	memset(&cfg, 0, sizeof(cfg));
	cfg.policies[0].name = def;
	cfg.policies[1].name = strict;
	cfg.policies[2].name = lax;
	cfg.n_policies = 3;
	cfg.server.default_policy = def;
	cfg.server.peer_policies[0].is_gid = 1;
	cfg.server.peer_policies[0].id = 50;
	cfg.server.peer_policies[0].policy = lax;
	cfg.server.peer_policies[1].is_gid = 0;
	cfg.server.peer_policies[1].id = 1001;
	cfg.server.peer_policies[1].policy = strict;
	cfg.server.n_peer_policies = 2;
	mkreq(&req);
	req.peer.uid = 5;
	req.peer.gid = 5;
	assert_ptr_equal(policy_select(&cfg, &req), &cfg.policies[0]);
	/* by uid, and uid before gid whatever the order of the list */
	req.peer.uid = 1001;
	req.peer.gid = 50;
	assert_ptr_equal(policy_select(&cfg, &req), &cfg.policies[1]);
	/* by gid */
	req.peer.uid = 7;
	assert_ptr_equal(policy_select(&cfg, &req), &cfg.policies[2]);
	/* the request's own choice first */
	req.policy = "default";
	assert_ptr_equal(policy_select(&cfg, &req), &cfg.policies[0]);
	req.policy = "nope";
	assert_null(policy_select(&cfg, &req));
}

/* What a stream asks of the policy: a hit's effect, scores, failures. */
static void
test_stream_questions(void **state)
{
	struct policy_conf	 p;
	struct match		 m;
	static char		 har[] = "harassment";
	const char		*labels[2] = { "violence", "hate" };
	float			 scores[2] = { 0.99f, 0.89f };

	mkpolicy(&p);
	memset(&m, 0, sizeof(m));
	m.rule = "insult";
	m.category = "harassment";
	m.action = ACTION_BLOCK;
	assert_int_equal(policy_hit_effect(&p, &m), ACTION_BLOCK);
	p.rewrite_rule_categories[0] = har;
	p.n_rewrite_rule_categories = 1;
	assert_int_equal(policy_hit_effect(&p, &m), ACTION_REWRITE);
	assert_string_equal(policy_replacement(&p, &m), "[removed]");
	m.replacement = "[x]";
	assert_string_equal(policy_replacement(&p, &m), "[x]");
	m.monitor = 1;
	assert_int_equal(policy_hit_effect(&p, &m), ACTION_FLAG);
	m.monitor = 0;
	p.monitor = 1;
	assert_int_equal(policy_hit_effect(&p, &m), ACTION_FLAG);
	/* only hate has thresholds: 0.89 is under its 0.9 */
	assert_false(policy_scores_block(&p, labels, scores, 2));
	scores[1] = 0.95f;
	assert_true(policy_scores_block(&p, labels, scores, 2));
	assert_false(policy_scores_block(&p, labels, scores, 1));
	assert_true(policy_error_blocks(&p));
	p.on_error = ON_ERROR_ALLOW;
	assert_false(policy_error_blocks(&p));
}

/* What the pipeline asks: does a rule hit already block; a block answer. */
static void
test_rules_block(void **state)
{
	struct policy_conf	 p;
	struct result		 res;
	static char		 pii[] = "pii";

	mkpolicy(&p);
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_BLOCK, 1, NULL);
	assert_false(policy_rules_block(&p, &res));	/* monitor rule */
	/* a category override is not applied yet: the rule's own action */
	p.block_rule_categories[0] = pii;
	p.n_block_rule_categories = 1;
	hit(&res, "pii.email", "pii", ACTION_FLAG, 0, NULL);
	assert_false(policy_rules_block(&p, &res));
	hit(&res, "insult", "harassment", ACTION_BLOCK, 0, NULL);
	assert_true(policy_rules_block(&p, &res));
	p.monitor = 1;
	assert_false(policy_rules_block(&p, &res));
	res.verdict = VERDICT_REWRITE;
	res.text = strdup("x");
	res.text_len = 1;
	policy_block(&p, &res);
	assert_int_equal(res.verdict, VERDICT_BLOCK);
	assert_null(res.text);
	assert_string_equal(res.message, "withheld");
	result_clear(&res);
}

/* The policy of the rules alone: the hits' own actions and templates. */
static void
test_rules_only(void **state)
{
	struct request	 req;
	struct result	 res;

	mkreq(&req);
	result_init(&res);
	hit(&res, "pii.email", "pii", ACTION_REWRITE, 0, NULL);
	hit(&res, "insult", "harassment", ACTION_FLAG, 0, NULL);
	res.degraded = 1;
	assert_int_equal(policy_apply(policy_rules_only(), &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_REWRITE);
	assert_string_equal(res.text, "Hello there. You are awful! Mail  now.");
	result_clear(&res);
	result_init(&res);
	hit(&res, "insult", "harassment", ACTION_BLOCK, 1, NULL);
	assert_int_equal(policy_apply(policy_rules_only(), &req, &res), 0);
	assert_int_equal(res.verdict, VERDICT_ALLOW);
	assert_int_equal(res.would_verdict, VERDICT_BLOCK);
	result_clear(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_plain),
		cmocka_unit_test(test_rule_block),
		cmocka_unit_test(test_rule_rewrite_template_and_default),
		cmocka_unit_test(test_flag_only),
		cmocka_unit_test(test_category_overrides),
		cmocka_unit_test(test_flag_categories),
		cmocka_unit_test(test_block_over_rewrite),
		cmocka_unit_test(test_rewrite_over_allow),
		cmocka_unit_test(test_classifier_thresholds),
		cmocka_unit_test(test_monitor_rule),
		cmocka_unit_test(test_monitor_policy),
		cmocka_unit_test(test_on_error),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_stream_questions),
		cmocka_unit_test(test_rules_only),
		cmocka_unit_test(test_rules_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
