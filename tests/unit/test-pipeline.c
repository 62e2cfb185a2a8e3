/*
 * test-pipeline: the stages of pipeline_run on a real snapshot (states,
 * passthrough, errors) and snapshot loading and references.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "pipeline.h"
#include "policy.h"
#include "snapshot.h"

static char	 tmpdir[] = "/tmp/test-pipeline.XXXXXX";
static char	 conf[600];

static const char config_text[] =
    "server = {\n"
    "  default_policy = \"default\";\n"
    "  peer_policies = ( { gid = 50; policy = \"bygid\"; },\n"
    "                    { uid = 1000; policy = \"byuid\"; } );\n"
    "};\n"
    "policies = {\n"
    "  default = { categories = { hate = { block = 0.9; rewrite = 0.5; }; }; };\n"
    "  byuid = { };\n"
    "  bygid = { };\n"
    "  sentence = { rewrite_text = \"[x]\";\n"
    "    categories = { hate = { rewrite = 0.5; }; }; };\n"
    "  all = { rewrite_text = \"[x]\"; rewrite_scope = \"all\";\n"
    "    categories = { hate = { rewrite = 0.5; }; }; };\n"
    "  override = { block_rule_categories = [ \"pii\" ];\n"
    "    rewrite_rule_categories = [ \"spam\" ]; rewrite_text = \"[r]\"; };\n"
    "  monitor = { monitor = true; };\n"
    "  failopen = { on_error = \"allow\"; };\n"
    "  rulesonly = { stages = [ \"rules\" ]; };\n"
    "};\n";

static struct snapshot	*snap;

static struct request
request(const char *text)
{
	struct request	 r;

	memset(&r, 0, sizeof(r));
	r.text = text;
	r.len = strlen(text);
	r.peer.uid = 4242;
	r.peer.gid = 4242;
	return r;
}

static void
test_pipeline(void **state)
{
	struct request	 r = request("hello there");
	struct result	 res;

	result_init(&res);
	assert_int_equal(pipeline_run(snap, NULL, &r, &res), 0);
	assert_string_equal(res.policy->name, "default");
	/* default: hate blocks at 0.9, rewrites at 0.5 (label 0 is hate) */
	assert_string_equal(res.labels[0], "hate");
	assert_int_equal(res.verdict, res.scores[0] >= 0.9 ? VERDICT_BLOCK :
	    res.scores[0] >= 0.5 ? VERDICT_REWRITE : VERDICT_ALLOW);
	assert_int_equal(res.stage[STAGE_ADMIT], STAGE_OK);
	/* No rule files configured: the rules stage says it passed. */
	assert_int_equal(res.stage[STAGE_RULES], STAGE_PASSTHROUGH);
	/* The golden model scores every label. */
	assert_int_equal(res.stage[STAGE_CLASSIFIER], STAGE_OK);
	assert_int_equal(res.n_scores, 6);
	assert_int_equal(res.stage[STAGE_POLICY], STAGE_OK);
	assert_int_equal(res.stage[STAGE_AUDIT], STAGE_NOT_RUN);
	assert_false(res.degraded);
	result_clear(&res);

	/* A policy without the classifier stage does not run it. */
	r.policy = "rulesonly";
	result_init(&res);
	assert_int_equal(pipeline_run(snap, NULL, &r, &res), 0);
	assert_int_equal(res.stage[STAGE_CLASSIFIER], STAGE_NOT_RUN);
	result_clear(&res);

	r.policy = "ghost";
	result_init(&res);
	assert_int_equal(pipeline_run(snap, NULL, &r, &res), -1);
	assert_string_equal(res.error_code, "unknown_policy");
	assert_non_null(strstr(res.error_msg, "ghost"));
	result_clear(&res);

	r = request("bad \xff byte");
	result_init(&res);
	assert_int_equal(pipeline_run(snap, NULL, &r, &res), -1);
	assert_string_equal(res.error_code, "bad_request");
	result_clear(&res);

	assert_string_equal(verdict_name(VERDICT_REWRITE), "rewrite");
	assert_string_equal(stage_state_name(STAGE_PASSTHROUGH),
	    "passthrough");
}

static void
test_snapshot(void **state)
{
	struct snapshot	*s2;
	char		 sock[700];

	assert_int_equal(strncmp(snap->version, "sha256:", 7), 0);
	assert_int_equal(strlen(snap->version), 7 + 64);
	snprintf(sock, sizeof(sock), "%s/other.sock", tmpdir);
	s2 = snapshot_load(conf, sock);
	assert_non_null(s2);
	assert_string_equal(s2->cfg->server.socket, sock);
	/* Same bytes, same version; a later load, a later generation. */
	assert_string_equal(s2->version, snap->version);
	assert_true(s2->generation > snap->generation);
	assert_ptr_equal(snapshot_ref(s2), s2);
	snapshot_unref(s2);
	snapshot_unref(s2);
	snapshot_unref(NULL);
}

static int
setup(void **state)
{
	FILE	*f;
	char	 cwd[400];

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/modgated.conf", tmpdir);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	/* the golden model of tests/data; tests run from the top directory */
	fprintf(f, "rules = { paths = []; };\n"
	    "classifier = { model = \"%s/tests/data/model-golden\"; };\n",
	    getcwd(cwd, sizeof(cwd)) != NULL ? cwd : ".");
	fputs(config_text, f);
	fclose(f);
	snap = snapshot_load(conf, NULL);
	return snap == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	snapshot_unref(snap);
	unlink(conf);
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_snapshot),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
