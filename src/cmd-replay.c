/*
 * modgate replay: run past traffic under the current configuration and a
 * candidate one, in-process, and report every verdict that flips: the way
 * to try a rule, policy or threshold change before it ships.
 *
 *	modgate replay [-jq] [-p policy] -c current -n candidate file ...
 *
 * Each FILE is an audit log (records that kept their text: audit.text =
 * full, or redacted, which replays the redacted text) or JSON Lines with a
 * "text" (and optional "id", "policy"); other lines (events, records with
 * the text's hash only, blank lines) are counted as skipped.  A text runs
 * under its record's policy, or -p, or the configuration's default.
 * Output: the counts of flips by old -> new verdict, then one line per
 * flip (file:line, id, old -> new, the rules that hit under each);
 * -j prints one JSON object instead.  A progress bar goes to stderr when
 * it is a terminal, unless -q.  Exit status 0, EX_CONFIG when a
 * configuration cannot be loaded, EX_NOINPUT when a file cannot be read,
 * EX_USAGE for bad arguments.
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
#include "pipeline.h"
#include "snapshot.h"
#include "transformer.h"

#define REPLAY_MAX_LINE		(64 * 1024 * 1024)

struct replay {
	struct snapshot	*cur, *cand;
	const char	*policy;	/* -p, or NULL */
	int		 json, progress;
	size_t		 total, done;	/* lines, for the progress bar */
	size_t		 replayed, skipped, errors;
	size_t		 flips[3][3];	/* [old][new] */
	json_t		*changes;	/* array of flip objects */
};

static int
replay_usage(void)
{
	fprintf(stderr, "usage: modgate replay [-jq] [-p policy] -c current "
	    "-n candidate file ...\n");
	return EX_USAGE;
}

/* Lines of PATH, or 0 when it cannot be read (the read reports it). */
static size_t
count_lines(const char *path)
{
	FILE	*fp;
	size_t	 n = 0;
	int	 c;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while ((c = getc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

static void
progress(struct replay *rp)
{
	int	 i, w = 40, filled;

	if (!rp->progress || rp->total == 0)
		return;
	if (rp->done % 64 != 0 && rp->done != rp->total)
		return;
	filled = (int)(w * rp->done / rp->total);
	fputc('\r', stderr);
	fputc('[', stderr);
	for (i = 0; i < w; i++)
		fputc(i < filled ? '#' : ' ', stderr);
	fprintf(stderr, "] %3d%% %zu/%zu, %zu flips", (int)(100 * rp->done /
	    rp->total), rp->done, rp->total, rp->changes != NULL ?
	    json_array_size(rp->changes) : 0);
	if (rp->done == rp->total)
		fputc('\n', stderr);
}

/*
 * Run REQ under SNAP: the verdict (a monitor policy's would_verdict), its
 * rule ids into RULES (a new array), or -1 with the error in *ERR.
 */
static int
run_one(const struct snapshot *snap, const struct request *req,
    json_t **rules, const char **err)
{
	struct result	 res;
	const struct match *m;
	size_t		 i;
	int		 v;

	result_init(&res);
	*rules = json_array();
	if (pipeline_run(snap, NULL, req, &res) == -1) {
		*err = res.error_code != NULL ? res.error_code : "internal";
		result_clear(&res);
		json_decref(*rules);
		*rules = NULL;
		return -1;
	}
	v = res.policy != NULL && res.policy->monitor ? res.would_verdict :
	    (int)res.verdict;
	for (i = 0; i < res.matches.n; i++) {
		m = &res.matches.v[i];
		if (!m->monitor && *rules != NULL)
			json_array_append_new(*rules, json_string(m->rule));
	}
	result_clear(&res);
	return v;
}

/* One text of FILE:LINENO: replay it under both and record a flip. */
static void
replay_one(struct replay *rp, const char *file, size_t lineno, json_t *rec)
{
	struct request	 req;
	json_t		*text = json_object_get(rec, "text"), *r0, *r1 = NULL;
	json_t		*o;
	const char	*err = NULL;
	int		 v0, v1;

	memset(&req, 0, sizeof(req));
	req.id = json_object_get(rec, "id");
	req.text = json_string_value(text);
	req.len = json_string_length(text);
	req.policy = rp->policy != NULL ? rp->policy :
	    json_string_value(json_object_get(rec, "policy"));
	v0 = run_one(rp->cur, &req, &r0, &err);
	v1 = v0 < 0 ? -1 : run_one(rp->cand, &req, &r1, &err);
	if (v0 < 0 || v1 < 0) {
		fprintf(stderr, "%s%s:%zu: %s\n", rp->progress ? "\n" : "",
		    file, lineno, err);
		rp->errors++;
		json_decref(r0);
		json_decref(r1);
		return;
	}
	rp->replayed++;
	if (v0 != v1) {
		rp->flips[v0][v1]++;
		o = json_pack("{s:s, s:I, s:O?, s:s, s:s, s:s?, s:o, s:o}",
		    "file", file, "line", (json_int_t)lineno, "id", req.id,
		    "old", verdict_name(v0), "new", verdict_name(v1),
		    "policy", req.policy, "old_rules", r0, "new_rules", r1);
		if (o == NULL || json_array_append_new(rp->changes, o) == -1)
			rp->errors++;
		return;
	}
	json_decref(r0);
	json_decref(r1);
}

static int
replay_file(struct replay *rp, const char *path)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0, lineno = 0;
	ssize_t		 n;
	json_t		*rec;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "modgate replay: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		rp->done++;
		rec = n <= REPLAY_MAX_LINE ? json_loadb(line, (size_t)n,
		    JSON_ALLOW_NUL, NULL) : NULL;
		if (rec == NULL || !json_is_string(json_object_get(rec,
		    "text")))
			rp->skipped++;
		else
			replay_one(rp, path, lineno, rec);
		json_decref(rec);
		progress(rp);
	}
	free(line);
	fclose(fp);
	return 0;
}

static void
print_rules(json_t *a)
{
	json_t	*v;
	size_t	 i;

	if (json_array_size(a) == 0)
		printf("-");
	json_array_foreach(a, i, v)
		printf("%s%s", i ? "," : "", json_string_value(v));
}

static void
report_text(struct replay *rp)
{
	json_t	*c;
	size_t	 i;
	int	 a, b;

	printf("%zu texts replayed, %zu lines skipped (no text), %zu errors; "
	    "%zu verdicts flip\n", rp->replayed, rp->skipped, rp->errors,
	    json_array_size(rp->changes));
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++)
			if (rp->flips[a][b] > 0)
				printf("%8zu  %s -> %s\n", rp->flips[a][b],
				    verdict_name(a), verdict_name(b));
	json_array_foreach(rp->changes, i, c) {
		printf("%s:%lld: ", json_string_value(json_object_get(c,
		    "file")), (long long)json_integer_value(json_object_get(c,
		    "line")));
		if (json_is_string(json_object_get(c, "id")))
			printf("[%s] ", json_string_value(json_object_get(c,
			    "id")));
		printf("%s -> %s", json_string_value(json_object_get(c, "old")),
		    json_string_value(json_object_get(c, "new")));
		printf(" (rules ");
		print_rules(json_object_get(c, "old_rules"));
		printf(" -> ");
		print_rules(json_object_get(c, "new_rules"));
		printf(")\n");
	}
}

