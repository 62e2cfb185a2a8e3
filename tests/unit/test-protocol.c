/* test-protocol: request parsing and answer serialisation of protocol v1. */
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
#include "protocol.h"
#include "verdict.h"

static int
parse(const char *line, struct proto_request *pr, struct proto_error *err)
{
	return protocol_parse(line, strlen(line), pr, err);
}

/* LINE is refused with CODE and a message containing MSG. */
static void
refused(const char *line, size_t len, const char *code, const char *msg)
{
	struct proto_request	 pr;
	struct proto_error	 err;

	if (protocol_parse(line, len, &pr, &err) != -1) {
		fprintf(stderr, "accepted: %s\n", line);
		protocol_request_clear(&pr);
		fail();
	}
	assert_string_equal(err.code, code);
	if (strstr(err.message, msg) == NULL) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.message,
		    msg);
		fail();
	}
	assert_null(pr.root);
	json_decref(err.id);
}

static void
test_parse_check(void **state)
{
	struct proto_request	 pr;
	struct proto_error	 err;

	assert_int_equal(parse("{\"id\":\"r1\",\"text\":\"h\\u00e9llo\","
	    "\"policy\":\"strict\",\"meta\":{\"user\":7}}", &pr, &err), 0);
	assert_int_equal(pr.op, OP_CHECK);
	assert_string_equal(json_string_value(pr.req.id), "r1");
	assert_int_equal(pr.req.len, 6);
	assert_memory_equal(pr.req.text, "h\xc3\xa9llo", 6);
	assert_string_equal(pr.req.policy, "strict");
	assert_true(json_is_object(pr.req.meta));
	protocol_request_clear(&pr);

	/* Only text is required; any scalar id is kept as is. */
	assert_int_equal(parse("{\"text\":\"\"}", &pr, &err), 0);
	assert_null(pr.req.id);
	assert_null(pr.req.policy);
	assert_int_equal(pr.req.len, 0);
	protocol_request_clear(&pr);
	assert_int_equal(parse("{\"id\":42,\"text\":\"x\"}", &pr, &err), 0);
	assert_int_equal(json_integer_value(pr.req.id), 42);
	protocol_request_clear(&pr);
	assert_int_equal(parse("{\"id\":null,\"text\":\"x\",\"op\":\"check\"}",
	    &pr, &err), 0);
	assert_true(json_is_null(pr.req.id));
	protocol_request_clear(&pr);
}

static void
test_parse_ops(void **state)
{
	static const struct {
		const char	*line;
		enum proto_op	 op;
		const char	*name;
	} ok[] = {
		{ "{\"op\":\"ping\"}", OP_PING, "ping" },
		{ "{\"op\":\"version\",\"id\":1}", OP_VERSION, "version" },
		{ "{\"op\":\"stats\"}", OP_STATS, "stats" },
		{ "{\"op\":\"reload\"}", OP_RELOAD, "reload" },
	};
	struct proto_request	 pr;
	struct proto_error	 err;
	size_t			 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(ok[i].line, &pr, &err), 0);
		assert_int_equal(pr.op, ok[i].op);
		assert_string_equal(protocol_op_name(pr.op), ok[i].name);
		protocol_request_clear(&pr);
	}
	refused("{\"op\":\"shutdown\"}", 17, "bad_request", "unknown op");
	refused("{\"op\":7}", 8, "bad_request", "op must be a string");
	refused("{\"op\":\"ping\",\"text\":\"x\"}", 24, "bad_request",
	    "takes no text");
}

