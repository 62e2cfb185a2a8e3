/* metrics: see include/metrics.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "verdict.h"

/* Families of series with label values known only at run time. */
enum family { FAM_REQUESTS, FAM_WOULD, FAM_RULE, FAM_FLAGGED, FAM_ERRORS,
    FAM_REFUSED, FAM_COUNT };

#define MAX_LABELS_PER	4

static const struct {
	const char	*name;
	const char	*help;
	const char	*labels[MAX_LABELS_PER]; /* names; NULL ends them */
} families[FAM_COUNT] = {
	[FAM_REQUESTS] = { "modgate_requests_total",
	    "Requests answered with a verdict, by policy and verdict.",
	    { "policy", "verdict", NULL } },
	[FAM_WOULD] = { "modgate_would_verdicts_total",
	    "Verdicts had every monitor rule enforced and no policy been in "
	    "monitor mode, by policy and verdict.",
	    { "policy", "verdict", NULL } },
	[FAM_RULE] = { "modgate_rule_matches_total",
	    "Rule hits, by rule, category, action and mode "
	    "(enforce or monitor).",
	    { "rule", "category", "action", "mode" } },
	[FAM_FLAGGED] = { "modgate_flagged_total",
	    "Requests with a classifier category over a policy threshold.",
	    { "category", NULL, NULL } },
	[FAM_ERRORS] = { "modgate_request_errors_total",
	    "Requests answered with an error, by error code.",
	    { "code", NULL, NULL } },
	[FAM_REFUSED] = { "modgate_connections_refused_total",
	    "Client connections refused, by reason.",
	    { "reason", NULL, NULL } },
};

struct series {
	enum family		 fam;
	atomic_uint_least64_t	 value;
	const char		*vals[MAX_LABELS_PER]; /* raw, in labels[] */
	char			 labels[];	/* rendered: a="x",b="y" */
};

#define TABLE_SIZE	(2 * METRICS_MAX_SERIES)	/* power of two */
#define LABELS_MAX	512

static _Atomic(struct series *)	 table[TABLE_SIZE];
static atomic_uint_least64_t	 overflow[FAM_COUNT];
static size_t			 n_series;
static pthread_mutex_t		 table_lock = PTHREAD_MUTEX_INITIALIZER;

/* Latency buckets, in microseconds, and their upper bounds in seconds. */
static const uint64_t bucket_us[] = { 50, 100, 250, 500, 1000, 2500, 5000,
    10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000 };