static int
report_json(struct replay *rp)
{
	json_t	*o, *f;
	char	 key[32], *s;
	int	 a, b;

	if ((f = json_object()) == NULL)
		return -1;
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++)
			if (rp->flips[a][b] > 0) {
				snprintf(key, sizeof(key), "%s->%s",
				    verdict_name(a), verdict_name(b));
				json_object_set_new(f, key, json_integer(
				    (json_int_t)rp->flips[a][b]));
			}
	o = json_pack("{s:I, s:I, s:I, s:o, s:O}", "replayed",
	    (json_int_t)rp->replayed, "skipped", (json_int_t)rp->skipped,
	    "errors", (json_int_t)rp->errors, "flips", f, "changes",
	    rp->changes);
	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return -1;
	}
	printf("%s\n", s);
	free(s);
	json_decref(o);
	return 0;
}

int
cmd_replay(int argc, char **argv)
{
	struct replay	 rp;
	const char	*cur = NULL, *cand = NULL;
	int		 ch, i, quiet = 0, rv = 0;

	memset(&rp, 0, sizeof(rp));
	optind = 1;
	while ((ch = getopt(argc, argv, "c:jn:p:q")) != -1) {
		switch (ch) {
		case 'c':
			cur = optarg;
			break;
		case 'j':
			rp.json = 1;
			break;
		case 'n':
			cand = optarg;
			break;
		case 'p':
			rp.policy = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return replay_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (cur == NULL || cand == NULL || argc == 0)
		return replay_usage();
	if ((rp.cur = snapshot_load(cur, NULL)) == NULL ||
	    (rp.cand = snapshot_load(cand, NULL)) == NULL) {
		rv = EX_CONFIG;
		goto done;
	}
	transformer_set_threads(rp.cur->cfg->classifier.threads);
	if ((rp.changes = json_array()) == NULL) {
		rv = EX_OSERR;
		goto done;
	}
	rp.progress = !quiet && isatty(STDERR_FILENO);
	for (i = 0; rp.progress && i < argc; i++)
		rp.total += count_lines(argv[i]);
	for (i = 0; i < argc; i++)
		if (replay_file(&rp, argv[i]) == -1)
			rv = EX_NOINPUT;
	if (rp.json) {
		if (report_json(&rp) == -1)
			rv = EX_OSERR;
	} else
		report_text(&rp);
done:
	json_decref(rp.changes);
	snapshot_unref(rp.cur);
	snapshot_unref(rp.cand);
	return rv;
}
