/*
 * test-openai: the OpenAI moderation shapes.  Inputs: a string, strings,
 * parts (text parts joined into one text, image parts skipped, no text
 * refused); everything else refused with a message naming the field.
 * Results: every key of the API, scored by the model label of its name,
 * flagged by the policy or a rule of its category, an input type only
 * where a check happened, "flagged" only for harm keys, and modgate's
 * answer under "modgate".  The answer's model name, errors, the path.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "model.h"
#include "openai.h"
#include "snapshot.h"
#include "verdict.h"

static const char *const keys[13] = { "harassment",
    "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions",
    "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic" };

/* The texts of BODY (a JSON object), *RC and MSG as openai_inputs left them. */
static json_t *
inputs(const char *body, int *rc, char *msg, json_t **rootp)
{
	json_t	*root = json_loads(body, JSON_ALLOW_NUL, NULL), *a = json_array();

	assert_non_null(root);
	msg[0] = '\0';
	*rc = openai_inputs(root, a, 3, msg, 256);
	if (rootp != NULL)
		*rootp = root;
	else
		json_decref(root);
	return a;
}

static void
test_inputs(void **state)
{
	char	 msg[256];
	json_t	*a, *root;
	int	 rc;

	a = inputs("{\"input\": \"one\", \"model\": \"m\"}", &rc, msg, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "one");
	json_decref(a);
	a = inputs("{\"input\": [\"a\", \"\", \"c\"]}", &rc, msg, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_array_get(a, 2)), "c");
	json_decref(a);

	/* Parts: one text, images skipped. */
	a = inputs("{\"input\": [{\"type\": \"text\", \"text\": \"b\"}, "
	    "{\"type\": \"image_url\", \"image_url\": {\"url\": \"u\"}}]}",
	    &rc, msg, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "b");
	json_decref(a);
	a = inputs("{\"input\": [{\"type\": \"text\", \"text\": \"one\"}, "
	    "{\"type\": \"image_url\", \"image_url\": {\"url\": \"u\"}}, "
	    "{\"type\": \"text\", \"text\": \"two\"}]}", &rc, msg, &root);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "one\ntwo");
	/* ROOT holds the joined text: A's reference outlives nothing. */
	assert_ptr_equal(json_object_get(root, "input"), json_array_get(a, 0));
	json_decref(root);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "one\ntwo");
	json_decref(a);

	static const struct { const char *body, *msg; } bad[] = {
		{ "{}", "input is required" },
		{ "{\"input\": []}", "input must be" },
		{ "{\"input\": 3}", "input must be" },
		{ "{\"input\": null}", "input must be" },
		{ "{\"input\": [1]}", "input[0] must be a part" },
		{ "{\"input\": [\"a\", \"b\", \"c\", \"d\"]}", "input: at most 3" },
		{ "{\"input\": \"a\\u0000b\"}", "input must be a string" },
		{ "{\"input\": [\"a\", {\"type\": \"text\", \"text\": \"b\"}]}",
		    "input[1] must be a string" },
		{ "{\"input\": [{\"type\": \"text\", \"text\": \"b\"}, \"a\"]}",
		    "input[1] must be a part" },
		{ "{\"input\": [{\"type\": \"image_url\", \"image_url\": "
		    "{\"url\": \"u\"}}]}", "input has no text part" },
		{ "{\"input\": [{\"type\": \"image_url\", \"image_url\": {}}]}",
		    "input[0].image_url must be" },
		{ "{\"input\": [{\"type\": \"audio\"}]}",
		    "input[0]: unknown part type \"audio\"" },
		{ "{\"input\": [{\"type\": \"text\"}]}",
		    "input[0].text must be" },
		{ "{\"input\": \"x\", \"model\": 4}", "model must be" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = inputs(bad[i].body, &rc, msg, NULL);
		assert_int_equal(rc, -1);
		if (strncmp(msg, bad[i].msg, strlen(bad[i].msg)) != 0)
			fail_msg("%s: %s", bad[i].body, msg);
		json_decref(a);
	}
}

static const char *const labels[] = { "hate", "harassment", "sexual",
    "violence", "self_harm", "jailbreak" };

static void
fill(struct result *res, const float *scores)
{
	size_t	 i;

	result_init(res);
	res->n_scores = 6;
	for (i = 0; i < 6; i++) {
		res->labels[i] = labels[i];
		res->scores[i] = scores[i];
	}
}

static json_t *
field(json_t *r, const char *what, const char *name)
{
	return json_object_get(json_object_get(r, what), name);
}

static double
score(json_t *r, const char *name)
{
	return json_real_value(field(r, "category_scores", name));
}

static int
cat(json_t *r, const char *name)
{
	return json_is_true(field(r, "categories", name));
}

