/*
 * modgate scan: run the moderation pipeline in-process over a corpus, no
 * daemon, to see which rules hit, where, and what the verdict would be.
 *
 *	modgate scan [-q] [-w] [-c config] [-p policy] [-R rules ...] file | -
 *
 * Each line of FILE is one input: a JSON object with a "text" (and
 * optional "id", "policy") or, for any other line, the line itself as the
 * text; -w takes the whole file as one text.  For each input one JSON line
 * goes to stdout: the answer the daemon would give (protocol v1, without
 * audit), plus "line" and, per match, "excerpt" (the original text of the
 * span); a line that is no valid input gets an error object
 * ("bad_request") instead.  Empty lines are skipped.  A summary (verdicts, degraded answers, hits per rule) goes to
 * stderr unless -q.
 *
 * With -R (repeatable: a rules file, directory or glob) only the rules
 * stage runs, on those rules and without a config; the verdict is then
 * block for an enforce-mode block hit, rewrite for an enforce-mode rewrite
 * hit, else allow, the text rewritten with the rule templates.  Exit
 * status 0, EX_CONFIG when the config or rules cannot be loaded,
 * EX_NOINPUT when FILE cannot be read, EX_USAGE for bad arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "normalize.h"
#include "pipeline.h"
#include "policy.h"
#include "protocol.h"
#include "rules.h"
#include "rules-internal.h"
#include "snapshot.h"
#include "transformer.h"

#define SCAN_DEFAULT_CONF	SYSCONFDIR "/modgate/modgated.conf"
#define SCAN_MAX_INPUT		(64 * 1024 * 1024)
#define SCAN_MAX_RULES		4096	/* distinct rule ids counted */

struct scan {
	struct snapshot	*snap;		/* pipeline mode */
	struct ruleset	*rules;		/* -R mode */
	const char	*policy;
	int		 quiet;
	size_t		 inputs, verdicts[3], errors, degraded;
	char		*rule_ids[SCAN_MAX_RULES];	/* copies */
	size_t		 rule_hits[SCAN_MAX_RULES];
	size_t		 nrules;
};

static int
scan_usage(void)
{
	fprintf(stderr, "usage: modgate scan [-q] [-w] [-c config] "
	    "[-p policy] [-R rules ...] file | -\n");
	return EX_USAGE;
}

static void
count_rule(struct scan *sc, const char *id)
{
	size_t	 i;

	for (i = 0; i < sc->nrules; i++)
		if (strcmp(sc->rule_ids[i], id) == 0) {
			sc->rule_hits[i]++;
			return;
		}
	if (sc->nrules < SCAN_MAX_RULES &&
	    (sc->rule_ids[sc->nrules] = strdup(id)) != NULL) {
		sc->rule_hits[sc->nrules++] = 1;
	}
}

/* Add "excerpt" to each match object of ANSWER from TEXT. */
static void
add_excerpts(json_t *answer, const char *text, size_t len)
{
	json_t		*ms, *m;
	size_t		 i;
	json_int_t	 a, b;

	if ((ms = json_object_get(answer, "matches")) == NULL)
		return;
	json_array_foreach(ms, i, m) {
		a = json_integer_value(json_object_get(m, "start"));
		b = json_integer_value(json_object_get(m, "end"));
		if (a < 0 || b < a || (size_t)b > len)
			continue;
		json_object_set_new(m, "excerpt",
		    json_stringn(text + a, (size_t)(b - a)));
	}
}

/*
 * Rules stage alone (-R): fill ANSWER from the hits on TEXT, the verdict
 * from policy.c's policy of the rules alone.
 */
static json_t *
scan_rules_only(struct scan *sc, const struct request *req, int *verdict)
{
	struct result	 res;
	json_t		*o, *ms, *m;
	size_t		 i;
	int		 rc;

	result_init(&res);
	rc = rules_match(sc->rules, req->text, req->len, &res.matches);
	res.degraded = rc == -1;
	o = json_object();
	ms = json_array();
	if (o == NULL || ms == NULL)
		goto fail;
	for (i = 0; i < res.matches.n; i++) {
		const struct match *x = &res.matches.v[i];

		m = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f}", "rule", x->rule,
		    "category", x->category, "action",
		    rule_action_name(x->action),
		    "start", (json_int_t)x->start, "end", (json_int_t)x->end,
		    "score", x->score);
		if (m == NULL)
			goto fail;
		if (x->monitor)
			json_object_set_new(m, "monitor", json_true());
		json_array_append_new(ms, m);
	}
	if (policy_apply(policy_rules_only(), req, &res) == -1)
		goto fail;
	json_object_set_new(o, "verdict", json_string(verdict_name(
	    res.verdict)));
	if (res.verdict == VERDICT_REWRITE)
		json_object_set_new(o, "text", json_stringn(res.text,
		    res.text_len));
	json_object_set_new(o, "matches", ms);
	if (res.degraded)
		json_object_set_new(o, "degraded", json_true());
	*verdict = (int)res.verdict;
	result_clear(&res);
	return o;