static void
test_parse_errors(void **state)
{
	struct proto_request	 pr;
	struct proto_error	 err;
	char			 deep[200];
	size_t			 i;

	refused("{\"text\":", 8, "bad_request", "malformed JSON");
	refused("not json", 8, "bad_request", "malformed JSON");
	refused("[1,2]", 5, "bad_request", "a request is a JSON object");
	refused("{}", 2, "bad_request", "missing field \"text\"");
	refused("{\"text\":5}", 10, "bad_request", "text must be a string");
	refused("{\"text\":\"a\",\"txt\":1}", 20, "bad_request",
	    "unknown field \"txt\"");
	refused("{\"text\":\"a\",\"id\":{}}", 20, "bad_request", "id must be");
	refused("{\"text\":\"a\",\"id\":[1]}", 21, "bad_request", "id must be");
	refused("{\"text\":\"a\",\"policy\":3}", 23, "bad_request",
	    "policy must be");
	refused("{\"text\":\"a\",\"policy\":\"\"}", 24, "bad_request",
	    "policy must be");
	refused("{\"text\":\"a\",\"meta\":[]}", 22, "bad_request",
	    "meta must be an object");
	refused("{\"text\":\"a\",\"text\":\"b\"}", 22, "bad_request",
	    "malformed JSON");
	/* Invalid UTF-8 in the line, and escapes that decode to NUL. */
	refused("{\"text\":\"\xff\"}", 12, "bad_request", "not valid UTF-8");
	refused("{\"text\":\"\xc3\"}", 12, "bad_request", "not valid UTF-8");
	refused("{\"text\":\"\xed\xa0\x80\"}", 14, "bad_request",
	    "not valid UTF-8");
	refused("{\"text\":\"a\\u0000b\"}", 19, "bad_request", "");
	refused("{\"text\":\"a\\ud800\"}", 18, "bad_request", "");
	/* Nesting past the bound. */
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"text\":\"a\",\"meta\":");
	for (i = strlen(deep); i < 19 + PROTOCOL_MAX_DEPTH + 1; i++)
		deep[i] = '[';
	refused(deep, strlen(deep), "bad_request", "nested deeper");

	/* The id is kept for the error answer once the JSON parsed. */
	assert_int_equal(parse("{\"id\":\"e1\",\"text\":1}", &pr, &err), -1);
	assert_non_null(err.id);
	assert_string_equal(json_string_value(err.id), "e1");
	json_decref(err.id);
}

/* Answer fields of RES for REQ, as a parsed object. */
static json_t *
answer(const struct request *req, const struct result *res)
{
	json_error_t	 jerr;
	json_t		*o;
	char		*line;
	size_t		 len = 0;

	line = protocol_answer(req, res, "sha256:abc", &len);
	assert_non_null(line);
	assert_int_equal(len, strlen(line));
	assert_true(len > 1 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	o = json_loadb(line, len, 0, &jerr);
	assert_non_null(o);
	free(line);
	return o;
}

static void
test_answer_allow(void **state)
{
	struct policy_conf	 pol = { .name = "default" };
	struct request		 req = { 0 };
	struct result		 res;
	json_t			*o, *st;

	req.id = json_string("r1");
	req.text = "hello";
	req.len = 5;
	result_init(&res);
	res.policy = &pol;
	res.verdict = VERDICT_ALLOW;
	res.stage[STAGE_ADMIT] = STAGE_OK;
	res.stage[STAGE_RULES] = STAGE_PASSTHROUGH;
	res.stage[STAGE_CLASSIFIER] = STAGE_PASSTHROUGH;
	res.stage[STAGE_POLICY] = STAGE_OK;
	res.elapsed_us = 17;
	o = answer(&req, &res);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "r1");
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "allow");
	assert_null(json_object_get(o, "text"));
	assert_null(json_object_get(o, "message"));
	assert_null(json_object_get(o, "degraded"));
	assert_string_equal(json_string_value(json_object_get(o, "policy")),
	    "default");
	assert_string_equal(json_string_value(json_object_get(o,
	    "policy_version")), "sha256:abc");
	assert_true(json_is_null(json_object_get(o, "audit_seq")));
	assert_int_equal(json_array_size(json_object_get(o, "matches")), 0);
	assert_int_equal(json_object_size(json_object_get(o, "scores")), 0);
	assert_int_equal(json_array_size(json_object_get(o, "flagged")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "elapsed_us")),
	    17);
	st = json_object_get(o, "stages");
	assert_string_equal(json_string_value(json_object_get(st, "rules")),
	    "passthrough");
	assert_string_equal(json_string_value(json_object_get(st,
	    "classifier")), "passthrough");
	assert_string_equal(json_string_value(json_object_get(st, "audit")),
	    "not_run");
	json_decref(o);
	json_decref(req.id);
}

