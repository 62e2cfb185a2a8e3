/*
 * server-stats: the answers of the stats and metrics ops and GET /metrics:
 * metrics.c's counts with the server's gauges.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "metrics.h"
#include "server.h"
#include "server-internal.h"
#include "snapshot.h"
#include "worker.h"

/* metrics_rule_hits: add HITS to RULES[rule][mode]. */
static void
add_rule_hits(void *arg, const char *rule, const char *mode, uint64_t hits)
{
	json_t	*rules = arg, *r, *n;

	if ((r = json_object_get(rules, rule)) == NULL) {
		r = json_pack("{s:I, s:I}", "enforce", (json_int_t)0,
		    "monitor", (json_int_t)0);
		if (r == NULL || json_object_set_new(rules, rule, r) == -1)
			return;
	}
	if ((n = json_object_get(r, mode)) != NULL)
		json_integer_set(n, json_integer_value(n) + (json_int_t)hits);
}

json_t *
stats_json(struct server *srv)
{
	struct metrics_totals	 t;
	struct audit_stats	 as;
	json_t			*o, *rules;

	metrics_totals(&t);
	o = json_pack("{s:s, s:I, s:s, s:I, s:i, s:I, s:I, s:I, s:I,"
	    " s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I,"
	    " s:i, s:i, s:i, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
	    "op", "stats",
	    "uptime_s", (json_int_t)(time(NULL) - srv->started),
	    "policy_version", srv->snap->version,
	    "generation", (json_int_t)srv->snap->generation,
	    "connections", srv->nconns,
	    "connections_total", (json_int_t)t.connections_total,
	    "connections_refused", (json_int_t)t.connections_refused,
	    "requests", (json_int_t)t.requests,
	    "inline", (json_int_t)t.inline_runs,
	    "verdicts",
	    "allow", (json_int_t)t.verdicts[VERDICT_ALLOW],
	    "rewrite", (json_int_t)t.verdicts[VERDICT_REWRITE],
	    "block", (json_int_t)t.verdicts[VERDICT_BLOCK],
	    "errors",
	    "bad_request", (json_int_t)t.errors_bad_request,
	    "too_large", (json_int_t)t.errors_too_large,
	    "unknown_policy", (json_int_t)t.errors_unknown_policy,
	    "overloaded", (json_int_t)t.errors_overloaded,
	    "timeout", (json_int_t)t.errors_timeout,
	    "internal", (json_int_t)t.errors_internal,
	    "degraded", (json_int_t)t.degraded,
	    "workers", worker_threads(srv->workers),
	    "queued", worker_queued(srv->workers),
	    "running", worker_running(srv->workers),
	    "reloads", (json_int_t)t.reloads,
	    "reload_failures", (json_int_t)t.reload_failures,
	    "latency_us",
	    "p50", (json_int_t)t.latency_us[0],
	    "p90", (json_int_t)t.latency_us[1],
	    "p99", (json_int_t)t.latency_us[2],
	    "p999", (json_int_t)t.latency_us[3]);
	if (o != NULL && srv->audit != NULL) {
		audit_stats(srv->audit, &as);
		json_object_set_new(o, "audit", json_pack("{s:I, s:I, s:I, s:I,"
		    " s:b}", "seq", (json_int_t)as.seq,
		    "written", (json_int_t)as.written,
		    "failures", (json_int_t)as.failures,
		    "lost", (json_int_t)as.lost, "failing", as.failing));
	}
	/* Hits by rule and mode, as modgate_rule_matches_total counts them. */
	if (o != NULL && (rules = json_object()) != NULL) {
		metrics_rule_hits(add_rule_hits, rules);
		json_object_set_new(o, "rules", rules);
	}
	/* A reload runs off the loop: say so, tests and operators wait on it. */
	if (o != NULL)
		json_object_set_new(o, "reloading",
		    json_boolean(srv->reloading || srv->reload_again));
	return o;
}

char *
server_metrics(struct server *srv, size_t *len)
{
	struct metrics_gauges	 g;
	struct audit_stats	 as;

	memset(&g, 0, sizeof(g));
	g.queue_depth = worker_queued(srv->workers);
	g.queue_max = srv->snap->cfg->server.queue_max;
	g.connections = srv->nconns;
	g.workers = worker_threads(srv->workers);
	g.generation = srv->snap->generation;
	g.policy_version = srv->snap->version;
	g.audit_failures = -1;
	if (srv->audit != NULL) {
		audit_stats(srv->audit, &as);
		g.audit_failures = (long long)as.failures;
	}
	return metrics_render(&g, len);
}

/* {"op": "metrics", "metrics": "<Prometheus text>"}, or NULL. */
json_t *
metrics_json(struct server *srv)
{
	json_t			*o;
	char			*text;
	size_t			 len;

	if ((text = server_metrics(srv, &len)) == NULL)
		return NULL;
	o = json_pack("{s:s, s:s%}", "op", "metrics", "metrics", text, len);
	free(text);
	return o;
}
