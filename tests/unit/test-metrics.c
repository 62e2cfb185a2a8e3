/* test-metrics: counting and the Prometheus text rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "config.h"
#include "metrics.h"
#include "verdict.h"

static struct policy_conf	 pol = { .name = "default" };

static char *
render(void)
{
	struct metrics_gauges	 g = { .queue_depth = 3, .queue_max = 64,
	    .connections = 2, .workers = 4, .generation = 7,
	    .audit_failures = 5,
	    .policy_version = "sha256:ab\"c" };
	size_t			 len;
	char			*out;

	out = metrics_render(&g, &len);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static void
contains(const char *out, const char *line)
{
	if (strstr(out, line) == NULL)
		fail_msg("missing \"%s\" in:\n%s", line, out);
}

static void
fill(struct result *res, enum verdict v)
{
	memset(res, 0, sizeof(*res));
	res->verdict = v;
	res->would_verdict = (int)v;
	res->policy = &pol;
	res->stage[STAGE_ADMIT] = STAGE_OK;
	res->stage_us[STAGE_ADMIT] = 30;		/* <= 50us bucket */
	res->stage[STAGE_RULES] = STAGE_OK;
	res->stage_us[STAGE_RULES] = 700;		/* 1ms bucket */
	res->stage[STAGE_CLASSIFIER] = STAGE_NOT_RUN;
	res->stage_us[STAGE_CLASSIFIER] = 999999;	/* not observed */
	res->stage[STAGE_AUDIT] = STAGE_OK;
	res->elapsed_us = 6000000;			/* +Inf only */
}

static void
test_counts(void **state)
{
	struct result	 res;
	struct match	 m = { .rule = "pii.email", .category = "pii",
	    .action = ACTION_REWRITE };
	struct match	 mon = { .rule = "new.rule", .category = "hate",
	    .action = ACTION_BLOCK };
	char		*out;

	metrics_reset();
	fill(&res, VERDICT_ALLOW);
	metrics_request(&res);
	metrics_request(&res);
	fill(&res, VERDICT_REWRITE);
	res.matches.v = &m;
	res.matches.n = 1;
	res.flagged[0] = "hate";
	res.n_flagged = 1;
	res.degraded = 1;
	metrics_request(&res);
	/* A monitor-mode hit: the answer allows, enforced it would block. */
	fill(&res, VERDICT_ALLOW);
	res.would_verdict = VERDICT_BLOCK;
	mon.monitor = 1;
	res.matches.v = &mon;
	res.matches.n = 1;
	metrics_request(&res);
	/* An error result counts its latency only; the server counts it. */
	fill(&res, VERDICT_ALLOW);
	res.error_code = "unknown_policy";
	res.policy = NULL;
	metrics_request(&res);
	metrics_error("unknown_policy");
	metrics_error("overloaded");
	metrics_error("overloaded");
	metrics_refused("uid_cap");
	metrics_reload(1);
	metrics_reload(0);
	metrics_reload(0);

	out = render();
	contains(out, "modgate_requests_total{policy=\"default\",verdict=\"allow\"} 3\n");
	contains(out, "modgate_would_verdicts_total{policy=\"default\",verdict=\"allow\"} 2\n");
	contains(out, "modgate_would_verdicts_total{policy=\"default\",verdict=\"block\"} 1\n");
	contains(out, "modgate_rule_matches_total{rule=\"new.rule\",category=\"hate\",action=\"block\",mode=\"monitor\"} 1\n");
	contains(out, "modgate_requests_total{policy=\"default\",verdict=\"rewrite\"} 1\n");
	contains(out, "modgate_rule_matches_total{rule=\"pii.email\",category=\"pii\",action=\"rewrite\",mode=\"enforce\"} 1\n");
	contains(out, "modgate_flagged_total{category=\"hate\"} 1\n");
	contains(out, "modgate_request_errors_total{code=\"unknown_policy\"} 1\n");
	contains(out, "modgate_request_errors_total{code=\"overloaded\"} 2\n");
	contains(out, "modgate_connections_refused_total{reason=\"uid_cap\"} 1\n");
	contains(out, "modgate_degraded_total 1\n");
	contains(out, "modgate_audit_failures_total 5\n");
	contains(out, "modgate_reloads_total{result=\"ok\"} 1\n");
	contains(out, "modgate_reloads_total{result=\"failed\"} 2\n");
	contains(out, "modgate_stage_duration_seconds_bucket{stage=\"normalize\",le=\"5e-05\"} 5\n");
	contains(out, "modgate_stage_duration_seconds_bucket{stage=\"rules\",le=\"0.0005\"} 0\n");
	contains(out, "modgate_stage_duration_seconds_bucket{stage=\"rules\",le=\"0.001\"} 5\n");
	contains(out, "modgate_stage_duration_seconds_count{stage=\"rules\"} 5\n");
	contains(out, "modgate_stage_duration_seconds_sum{stage=\"rules\"} 0.003500\n");
	contains(out, "modgate_stage_duration_seconds_count{stage=\"classifier\"} 0\n");
	contains(out, "modgate_request_duration_seconds_bucket{le=\"5\"} 0\n");
	contains(out, "modgate_request_duration_seconds_bucket{le=\"+Inf\"} 5\n");
	contains(out, "modgate_request_duration_seconds_count 5\n");
	contains(out, "modgate_queue_depth 3\n");
	contains(out, "modgate_snapshot_generation 7\n");
	contains(out, "policy_version=\"sha256:ab\\\"c\"} 1\n");
	free(out);
}