static void
test_answer_rewrite_block(void **state)
{
	struct policy_conf	 pol = { .name = "strict" };
	struct request		 req = { 0 };
	struct result		 res;
	struct match		 m = { .rule = "pii.email", .category = "pii",
				    .action = ACTION_REWRITE, .start = 11,
				    .end = 27 };
	json_t			*o, *mo;

	req.text = "mail me at bob@example.com";
	req.len = strlen(req.text);
	result_init(&res);
	res.policy = &pol;
	res.verdict = VERDICT_REWRITE;
	res.text = strdup("mail me at [email]");
	res.text_len = strlen(res.text);
	assert_int_equal(match_list_push(&res.matches, &m), 0);
	res.n_scores = 2;
	res.labels[0] = "hate";
	res.scores[0] = 0.25f;
	res.labels[1] = "pii";
	res.scores[1] = 0.5f;
	res.flagged[res.n_flagged++] = "pii";
	res.stage[STAGE_AUDIT] = STAGE_OK;
	res.audit_seq = 1042;
	res.degraded = 1;
	o = answer(&req, &res);
	assert_true(json_is_null(json_object_get(o, "id")));
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "rewrite");
	assert_string_equal(json_string_value(json_object_get(o, "text")),
	    "mail me at [email]");
	assert_int_equal(json_integer_value(json_object_get(o, "audit_seq")),
	    1042);
	assert_true(json_is_true(json_object_get(o, "degraded")));
	mo = json_array_get(json_object_get(o, "matches"), 0);
	assert_string_equal(json_string_value(json_object_get(mo, "rule")),
	    "pii.email");
	assert_string_equal(json_string_value(json_object_get(mo, "action")),
	    "rewrite");
	assert_int_equal(json_integer_value(json_object_get(mo, "start")), 11);
	assert_int_equal(json_integer_value(json_object_get(mo, "end")), 27);
	assert_true(json_real_value(json_object_get(json_object_get(o,
	    "scores"), "pii")) == 0.5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o,
	    "flagged"), 0)), "pii");
	json_decref(o);

	/* Block: the policy's message, no text. */
	res.verdict = VERDICT_BLOCK;
	res.message = "no";
	o = answer(&req, &res);
	assert_null(json_object_get(o, "text"));
	assert_string_equal(json_string_value(json_object_get(o, "message")),
	    "no");
	json_decref(o);
	result_clear(&res);
}

static void
test_error_line(void **state)
{
	json_error_t	 jerr;
	json_t		*o, *id = json_integer(7);
	char		*line;
	size_t		 len = 0;

	line = protocol_error(id, "too_large", "line too long", &len);
	assert_non_null(line);
	assert_string_equal(line, "{\"id\":7,\"error\":{\"code\":\"too_large\","
	    "\"message\":\"line too long\"}}\n");
	assert_int_equal(len, strlen(line));
	free(line);
	/* A message cut inside a UTF-8 character still serialises. */
	line = protocol_error(NULL, "bad_request", "unknown field \"\xc3",
	    &len);
	assert_non_null(line);
	o = json_loads(line, 0, &jerr);
	assert_non_null(o);
	assert_true(json_is_null(json_object_get(o, "id")));
	json_decref(o);
	free(line);
	json_decref(id);
}

static void
test_object_line(void **state)
{
	char	*line;
	size_t	 len = 0;

	line = protocol_object(NULL, json_pack("{s:s, s:b}", "op", "ping",
	    "ok", 1), &len);
	assert_non_null(line);
	assert_string_equal(line, "{\"id\":null,\"op\":\"ping\",\"ok\":true}\n");
	free(line);
	assert_null(protocol_object(NULL, NULL, &len));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_check),
		cmocka_unit_test(test_parse_ops),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_answer_allow),
		cmocka_unit_test(test_answer_rewrite_block),
		cmocka_unit_test(test_error_line),
		cmocka_unit_test(test_object_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