fail:
	json_decref(o);
	json_decref(ms);
	result_clear(&res);
	return NULL;
}

/* One input: print its answer line and count it. */
static void
scan_one(struct scan *sc, size_t lineno, json_t *id, const char *text,
    size_t len, const char *policy)
{
	struct request	 req;
	struct result	 res;
	json_t		*ans = NULL, *ms, *m;
	char		*line, *s;
	size_t		 n, i;
	int		 v = -1;

	memset(&req, 0, sizeof(req));
	req.id = id;
	req.text = text;
	req.len = len;
	req.policy = policy ? policy : sc->policy;
	sc->inputs++;
	if (!utf8_valid(text, len)) {
		ans = json_pack("{s:{s:s, s:s}}", "error", "code",
		    "bad_request", "message", "text is not valid UTF-8 or "
		    "holds NUL");
	} else if (sc->rules != NULL) {
		ans = scan_rules_only(sc, &req, &v);
	} else {
		result_init(&res);
		if (pipeline_run(sc->snap, NULL, &req, &res) == -1)
			line = protocol_error(id, res.error_code, res.error_msg,
			    &n);
		else {
			line = protocol_answer(&req, &res, sc->snap->version, &n);
			v = res.verdict;
		}
		if (line != NULL)
			ans = json_loadb(line, n, 0, NULL);
		free(line);
		result_clear(&res);
	}
	if (ans == NULL) {
		fprintf(stderr, "modgate scan: line %zu: out of memory\n",
		    lineno);
		sc->errors++;
		return;
	}
	if (json_object_get(ans, "error") != NULL)
		sc->errors++;
	else if (v >= 0 && v <= 2)
		sc->verdicts[v]++;
	if (json_is_true(json_object_get(ans, "degraded")))
		sc->degraded++;
	json_object_set_new(ans, "line", json_integer((json_int_t)lineno));
	if (id != NULL && json_object_get(ans, "id") == NULL)
		json_object_set(ans, "id", id);
	add_excerpts(ans, text, len);
	if ((ms = json_object_get(ans, "matches")) != NULL)
		json_array_foreach(ms, i, m)
			if ((s = (char *)json_string_value(json_object_get(m,
			    "rule"))) != NULL)
				count_rule(sc, s);
	/* scores printed as the daemon prints them */
	if ((s = json_dumps(ans, JSON_COMPACT | JSON_ENSURE_ASCII |
	    JSON_REAL_PRECISION(6))) != NULL) {
		puts(s);
		free(s);
	}
	json_decref(ans);
}

/* A line that is no input: an error line in its place, and counted. */
static void
scan_error(struct scan *sc, size_t lineno, const char *msg)
{
	json_t	*o;
	char	*s;

	sc->inputs++;
	sc->errors++;
	o = json_pack("{s:I, s:{s:s, s:s}}", "line", (json_int_t)lineno,
	    "error", "code", "bad_request", "message", msg);
	if (o != NULL && (s = json_dumps(o, JSON_COMPACT |
	    JSON_ENSURE_ASCII)) != NULL) {
		puts(s);
		free(s);
	}
	json_decref(o);
}