static const char *bucket_le[] = { "5e-05", "0.0001", "0.00025", "0.0005",
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5" };
#define N_BUCKETS	(sizeof(bucket_us) / sizeof(bucket_us[0]))

struct histogram {
	atomic_uint_least64_t	 bucket[N_BUCKETS + 1];	/* last: +Inf */
	atomic_uint_least64_t	 sum_us;
	atomic_uint_least64_t	 count;
};

static struct histogram		 stage_hist[STAGE_COUNT];
static struct histogram		 request_hist;
static atomic_uint_least64_t	 degraded;
static atomic_uint_least64_t	 reloads_ok, reloads_failed;

/* The totals {"op": "stats"} reads beside the series above. */
static const char *error_codes[] = { "bad_request", "too_large",
    "unknown_policy", "overloaded", "timeout", "internal" };
#define N_ERROR_CODES	(sizeof(error_codes) / sizeof(error_codes[0]))
#define LAT_BUCKETS	128		/* 4 per power of two */

static atomic_uint_least64_t	 received, inline_runs, connections;
static atomic_uint_least64_t	 refused;
static atomic_uint_least64_t	 verdicts[3];		/* by enum verdict */
static atomic_uint_least64_t	 errors[N_ERROR_CODES];	/* by error_codes */
static atomic_uint_least64_t	 lat[LAT_BUCKETS];	/* of verdicts, us */

/* Count US in the fine latency histogram of verdicts. */
static void
lat_observe(uint64_t us)
{
	unsigned int	 b = 0, lg;

	if (us >= 4) {
		lg = 63 - (unsigned int)__builtin_clzll(us);
		b = lg * 4 + (unsigned int)((us >> (lg - 2)) & 3);
	} else
		b = (unsigned int)us;
	if (b >= LAT_BUCKETS)
		b = LAT_BUCKETS - 1;
	atomic_fetch_add_explicit(&lat[b], 1, memory_order_relaxed);
}

/* Lower bound of the bucket of COUNTS[LAT_BUCKETS] holding quantile Q. */
static uint64_t
lat_quantile(const uint64_t *counts, double q)
{
	uint64_t	 n = 0, want, seen = 0;
	unsigned int	 b, lg;

	for (b = 0; b < LAT_BUCKETS; b++)
		n += counts[b];
	if (n == 0)
		return 0;
	want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	for (b = 0; b < LAT_BUCKETS; b++) {
		seen += counts[b];
		if (seen > want)
			break;
	}
	if (b < 4)
		return b;
	lg = b / 4;
	return ((uint64_t)4 + (b & 3)) << (lg - 2);
}

static void
hist_observe(struct histogram *h, uint64_t us)
{
	size_t	 i;

	for (i = 0; i < N_BUCKETS && us > bucket_us[i]; i++)
		;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

/* Append name="value" to BUF (escaping \, " and newline); 0 or -1. */
static int
label_add(char *buf, size_t size, size_t *off, const char *name,
    const char *value)
{
	size_t	 o = *off;
	int	 n;

	n = snprintf(buf + o, size - o, "%s%s=\"", o ? "," : "", name);
	if (n < 0 || (size_t)n >= size - o)
		return -1;
	o += n;
	for (; value != NULL && *value != '\0'; value++) {
		const char *esc = NULL;

		if (*value == '\\')
			esc = "\\\\";
		else if (*value == '"')
			esc = "\\\"";
		else if (*value == '\n')
			esc = "\\n";
		if (o + 3 >= size)
			return -1;
		if (esc != NULL) {
			memcpy(buf + o, esc, 2);
			o += 2;
		} else
			buf[o++] = *value;
	}
	if (o + 2 >= size)
		return -1;
	buf[o++] = '"';
	buf[o] = '\0';
	*off = o;
	return 0;
}

static uint32_t
hash(enum family fam, const char *s)
{
	uint32_t	 h = 2166136261u ^ (uint32_t)fam;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Add 1 to FAM{v0,v1,v2,v3}; values beyond the labels are ignored. */
static void
series_inc(enum family fam, const char *v0, const char *v1, const char *v2,
    const char *v3)
{
	const char	*vals[MAX_LABELS_PER] = { v0, v1, v2, v3 };
	char		 labels[LABELS_MAX], *raw;
	struct series	*s;
	size_t		 off = 0, i, len, rawlen = 0;
	uint32_t	 h;

	labels[0] = '\0';
	for (i = 0; i < MAX_LABELS_PER && families[fam].labels[i] != NULL; i++)
		if (label_add(labels, sizeof(labels), &off,
		    families[fam].labels[i], vals[i]) == -1)
			goto overflow;
	len = off;
	for (i = 0; i < MAX_LABELS_PER && families[fam].labels[i] != NULL; i++)
		rawlen += strlen(vals[i] != NULL ? vals[i] : "") + 1;
	h = hash(fam, labels);
	for (i = 0; i < TABLE_SIZE; i++) {
		_Atomic(struct series *) *slot = &table[(h + i) % TABLE_SIZE];

		s = atomic_load_explicit(slot, memory_order_acquire);
		if (s == NULL) {
			pthread_mutex_lock(&table_lock);
			s = atomic_load_explicit(slot, memory_order_acquire);
			if (s == NULL) {
				if (n_series >= METRICS_MAX_SERIES ||
				    (s = calloc(1, sizeof(*s) + len + 1 +
				    rawlen)) == NULL) {
					pthread_mutex_unlock(&table_lock);
					goto overflow;
				}
				s->fam = fam;
				atomic_init(&s->value, 0);
				memcpy(s->labels, labels, len + 1);
				raw = s->labels + len + 1;
				for (i = 0; i < MAX_LABELS_PER &&
				    families[fam].labels[i] != NULL; i++) {
					s->vals[i] = raw;
					raw = stpcpy(raw, vals[i] != NULL ?
					    vals[i] : "") + 1;
				}
				atomic_store_explicit(slot, s,
				    memory_order_release);
				n_series++;
			}
			pthread_mutex_unlock(&table_lock);
		}
		if (s->fam == fam && strcmp(s->labels, labels) == 0) {
			atomic_fetch_add_explicit(&s->value, 1,
			    memory_order_relaxed);
			return;
		}
	}
 overflow:
	atomic_fetch_add_explicit(&overflow[fam], 1, memory_order_relaxed);
}

void
metrics_request(const struct result *res)
{
	const char	*pname;
	size_t		 i;

	for (i = 0; i < STAGE_COUNT; i++)
		if (res->stage[i] == STAGE_OK || res->stage[i] == STAGE_FAILED)
			hist_observe(&stage_hist[i], res->stage_us[i]);
	hist_observe(&request_hist, res->elapsed_us);
	if (res->error_code != NULL)
		return;
	atomic_fetch_add_explicit(&verdicts[res->verdict], 1,
	    memory_order_relaxed);
	lat_observe(res->elapsed_us);
	pname = res->policy != NULL ? res->policy->name : "";
	series_inc(FAM_REQUESTS, pname, verdict_name(res->verdict), NULL,
	    NULL);
	series_inc(FAM_WOULD, pname,
	    verdict_name((enum verdict)res->would_verdict), NULL, NULL);
	for (i = 0; i < res->matches.n; i++)
		series_inc(FAM_RULE, res->matches.v[i].rule,
		    res->matches.v[i].category,
		    rule_action_name(res->matches.v[i].action),
		    res->matches.v[i].monitor ? "monitor" : "enforce");
	for (i = 0; i < res->n_flagged && i < MAX_LABELS; i++)
		series_inc(FAM_FLAGGED, res->flagged[i], NULL, NULL, NULL);
	if (res->degraded)
		atomic_fetch_add_explicit(&degraded, 1, memory_order_relaxed);
}

void
metrics_error(const char *code)
{
	size_t	 i;

	series_inc(FAM_ERRORS, code, NULL, NULL, NULL);
	for (i = 0; i < N_ERROR_CODES; i++)
		if (strcmp(code, error_codes[i]) == 0) {
			atomic_fetch_add_explicit(&errors[i], 1,
			    memory_order_relaxed);
			break;
		}
}

void
metrics_refused(const char *reason)
{
	series_inc(FAM_REFUSED, reason, NULL, NULL, NULL);
	atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
}

uint64_t
metrics_received(void)
{
	return atomic_fetch_add_explicit(&received, 1,
	    memory_order_relaxed) + 1;
}

void
metrics_inline(void)
{
	atomic_fetch_add_explicit(&inline_runs, 1, memory_order_relaxed);
}

void
metrics_connection(void)
{
	atomic_fetch_add_explicit(&connections, 1, memory_order_relaxed);
}

void
metrics_reload(int ok)
{
	atomic_fetch_add_explicit(ok ? &reloads_ok : &reloads_failed, 1,
	    memory_order_relaxed);
}

static unsigned long long
load(atomic_uint_least64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

void
metrics_totals(struct metrics_totals *t)
{
	static const double	 q[4] = { 0.50, 0.90, 0.99, 0.999 };
	uint64_t		 counts[LAT_BUCKETS];
	size_t			 i;

	memset(t, 0, sizeof(*t));
	t->requests = load(&received);
	t->inline_runs = load(&inline_runs);
	for (i = 0; i < 3; i++)
		t->verdicts[i] = load(&verdicts[i]);
	t->errors_bad_request = load(&errors[0]);
	t->errors_too_large = load(&errors[1]);
	t->errors_unknown_policy = load(&errors[2]);
	t->errors_overloaded = load(&errors[3]);
	t->errors_timeout = load(&errors[4]);
	t->errors_internal = load(&errors[5]);
	t->degraded = load(&degraded);
	t->connections_total = load(&connections);
	t->connections_refused = load(&refused);
	t->reloads = load(&reloads_ok);
	t->reload_failures = load(&reloads_failed);
	for (i = 0; i < LAT_BUCKETS; i++)
		counts[i] = load(&lat[i]);
	for (i = 0; i < 4; i++)
		t->latency_us[i] = lat_quantile(counts, q[i]);
}

void
metrics_rule_hits(void (*fn)(void *, const char *, const char *, uint64_t),
    void *arg)
{
	struct series	*s;
	size_t		 i;

	for (i = 0; i < TABLE_SIZE; i++) {
		s = atomic_load_explicit(&table[i], memory_order_acquire);
		if (s != NULL && s->fam == FAM_RULE)
			fn(arg, s->vals[0], s->vals[3], load(&s->value));
	}
}

static void
header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_family(FILE *f, enum family fam)
{
	struct series	*s;
	size_t		 i;
	int		 first;

	header(f, families[fam].name, "counter", families[fam].help);
	for (i = 0; i < TABLE_SIZE; i++) {
		s = atomic_load_explicit(&table[i], memory_order_acquire);
		if (s != NULL && s->fam == fam)
			fprintf(f, "%s{%s} %llu\n", families[fam].name,
			    s->labels, load(&s->value));
	}
	if (load(&overflow[fam]) == 0)
		return;
	fprintf(f, "%s{", families[fam].name);
	for (i = 0, first = 1; i < MAX_LABELS_PER &&
	    families[fam].labels[i] != NULL; i++) {
		fprintf(f, "%s%s=\"_other\"", first ? "" : ",",
		    families[fam].labels[i]);
		first = 0;
	}
	fprintf(f, "} %llu\n", load(&overflow[fam]));
}

/* One histogram; LABEL is "" or a rendered label pair followed by ','. */
static void
render_hist(FILE *f, const char *name, const char *label,
    struct histogram *h)
{
	unsigned long long	 cum = 0, count;
	size_t			 i;

	for (i = 0; i < N_BUCKETS; i++) {
		cum += load(&h->bucket[i]);
		fprintf(f, "%s_bucket{%sle=\"%s\"} %llu\n", name, label,
		    bucket_le[i], cum);
	}
	cum += load(&h->bucket[N_BUCKETS]);
	fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, label, cum);
	/* The count is read last and never below the +Inf bucket. */
	count = load(&h->count);
	if (count < cum)
		count = cum;
	if (label[0] != '\0') {
		char	 trimmed[64];

		snprintf(trimmed, sizeof(trimmed), "%.*s",
		    (int)strlen(label) - 1, label);
		fprintf(f, "%s_sum{%s} %.6f\n", name, trimmed,
		    load(&h->sum_us) / 1e6);
		fprintf(f, "%s_count{%s} %llu\n", name, trimmed, count);
	} else {
		fprintf(f, "%s_sum %.6f\n", name, load(&h->sum_us) / 1e6);
		fprintf(f, "%s_count %llu\n", name, count);
	}
}

char *
metrics_render(const struct metrics_gauges *g, size_t *len)
{
	FILE	*f;
	char	*buf = NULL, label[64], pv[LABELS_MAX];
	size_t	 size = 0, i, off = 0;
	int	 fam;

	if ((f = open_memstream(&buf, &size)) == NULL)
		return NULL;

	header(f, "modgate_build_info", "gauge",
	    "Version of modgated and of the snapshot serving (always 1).");
	pv[0] = '\0';
	if (label_add(pv, sizeof(pv), &off, "version", MODGATE_VERSION) == 0 &&
	    label_add(pv, sizeof(pv), &off, "policy_version",
	    g != NULL && g->policy_version != NULL ? g->policy_version : "") == 0)
		fprintf(f, "modgate_build_info{%s} 1\n", pv);

	for (fam = 0; fam < FAM_COUNT; fam++)
		render_family(f, fam);

	header(f, "modgate_degraded_total", "counter",
	    "Requests answered after a stage failed (on_error decided).");
	fprintf(f, "modgate_degraded_total %llu\n", load(&degraded));
	if (g != NULL && g->audit_failures >= 0) {
		header(f, "modgate_audit_failures_total", "counter",
		    "Audit records that could not be written.");
		fprintf(f, "modgate_audit_failures_total %lld\n",
		    g->audit_failures);
	}
	header(f, "modgate_reloads_total", "counter",
	    "Reloads (SIGHUP or op reload), by result.");
	fprintf(f, "modgate_reloads_total{result=\"ok\"} %llu\n",
	    load(&reloads_ok));
	fprintf(f, "modgate_reloads_total{result=\"failed\"} %llu\n",
	    load(&reloads_failed));

	header(f, "modgate_stage_duration_seconds", "histogram",
	    "Time spent in each pipeline stage.");
	for (i = 0; i < STAGE_COUNT; i++) {
		snprintf(label, sizeof(label), "stage=\"%s\",", stage_name(i));
		render_hist(f, "modgate_stage_duration_seconds", label,
		    &stage_hist[i]);
	}
	header(f, "modgate_request_duration_seconds", "histogram",
	    "Time from parse to answer of each request.");
	render_hist(f, "modgate_request_duration_seconds", "", &request_hist);

	if (g != NULL) {
		header(f, "modgate_snapshot_generation", "gauge",
		    "Generation of the snapshot serving: 1 at start, +1 per "
		    "successful reload.");
		fprintf(f, "modgate_snapshot_generation %lu\n", g->generation);
		header(f, "modgate_queue_depth", "gauge",
		    "Requests waiting for a worker.");
		fprintf(f, "modgate_queue_depth %ld\n", g->queue_depth);
		header(f, "modgate_queue_capacity", "gauge",
		    "Requests that may wait before new ones are refused.");
		fprintf(f, "modgate_queue_capacity %ld\n", g->queue_max);
		header(f, "modgate_connections", "gauge",
		    "Open client connections.");
		fprintf(f, "modgate_connections %ld\n", g->connections);
		header(f, "modgate_workers", "gauge", "Worker threads.");
		fprintf(f, "modgate_workers %ld\n", g->workers);
	}

	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = size;
	return buf;
}

void
metrics_reset(void)
{
	struct series	*s;
	size_t		 i, j;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < TABLE_SIZE; i++) {
		s = atomic_exchange(&table[i], NULL);
		free(s);
	}
	n_series = 0;
	pthread_mutex_unlock(&table_lock);
	for (i = 0; i < FAM_COUNT; i++)
		atomic_store(&overflow[i], 0);
	for (i = 0; i < STAGE_COUNT; i++) {
		for (j = 0; j <= N_BUCKETS; j++)
			atomic_store(&stage_hist[i].bucket[j], 0);
		atomic_store(&stage_hist[i].sum_us, 0);
		atomic_store(&stage_hist[i].count, 0);
	}
	for (j = 0; j <= N_BUCKETS; j++)
		atomic_store(&request_hist.bucket[j], 0);
	atomic_store(&request_hist.sum_us, 0);
	atomic_store(&request_hist.count, 0);
	atomic_store(&degraded, 0);
	atomic_store(&reloads_ok, 0);
	atomic_store(&reloads_failed, 0);
	atomic_store(&received, 0);
	atomic_store(&inline_runs, 0);
	atomic_store(&connections, 0);
	atomic_store(&refused, 0);
	for (i = 0; i < 3; i++)
		atomic_store(&verdicts[i], 0);
	for (i = 0; i < N_ERROR_CODES; i++)
		atomic_store(&errors[i], 0);
	for (i = 0; i < LAT_BUCKETS; i++)
		atomic_store(&lat[i], 0);
}