/* 1 when NAME's applied input types are ["text"], 0 when [] (else fails). */
static int
checked(json_t *r, const char *name)
{
	json_t	*t = field(r, "category_applied_input_types", name);

	assert_true(json_is_array(t));
	if (json_array_size(t) == 0)
		return 0;
	assert_int_equal(json_array_size(t), 1);
	assert_string_equal(json_string_value(json_array_get(t, 0)), "text");
	return 1;
}

static void
push(struct result *res, const char *rule, const char *category,
    enum rule_action action, int monitor)
{
	struct match	 m = { .rule = rule, .category = category,
			    .action = action, .start = 0, .end = 1,
			    .monitor = monitor };

	assert_int_equal(match_list_push(&res->matches, &m), 0);
}

static void
test_result(void **state)
{
	static const float sc[6] = { 0.3f, 0.9f, 0.1f, 0.6f, 0.5f, 0.95f };
	struct request	 req = { .text = "x", .len = 1 };
	struct result	 res;
	json_t		*r, *mine;
	size_t		 i;

	fill(&res, sc);
	res.flagged[res.n_flagged++] = "harassment";
	res.flagged[res.n_flagged++] = "jailbreak";
	r = openai_result(&req, &res, "sha256:v");
	assert_non_null(r);
	for (i = 0; i < 13; i++)
		assert_true(json_is_real(field(r, "category_scores",
		    keys[i])));
	assert_int_equal(json_object_size(json_object_get(r, "categories")),
	    13);
	assert_int_equal(json_object_size(json_object_get(r,
	    "category_scores")), 13);
	assert_int_equal(json_object_size(json_object_get(r,
	    "category_applied_input_types")), 13);
	assert_true(cat(r, "harassment"));
	assert_true(fabs(score(r, "harassment") - 0.9) < 1e-6);
	assert_true(checked(r, "harassment"));
	assert_true(fabs(score(r, "self-harm") - 0.5) < 1e-6);
	assert_true(checked(r, "self-harm"));
	/* Keys the model has no label for: 0, false, not checked. */
	static const char *const unscored[] = { "harassment/threatening",
	    "hate/threatening", "illicit", "illicit/violent",
	    "self-harm/instructions", "self-harm/intent", "sexual/minors",
	    "violence/graphic" };
	for (i = 0; i < sizeof(unscored) / sizeof(unscored[0]); i++) {
		assert_true(score(r, unscored[i]) == 0);
		assert_false(cat(r, unscored[i]));
		assert_false(checked(r, unscored[i]));
	}
	assert_false(cat(r, "hate"));
	assert_true(json_is_true(json_object_get(r, "flagged")));
	/* modgate's answer under "modgate"; jailbreak has no API key. */
	mine = json_object_get(r, "modgate");
	assert_string_equal(json_string_value(json_object_get(mine,
	    "verdict")), "allow");
	assert_int_equal(json_array_size(json_object_get(mine, "flagged")),
	    2);
	assert_true(fabs(json_real_value(json_object_get(json_object_get(mine,
	    "scores"), "jailbreak")) - 0.95) < 1e-6);
	assert_null(json_object_get(r, "verdict"));
	assert_int_equal(json_object_size(r), 5);
	json_decref(r);
	result_clear(&res);

	/* Rules: their category's key (slur: hate) at score 1; not monitor. */
	fill(&res, (const float[6]){ 0 });
	push(&res, "r.slur", "slur", ACTION_BLOCK, 0);
	push(&res, "r.minor", "sexual_minors", ACTION_FLAG, 0);
	push(&res, "r.watch", "violence_graphic", ACTION_BLOCK, 1);
	res.verdict = VERDICT_BLOCK;
	r = openai_result(&req, &res, "sha256:v");
	assert_true(cat(r, "hate"));
	assert_true(score(r, "hate") == 1.0);
	assert_true(cat(r, "sexual/minors"));
	assert_true(score(r, "sexual/minors") == 1.0);
	assert_true(checked(r, "sexual/minors"));
	assert_false(cat(r, "violence/graphic"));
	assert_false(checked(r, "violence/graphic"));
	assert_false(cat(r, "hate/threatening"));
	assert_true(json_is_true(json_object_get(r, "flagged")));
	json_decref(r);
	result_clear(&res);

	/*
	 * Non-harm rules (pii, secret, profanity) and verdicts: not flagged,
	 * whatever the verdict; they show under "modgate".  Without the
	 * classifier no model key is checked.
	 */
	result_init(&res);
	push(&res, "r.email", "pii", ACTION_REWRITE, 0);
	push(&res, "r.key", "secret", ACTION_BLOCK, 0);
	res.flagged[res.n_flagged++] = "profanity";
	res.verdict = VERDICT_BLOCK;
	r = openai_result(&req, &res, "sha256:v");
	assert_false(json_is_true(json_object_get(r, "flagged")));
	for (i = 0; i < 13; i++) {
		assert_false(cat(r, keys[i]));
		assert_false(checked(r, keys[i]));
	}
	mine = json_object_get(r, "modgate");
	assert_string_equal(json_string_value(json_object_get(mine,
	    "verdict")), "block");
	assert_int_equal(json_array_size(json_object_get(mine, "matches")),
	    2);
	json_decref(r);
	result_clear(&res);

	/* A score over no threshold flags nothing. */
	fill(&res, (const float[6]){ 0.99f, 0, 0, 0, 0, 0 });
	r = openai_result(&req, &res, "sha256:v");
	assert_false(cat(r, "hate"));
	assert_false(json_is_true(json_object_get(r, "flagged")));
	json_decref(r);
	result_clear(&res);
}

