/*
 * modelcost: the classifier's own CPU cost per answer, in-process, for the
 * bound bench/load.sh holds the daemon to.
 *
 *	modelcost -c CONFIG -f CORPUS.jsonl [-k field] [-b bytes] [-n count]
 *
 * Loads the model and the classifier settings (window, stride, batch,
 * threads) of CONFIG, takes the texts exactly as loadgen does (the first
 * 2000 non-empty FIELD strings of CORPUS, each cut to BYTES at a character
 * boundary), scores every (2000 / COUNT)-th of them with classifier_score
 * (BLAS threads set to classifier.threads) and prints "key value" lines: texts scored, mean bytes, and the process
 * CPU time per answer (all threads, BLAS included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "classifier.h"
#include "config.h"
#include "log.h"
#include "model.h"
#include "transformer.h"

#define MAX_TEXTS	2000		/* as in loadgen.c */

struct text {
	char	*s;
	size_t	 len;
};

static double
cpu_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
wall_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The texts of PATH as loadgen takes them.  Count in *N. */
static struct text *
load_texts(const char *path, const char *field, size_t bytes, size_t *n)
{
	struct text	*t;
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0, len;
	ssize_t		 r;
	json_t		*o, *v;

	*n = 0;
	if ((t = calloc(MAX_TEXTS, sizeof(*t))) == NULL ||
	    (f = fopen(path, "r")) == NULL) {
		perror(path);
		free(t);
		return NULL;
	}
	while (*n < MAX_TEXTS && (r = getline(&line, &cap, f)) > 0) {
		if ((o = json_loadb(line, (size_t)r, 0, NULL)) == NULL)
			continue;
		v = json_object_get(o, field);
		if (json_is_string(v) && json_string_length(v) > 0) {
			len = json_string_length(v);
			if (len > bytes)
				len = bytes;
			/* Cut back to a character boundary, as loadgen. */
			while (len > 0 && ((unsigned char)
			    json_string_value(v)[len] & 0xc0) == 0x80)
				len--;
			if ((t[*n].s = malloc(len + 1)) == NULL)
				exit(1);
			memcpy(t[*n].s, json_string_value(v), len);
			t[*n].s[len] = '\0';
			t[*n].len = len;
			(*n)++;
		}
		json_decref(o);
	}
	free(line);
	fclose(f);
	return t;
}

int
main(int argc, char **argv)
{
	struct config		*cfg;
	struct model		*m;
	struct classifier_out	 out;
	struct text		*t;
	const char		*conf = NULL, *corpus = NULL, *field = "output";
	size_t			 bytes = 1024, count = 200, n, i, step, done = 0;
	size_t			 total_bytes = 0;
	double			 c0, c1, w0, w1;
	int			 ch;

	while ((ch = getopt(argc, argv, "b:c:f:k:n:")) != -1) {
		switch (ch) {
		case 'b':
			bytes = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			conf = optarg;
			break;
		case 'f':
			corpus = optarg;
			break;
		case 'k':
			field = optarg;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (conf == NULL || corpus == NULL || bytes < 1 || count < 1)
		goto usage;
	log_init("modelcost", 1, 0);
	if ((cfg = config_load(conf)) == NULL)
		return 1;
	if ((m = model_load(cfg->classifier.model)) == NULL)
		return 1;
	/* BLAS threads as the config says (else OpenBLAS's default). */
	transformer_set_threads(cfg->classifier.threads);
	if ((t = load_texts(corpus, field, bytes, &n)) == NULL || n == 0)
		return 1;
	step = n / count > 0 ? n / count : 1;

	/* Warm up: the scratch slots and caches. */
	for (i = 0; i < n && i < 3 * step; i += step)
		if (classifier_score(m, &cfg->classifier, t[i].s, t[i].len,
		    &out) == -1)
			return 1;
	c0 = cpu_seconds();
	w0 = wall_seconds();
	for (i = 0; i < n; i += step) {
		if (classifier_score(m, &cfg->classifier, t[i].s, t[i].len,
		    &out) == -1)
			return 1;
		total_bytes += t[i].len;
		done++;
	}
	c1 = cpu_seconds();
	w1 = wall_seconds();
	printf("texts %zu\n", done);
	printf("mean_bytes %.0f\n", (double)total_bytes / (double)done);
	printf("window %d\nstride %d\nthreads %d\n", cfg->classifier.window,
	    cfg->classifier.stride, cfg->classifier.threads);
	printf("cpu_ms_per_answer %.3f\n", (c1 - c0) * 1e3 / (double)done);
	printf("wall_ms_per_answer %.3f\n", (w1 - w0) * 1e3 / (double)done);
	for (i = 0; i < n; i++)
		free(t[i].s);
	free(t);
	model_free(m);
	config_free(cfg);
	return 0;
usage:
	fprintf(stderr, "usage: modelcost -c config -f corpus.jsonl [-k field] "
	    "[-b bytes] [-n count]\n");
	return 64;
}
