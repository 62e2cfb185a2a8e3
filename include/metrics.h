/*
 * metrics: process-wide counters and latency histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4) for {"op": "metrics"},
 * GET /metrics and `modgate stats --prometheus`, and read as totals for
 * {"op": "stats"}.  The only owner of the counts: every front (socket,
 * HTTP, streams) counts here, so that every view agrees.  Every function is thread-safe: workers
 * count with atomic adds; a labelled series (policy, category, rule) is
 * created once under a lock and never freed.  Series with dynamic labels
 * are capped (METRICS_MAX_SERIES); what does not fit is counted under the
 * label value "_other".
 */
#ifndef MODGATE_METRICS_H
#define MODGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

#define METRICS_MAX_SERIES	4096

/* Values the server owns, read when the metrics are rendered. */
struct metrics_gauges {
	long		 queue_depth;	/* requests waiting for a worker */
	long		 queue_max;
	long		 connections;	/* open client connections */
	long		 workers;
	unsigned long	 generation;	/* snapshot generation serving */
	long long	 audit_failures;	/* appends not written; -1: no log */
	const char	*policy_version;	/* may be NULL */
};

/* Totals of the counters, for {"op": "stats"}. */
struct metrics_totals {
	uint64_t	 requests;	/* requests received, any front */
	uint64_t	 inline_runs;	/* run on the event loop */
	uint64_t	 verdicts[3];	/* by enum verdict */
	uint64_t	 errors_bad_request, errors_too_large,
			 errors_unknown_policy, errors_overloaded,
			 errors_timeout, errors_internal;
	uint64_t	 degraded;
	uint64_t	 connections_total, connections_refused;
	uint64_t	 reloads, reload_failures;
	uint64_t	 latency_us[4];	/* of verdicts: p50, p90, p99, p99.9 */
};

/*
 * Count one pipeline_run that produced a verdict: the verdict by policy,
 * rule hits, flagged categories, degraded, per-stage and total latency.
 * An error result (error_code set) counts only its latency: the server
 * counts error answers with metrics_error.
 */
void	 metrics_request(const struct result *res);
/* Count an error answer by its code (bad_request, too_large, overloaded,
 * timeout, ...). */
void	 metrics_error(const char *code);
/* Count a refused connection; REASON is "not_allowed", "uid_cap" or "max". */
void	 metrics_refused(const char *reason);
/* Count a reload attempt; OK is 1 when the new snapshot went live. */
void	 metrics_reload(int ok);
/* Count a request received by a front.  Returns its number, from 1. */
uint64_t metrics_received(void);
/* Count a request run on the event loop thread rather than a worker. */
void	 metrics_inline(void);
/* Count an accepted client connection. */
void	 metrics_connection(void);

/* Read the totals into T. */
void	 metrics_totals(struct metrics_totals *t);
/*
 * Call FN(ARG, rule, mode, hits) for each series of rule hits: the rule id,
 * "enforce" or "monitor", and its count, in no order; a rule may come more
 * than once (another category or action after a reload).  Hits past
 * METRICS_MAX_SERIES (the "_other" series) are not given.
 */
void	 metrics_rule_hits(void (*fn)(void *arg, const char *rule,
	    const char *mode, uint64_t hits), void *arg);

/*
 * Render every metric.  Returns a NUL-terminated malloc'd string the caller
 * frees and sets *LEN to its length, or NULL when memory ran out.
 */
char	*metrics_render(const struct metrics_gauges *g, size_t *len);

/* Forget every count (tests). */
void	 metrics_reset(void);

#endif