static int
cmp_hits(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
summary(struct scan *sc)
{
	size_t	 i;
	size_t	 order[SCAN_MAX_RULES][2];

	fprintf(stderr, "%zu inputs: %zu allow, %zu rewrite, %zu block, %zu "
	    "errors, %zu degraded\n", sc->inputs, sc->verdicts[VERDICT_ALLOW],
	    sc->verdicts[VERDICT_REWRITE], sc->verdicts[VERDICT_BLOCK],
	    sc->errors, sc->degraded);
	for (i = 0; i < sc->nrules; i++) {
		order[i][0] = sc->rule_hits[i];
		order[i][1] = i;
	}
	qsort(order, sc->nrules, sizeof(order[0]), cmp_hits);
	for (i = 0; i < sc->nrules && i < 30; i++)
		fprintf(stderr, "%8zu  %s\n", order[i][0],
		    sc->rule_ids[order[i][1]]);
}

int
cmd_scan(int argc, char **argv)
{
	struct scan	*sc;
	struct rules_conf rc;
	FILE		*fp = NULL;
	char		*line = NULL, *whole = NULL;
	size_t		 cap = 0, lineno = 0, wlen = 0, i;
	ssize_t		 n;
	json_t		*rec;
	json_error_t	 jerr;
	const char	*conf = NULL, *text;
	int		 ch, whole_file = 0, rv = 0;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return EX_OSERR;
	memset(&rc, 0, sizeof(rc));
	rc.cache_dir = "";
	optind = 1;
	while ((ch = getopt(argc, argv, "c:p:qR:w")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'p':
			sc->policy = optarg;
			break;
		case 'q':
			sc->quiet = 1;
			break;
		case 'R':
			if (rc.n_paths == CONFIG_MAX_PATHS) {
				rv = scan_usage();
				goto done;
			}
			rc.paths[rc.n_paths++] = optarg;
			break;
		case 'w':
			whole_file = 1;
			break;
		default:
			rv = scan_usage();
			goto done;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || (conf != NULL && rc.n_paths > 0)) {
		rv = scan_usage();
		goto done;
	}
	if (rc.n_paths > 0) {
		if ((sc->rules = rules_load(&rc, NULL)) == NULL) {
			rv = EX_CONFIG;
			goto done;
		}
	} else if ((sc->snap = snapshot_load(conf ? conf : SCAN_DEFAULT_CONF,
	    NULL)) == NULL) {
		rv = EX_CONFIG;
		goto done;
	} else
		transformer_set_threads(sc->snap->cfg->classifier.threads);
	if (strcmp(argv[0], "-") == 0)
		fp = stdin;
	else if ((fp = fopen(argv[0], "r")) == NULL) {
		fprintf(stderr, "modgate scan: %s: %s\n", argv[0],
		    strerror(errno));
		rv = EX_NOINPUT;
		goto done;
	}
	if (whole_file) {
		while ((n = getline(&line, &cap, fp)) > 0) {
			char	*nw;

			if (wlen + (size_t)n > SCAN_MAX_INPUT ||
			    (nw = realloc(whole, wlen + (size_t)n + 1)) == NULL) {
				fprintf(stderr, "modgate scan: input too large\n");
				rv = EX_DATAERR;
				goto done;
			}
			whole = nw;
			memcpy(whole + wlen, line, (size_t)n);
			wlen += (size_t)n;
		}
		scan_one(sc, 1, NULL, whole ? whole : "", wlen, NULL);
	} else while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > SCAN_MAX_INPUT) {
			scan_error(sc, lineno, "line too long");
			continue;
		}
		for (i = 0; i < (size_t)n && (line[i] == ' ' ||
		    line[i] == '\t'); i++)
			;
		if (i < (size_t)n && line[i] == '{') {
			rec = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES |
			    JSON_ALLOW_NUL, &jerr);
			if (rec == NULL || !json_is_string(json_object_get(rec,
			    "text"))) {
				scan_error(sc, lineno, rec == NULL ? jerr.text :
				    "no \"text\" string");
				json_decref(rec);
				continue;
			}
			text = json_string_value(json_object_get(rec, "text"));
			scan_one(sc, lineno, json_object_get(rec, "id"), text,
			    json_string_length(json_object_get(rec, "text")),
			    json_string_value(json_object_get(rec, "policy")));
			json_decref(rec);
		} else if (n > 0)
			scan_one(sc, lineno, NULL, line, (size_t)n, NULL);
	}
	if (ferror(fp)) {
		fprintf(stderr, "modgate scan: %s: read error\n", argv[0]);
		rv = EX_IOERR;
	}
	if (!sc->quiet)
		summary(sc);
done:
	if (fp != NULL && fp != stdin)
		fclose(fp);
	free(line);
	free(whole);
	rules_free(sc->rules);
	snapshot_unref(sc->snap);
	for (i = 0; i < sc->nrules; i++)
		free(sc->rule_ids[i]);
	free(sc);
	return rv;
}
