/*
 * test-openai: the OpenAI moderation shapes.  Inputs: a string, strings,
 * text parts; everything else refused with a message.  Results: scores and
 * flags mapped from modgate's labels (threatening = the lesser of the
 * parent and violence, subcategories take their parent's), rule
 * categories flagging their OpenAI names, "flagged" when any category is
 * or the verdict is not allow, and modgate's answer as extra fields.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "openai.h"
#include "verdict.h"

static json_t *
inputs(const char *json, int *rc, char *msg)
{
	json_t	*in = json_loads(json,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL), *a = json_array();

	assert_non_null(in);
	msg[0] = '\0';
	*rc = openai_inputs(in, a, 3, msg, 256);
	json_decref(in);
	return a;
}

static void
test_inputs(void **state)
{
	char	 msg[256];
	json_t	*a;
	int	 rc;

	a = inputs("\"one\"", &rc, msg);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "one");
	json_decref(a);
	a = inputs("[\"a\", {\"type\": \"text\", \"text\": \"b\"}, \"c\"]",
	    &rc, msg);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_array_get(a, 1)), "b");
	json_decref(a);
	static const char *const bad[] = { "[]", "3", "null", "[1]",
	    "[\"a\", \"b\", \"c\", \"d\"]", "\"a\\u0000b\"",
	    "[{\"type\": \"image_url\", \"image_url\": {}}]",
	    "[{\"type\": \"text\"}]", "{\"text\": \"x\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = inputs(bad[i], &rc, msg);
		assert_int_equal(rc, -1);
		assert_true(strlen(msg) > 0);
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

static double
score(json_t *r, const char *name)
{
	return json_real_value(json_object_get(json_object_get(r,
	    "category_scores"), name));
}

static int
cat(json_t *r, const char *name)
{
	return json_is_true(json_object_get(json_object_get(r, "categories"),
	    name));
}

static void
test_result(void **state)
{
	static const float sc[6] = { 0.3f, 0.9f, 0.1f, 0.6f, 0.5f, 0.95f };
	struct request	 req = { .text = "x", .len = 1 };
	struct result	 res;
	struct match	 m = { .rule = "r.slur", .category = "slur",
			    .action = ACTION_FLAG, .start = 0, .end = 1 };
	json_t		*r;

	fill(&res, sc);
	res.flagged[res.n_flagged++] = "harassment";
	res.flagged[res.n_flagged++] = "jailbreak";
	r = openai_result(&req, &res, "sha256:v");
	assert_non_null(r);
	assert_true(cat(r, "harassment"));
	assert_true(fabs(score(r, "harassment") - 0.9) < 1e-6);
	/* threatening: the lesser score; flagged only with violence too */
	assert_true(fabs(score(r, "harassment/threatening") - 0.6) < 1e-6);
	assert_false(cat(r, "harassment/threatening"));
	assert_true(fabs(score(r, "self-harm/intent") - 0.5) < 1e-6);
	assert_true(fabs(score(r, "violence/graphic") - 0.6) < 1e-6);
	assert_true(score(r, "sexual/minors") == 0);
	assert_true(score(r, "illicit") == 0);
	assert_false(cat(r, "hate"));
	assert_int_equal(json_object_size(json_object_get(r, "categories")),
	    13);
	assert_true(json_is_true(json_object_get(r, "flagged")));
	/* modgate's own fields ride along; jailbreak has no OpenAI name */
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
	    "allow");
	assert_int_equal(json_array_size(json_object_get(r,
	    "modgate_flagged")), 2);
	assert_null(json_object_get(r, "jailbreak"));
	assert_null(json_object_get(r, "id"));
	assert_true(fabs(json_real_value(json_object_get(json_object_get(r,
	    "scores"), "jailbreak")) - 0.95) < 1e-6);
	json_decref(r);

	/* A rule of a mapped category flags it at score 1. */
	res.flagged[res.n_flagged++] = "violence";
	assert_int_equal(match_list_push(&res.matches, &m), 0);
	r = openai_result(&req, &res, "sha256:v");
	assert_true(cat(r, "hate"));
	assert_true(score(r, "hate") == 1.0);
	assert_true(cat(r, "harassment/threatening"));
	assert_false(cat(r, "hate/threatening"));
	json_decref(r);
	result_clear(&res);

	/* Nothing flagged: not flagged, unless the verdict says otherwise. */
	fill(&res, (const float[6]){ 0 });
	r = openai_result(&req, &res, "sha256:v");
	assert_false(json_is_true(json_object_get(r, "flagged")));
	json_decref(r);
	res.verdict = VERDICT_BLOCK;
	r = openai_result(&req, &res, "sha256:v");
	assert_true(json_is_true(json_object_get(r, "flagged")));
	assert_string_equal(json_string_value(json_object_get(r, "verdict")),
	    "block");
	json_decref(r);
	result_clear(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inputs),
		cmocka_unit_test(test_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