/* metrics_rule_hits: note the one series it gives. */
static void
one_hit(void *arg, const char *rule, const char *mode, uint64_t hits)
{
	char	*seen = arg;

	assert_string_equal(seen, "");
	snprintf(seen, 64, "%s|%s|%llu", rule, mode,
	    (unsigned long long)hits);
}

static void
test_escape(void **state)
{
	struct result	 res;
	struct match	 m = { .rule = "a\\b\"c\nd", .category = "x",
	    .action = ACTION_BLOCK };
	char		*out, seen[64] = "";

	metrics_reset();
	fill(&res, VERDICT_BLOCK);
	res.matches.v = &m;
	res.matches.n = 1;
	metrics_request(&res);
	out = render();
	contains(out, "{rule=\"a\\\\b\\\"c\\nd\",category=\"x\",action=\"block\",mode=\"enforce\"} 1\n");
	free(out);
	/* The rule's id as it is, not as rendered. */
	metrics_request(&res);
	metrics_rule_hits(one_hit, seen);
	assert_string_equal(seen, "a\\b\"c\nd|enforce|2");
}

static void
test_cap(void **state)
{
	char	 code[32], *out;
	int	 i;

	metrics_reset();
	for (i = 0; i < METRICS_MAX_SERIES + 10; i++) {
		snprintf(code, sizeof(code), "c%d", i);
		metrics_error(code);
	}
	out = render();
	contains(out, "modgate_request_errors_total{code=\"c0\"} 1\n");
	contains(out, "modgate_request_errors_total{code=\"_other\"} 10\n");
	free(out);
	metrics_reset();
}

static void *
hammer(void *arg)
{
	struct result	 res;
	int		 i;

	fill(&res, VERDICT_ALLOW);
	for (i = 0; i < 20000; i++) {
		metrics_request(&res);
		metrics_error(i % 2 ? "timeout" : "too_large");
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t	 t[4];
	char		*out;
	int		 i;

	metrics_reset();
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	out = render();
	contains(out, "modgate_requests_total{policy=\"default\",verdict=\"allow\"} 80000\n");
	contains(out, "modgate_request_errors_total{code=\"timeout\"} 40000\n");
	contains(out, "modgate_request_errors_total{code=\"too_large\"} 40000\n");
	contains(out, "modgate_request_duration_seconds_count 80000\n");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