static void
test_response(void **state)
{
	struct snapshot	 snap = { 0 };
	struct config	 cfg = { 0 };
	const char	*top = getenv("MODGATE_TOP");
	char		 dir[4096], dir2[4096];
	const char	*m1, *m2;
	json_t		*o, *o2;

	snap.cfg = &cfg;
	o = openai_response(&snap, 1, json_array());
	assert_non_null(o);
	assert_int_equal(strlen(json_string_value(json_object_get(o, "id"))),
	    5 + 24);
	assert_memory_equal(json_string_value(json_object_get(o, "id")),
	    "modr-", 5);
	assert_string_equal(json_string_value(json_object_get(o, "model")),
	    "modgate-rules");
	assert_true(json_is_array(json_object_get(o, "results")));
	json_decref(o);

	/* The model's directory name and a hash of its files. */
	snprintf(dir, sizeof(dir), "%s/tests/data/model-golden/",
	    top != NULL ? top : ".");
	snprintf(dir2, sizeof(dir2), "%s/tests/data/model-golden-cls",
	    top != NULL ? top : ".");
	cfg.classifier.model = dir;
	assert_non_null(snap.model = model_load(dir));
	o = openai_response(&snap, 1, json_array());
	m1 = json_string_value(json_object_get(o, "model"));
	assert_int_equal(strlen(m1), strlen("modgate-model-golden-") + 12);
	assert_memory_equal(m1, "modgate-model-golden-", 21);
	assert_int_equal(strspn(m1 + 21, "0123456789abcdef"), 12);
	/* Nothing scored: the rules decided. */
	o2 = openai_response(&snap, 0, json_array());
	assert_string_equal(json_string_value(json_object_get(o2, "model")),
	    "modgate-rules");
	json_decref(o2);
	model_free(snap.model);
	cfg.classifier.model = dir2;
	assert_non_null(snap.model = model_load(dir2));
	o2 = openai_response(&snap, 1, json_array());
	m2 = json_string_value(json_object_get(o2, "model"));
	assert_memory_equal(m2, "modgate-model-golden-cls-", 25);
	assert_string_not_equal(m1 + 21, m2 + 25);
	json_decref(o2);
	json_decref(o);
	model_free(snap.model);
}

static void
test_error(void **state)
{
	json_t	*o, *e;

	o = openai_error(400, "bad_request", "input[2] must be a string");
	e = json_object_get(o, "error");
	assert_int_equal(json_object_size(o), 1);
	assert_int_equal(json_object_size(e), 4);
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "input[2] must be a string");
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	    "invalid_request_error");
	assert_string_equal(json_string_value(json_object_get(e, "param")),
	    "input");
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	    "bad_request");
	json_decref(o);

	o = openai_error(401, "unauthorized", "a token is required");
	e = json_object_get(o, "error");
	assert_true(json_is_null(json_object_get(e, "param")));
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	    "invalid_api_key");
	json_decref(o);

	o = openai_error(503, "overloaded", "too many");
	e = json_object_get(o, "error");
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	    "server_error");
	json_decref(o);

	o = openai_error(400, "unknown_policy", "no policy named \"x\"");
	e = json_object_get(o, "error");
	assert_string_equal(json_string_value(json_object_get(e, "param")),
	    "policy");
	json_decref(o);
	/* A word that is not a field, or a field not followed by a stop. */
	o = openai_error(400, "bad_request", "inputs are bad");
	assert_true(json_is_null(json_object_get(json_object_get(o, "error"),
	    "param")));
	json_decref(o);
	o = openai_error(400, "bad_request", "model");
	assert_true(json_is_null(json_object_get(json_object_get(o, "error"),
	    "param")));
	json_decref(o);
}

static void
test_path(void **state)
{
	assert_true(openai_path("/v1/moderations"));
	assert_true(openai_path("/v1/moderations?x=1"));
	assert_false(openai_path("/v1/moderations/"));
	assert_false(openai_path("/v1/moderation"));
	assert_false(openai_path("/v1/moderate"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inputs),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
