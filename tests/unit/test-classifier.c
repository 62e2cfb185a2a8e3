/*
 * test-classifier: the C engine against PyTorch on the golden fixtures of
 * tests/data/model-golden and model-golden-cls (the same weights with
 * [CLS] pooling and a window-count term; written by train/golden.py):
 * token ids and byte spans exactly, logits of every window (alone and
 * batched) and the calibrated scores within 1e-4, the span of the best
 * window exactly.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "classifier.h"
#include "model-internal.h"

#define TOL	1e-4

static char	 dirs[2][4096];	/* of the golden models, once loaded */
static double	 max_logit_diff, max_batch_diff, max_score_diff;
static double	 max_ngram_diff;
static size_t	 n_cases, n_windows, n_tokens, n_ngram;

/*
 * The model of tests/data/NAME, loaded on the first call (before any test
 * runs threads), its directory then in *DIRP when DIRP is not NULL.
 */
static struct model *
golden_dir(const char *name, const char **dirp)
{
	static struct model *m[2];
	static const char *const names[2] = { "model-golden",
	    "model-golden-cls" };
	const char	*top = getenv("MODGATE_TOP");
	size_t		 i = strcmp(name, names[0]) == 0 ? 0 : 1;

	assert_string_equal(name, names[i]);
	if (m[i] == NULL) {
		snprintf(dirs[i], sizeof(dirs[i]), "%s/tests/data/%s",
		    top ? top : ".", name);
		m[i] = model_load(dirs[i]);
	}
	if (dirp != NULL)
		*dirp = dirs[i];
	return m[i];
}

static struct model *
golden(void)
{
	return golden_dir("model-golden", NULL);
}

static double
logits_diff(json_t *want, const float *got, size_t n)
{
	double	 d, max = 0;
	size_t	 j;

	assert_int_equal(json_array_size(want), n);
	for (j = 0; j < n; j++) {
		d = fabs(json_real_value(json_array_get(want, j)) - got[j]);
		if (!(d <= max))
			max = d;	/* NaN sticks */
	}
	return max;
}

static void
check_case(struct model *m, json_t *c, size_t lineno)
{
	const char	*text = json_string_value(json_object_get(c, "text"));
	size_t		 len = json_string_length(json_object_get(c, "text"));
	json_t		*ids = json_object_get(c, "ids");
	json_t		*spans = json_object_get(c, "spans");
	json_t		*wins = json_object_get(c, "windows"), *w;
	struct classifier_conf conf = { 0 };
	struct classifier_out out;
	struct model_slot *s;
	struct token	*toks;
	uint32_t	*bids;
	size_t		 n, i, k, start, wl, used, blens[MODEL_BATCH_MAX], nb;
	float		 logits[MAX_LABELS];
	double		 d;

	assert_non_null(text);
	toks = calloc(len + 1, sizeof(*toks));
	assert_non_null(toks);
	n = tokenizer_encode(m->tok, text, len, toks, len + 1);
	if (n != json_array_size(ids))
		fail_msg("line %zu: %zu tokens, want %zu", lineno, n,
		    json_array_size(ids));
	for (i = 0; i < n; i++) {
		json_t *sp = json_array_get(spans, i);
		if (toks[i].id != json_integer_value(json_array_get(ids, i)) ||
		    toks[i].start != json_integer_value(
		    json_array_get(sp, 0)) ||
		    toks[i].end != json_integer_value(
		    json_array_get(sp, 1)))
			fail_msg("line %zu: token %zu: id %u [%u, %u), want "
			    "%lld [%lld, %lld)", lineno, i, toks[i].id,
			    toks[i].start, toks[i].end,
			    json_integer_value(json_array_get(ids, i)),
			    json_integer_value(json_array_get(sp, 0)),
			    json_integer_value(json_array_get(sp, 1)));
	}
	n_tokens += n;

	/* Every window alone, then all of them in batches. */
	s = model_slot_get(m);
	assert_non_null(s);
	bids = calloc(MODEL_BATCH_MAX * m->cfg.max_positions, sizeof(*bids));
	assert_non_null(bids);
	nb = used = 0;
	for (k = 0; k < json_array_size(wins); k++) {
		w = json_array_get(wins, k);
		start = (size_t)json_integer_value(json_object_get(w, "start"));
		wl = (size_t)json_integer_value(json_object_get(w, "len"));
		assert_true(wl >= 1 && start + wl - 1 <= n);
		s->ids[0] = TOKEN_CLS;
		for (i = 1; i < wl; i++)
			s->ids[i] = toks[start + i - 1].id;
		assert_int_equal(transformer_forward(&m->cfg, &m->w, s->ts,
		    s->ids, &wl, 1, logits), 0);
		d = logits_diff(json_object_get(w, "logits"), logits,
		    m->n_labels);
		if (!(d <= TOL))
			fail_msg("line %zu: window %zu: |logit diff| %g", lineno,
			    k, d);
		if (d > max_logit_diff)
			max_logit_diff = d;
		n_windows++;

		/* The n-gram head's logits over the window's bytes. */
		if (json_object_get(w, "ngram") != NULL) {
			float	 zn[MAX_LABELS];
			size_t	 b0 = 0, b1 = 0;

			assert_true(m->has_ngram);
			if (wl > 1) {
				b0 = toks[start].start;
				b1 = toks[start + wl - 2].end;
			}
			ngram_logits(&m->ng, text + b0, b1 - b0, zn);
			d = logits_diff(json_object_get(w, "ngram"), zn,
			    m->n_labels);
			if (!(d <= TOL))
				fail_msg("line %zu: window %zu: |n-gram logit "
				    "diff| %g", lineno, k, d);
			if (d > max_ngram_diff)
				max_ngram_diff = d;
			n_ngram++;
		}

		memcpy(bids + used, s->ids, wl * sizeof(*bids));
		used += wl;
		blens[nb++] = wl;
		if (nb == MODEL_BATCH_MAX || k + 1 == json_array_size(wins)) {
			assert_int_equal(transformer_forward(&m->cfg, &m->w,
			    s->ts, bids, blens, nb, s->logits), 0);
			for (i = 0; i < nb; i++) {
				w = json_array_get(wins, k + 1 - nb + i);
				d = logits_diff(json_object_get(w, "logits"),
				    s->logits + i * m->n_labels, m->n_labels);
				if (!(d <= TOL))
					fail_msg("line %zu: batched window "
					    "%zu: |logit diff| %g", lineno,
					    k + 1 - nb + i, d);
				if (d > max_batch_diff)
					max_batch_diff = d;
			}
			nb = used = 0;
		}
	}
	free(bids);
	model_slot_put(m, s);

	/* The whole text through classifier_score. */
	conf.window = (int)json_integer_value(json_object_get(c, "window"));
	conf.stride = (int)json_integer_value(json_object_get(c, "stride"));
	conf.batch_max = 3;
	assert_int_equal(classifier_score(m, &conf, text, len, &out), 0);
	d = logits_diff(json_object_get(c, "scores"), out.scores, m->n_labels);
	if (!(d <= TOL))
		fail_msg("line %zu: |score diff| %g", lineno, d);
	if (d > max_score_diff)
		max_score_diff = d;
	for (i = m->n_labels; i < MAX_LABELS; i++)
		assert_true(out.scores[i] == 0);
	if (out.span_start != (size_t)json_integer_value(json_array_get(
	    json_object_get(c, "span"), 0)) ||
	    out.span_end != (size_t)json_integer_value(json_array_get(
	    json_object_get(c, "span"), 1)))
		fail_msg("line %zu: span [%zu, %zu) differs", lineno,
		    out.span_start, out.span_end);
	free(toks);
	n_cases++;
}

/* Every case of tests/data/NAME/cases.jsonl; at least MIN of them. */
static void
run_golden(const char *name, size_t min)
{
	const char	*dir;
	struct model	*m = golden_dir(name, &dir);
	char		 path[4200], *line = NULL;
	size_t		 cap = 0, lineno = 0;
	json_error_t	 jerr;
	json_t		*c;
	FILE		*f;
	int		 pass;

	assert_non_null(m);
	n_cases = n_windows = n_tokens = n_ngram = 0;
	max_logit_diff = max_batch_diff = max_score_diff = 0;
	max_ngram_diff = 0;
	snprintf(path, sizeof(path), "%s/cases.jsonl", dir);
	/*
	 * Twice: one BLAS thread (a window at a time, in OpenBLAS's
	 * small-matrix kernels where it has them), then two (whole batches
	 * in each product, the general path).
	 */
	for (pass = 0; pass < 2; pass++) {
		transformer_set_threads(pass + 1);
		f = fopen(path, "r");
		assert_non_null(f);
		for (lineno = 0; getline(&line, &cap, f) != -1; ) {
			lineno++;
			c = json_loads(line, 0, &jerr);
			if (c == NULL)
				fail_msg("%s:%zu: %s", path, lineno,
				    jerr.text);
			check_case(m, c, lineno);
			json_decref(c);
		}
		fclose(f);
	}
	transformer_set_threads(1);
	free(line);
	assert_true(n_cases >= 2 * min);
	/* The golden models have an n-gram head: every window checks it. */
	assert_true(m->has_ngram);
	assert_int_equal(n_ngram, n_windows);
	printf("%s: %zu cases, %zu tokens, %zu windows; max |C - torch| "
	    "logits %.3g (alone) %.3g (batched), n-gram logits %.3g, "
	    "scores %.3g\n", name, n_cases, n_tokens, n_windows,
	    max_logit_diff, max_batch_diff, max_ngram_diff, max_score_diff);
}

static void
test_golden(void **state)
{
	run_golden("model-golden", 500);
}

/* [CLS] pooling (the last layer for [CLS] alone), window-count term. */
static void
test_golden_cls(void **state)
{
	struct model	*m = golden_dir("model-golden-cls", NULL);
	size_t		 j, sloped = 0;

	assert_non_null(m);
	assert_true(m->cfg.pool_cls);
	for (j = 0; j < m->n_labels; j++)
		sloped += m->ng.window_slope[j] > 0;
	assert_int_equal(sloped, m->n_labels);
	run_golden("model-golden-cls", 130);
}

/*
 * An n-gram head of context "text": every window combines its own
 * transformer logits with the head's logits over the whole text.
 */
static void
test_whole_text(void **state)
{
	const char	*dir;
	struct model	*m = golden_dir("model-golden", &dir);
	struct classifier_conf conf = { 0 };
	struct classifier_out out;
	char		 path[4200], *line = NULL;
	size_t		 cap = 0, n = 0, k, j, len;
	float		 zn[MAX_LABELS], zt[MAX_LABELS], p[MAX_LABELS];
	float		 want[MAX_LABELS];
	json_t		*c, *wins, *lg;
	const char	*text;
	double		 d, max = 0;
	FILE		*f;

	assert_non_null(m);
	snprintf(path, sizeof(path), "%s/cases.jsonl", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	m->ng.whole_text = 1;
	while (n < 200 && getline(&line, &cap, f) != -1) {
		c = json_loads(line, 0, NULL);
		assert_non_null(c);
		text = json_string_value(json_object_get(c, "text"));
		len = json_string_length(json_object_get(c, "text"));
		wins = json_object_get(c, "windows");
		ngram_logits(&m->ng, text, len, zn);
		memset(want, 0, sizeof(want));
		for (k = 0; k < json_array_size(wins); k++) {
			lg = json_object_get(json_array_get(wins, k), "logits");
			for (j = 0; j < m->n_labels; j++)
				zt[j] = (float)json_real_value(
				    json_array_get(lg, j));
			ngram_combine(&m->ng, zt, zn, p);
			for (j = 0; j < m->n_labels; j++)
				if (p[j] > want[j])
					want[j] = p[j];
		}
		conf.window = (int)json_integer_value(json_object_get(c,
		    "window"));
		conf.stride = (int)json_integer_value(json_object_get(c,
		    "stride"));
		conf.batch_max = 4;
		assert_int_equal(classifier_score(m, &conf, text, len, &out),
		    0);
		for (j = 0; j < m->n_labels; j++) {
			d = fabs(out.scores[j] - want[j]);
			if (!(d <= TOL))
				fail_msg("case %zu: label %zu: %g, want %g", n,
				    j, out.scores[j], want[j]);
			if (d > max)
				max = d;
		}
		json_decref(c);
		n++;
	}
	m->ng.whole_text = 0;
	free(line);
	fclose(f);
	assert_int_equal(n, 200);
	printf("whole-text n-gram context: %zu cases, max |score diff| %.3g\n",
	    n, max);
}

static void
test_labels(void **state)
{
	struct model	*m = golden();
	const char *const *labels;

	assert_non_null(m);
	assert_int_equal(model_labels(m, &labels), 6);
	assert_string_equal(labels[0], "hate");
	assert_string_equal(labels[5], "jailbreak");
}

/* Windows and strides the config may hold that the model cannot. */
static void
test_geometry(void **state)
{
	struct model	*m = golden();
	struct classifier_conf conf = { .window = 1000, .stride = 1000,
	    .batch_max = 1000 };
	struct classifier_out out;
	char		*text;
	size_t		 i;

	assert_non_null(m);
	/* 3000 words: many windows, nothing skipped even with stride huge */
	text = malloc(3000 * 4 + 1);
	assert_non_null(text);
	for (i = 0; i < 3000; i++)
		memcpy(text + 4 * i, "the ", 4);
	memcpy(text + 2990 * 4, "zzz!", 4);
	assert_int_equal(classifier_score(m, &conf, text, 3000 * 4, &out), 0);
	assert_true(out.span_end <= 3000 * 4);
	assert_true(out.span_start < out.span_end);
	conf.window = 1;
	assert_int_equal(classifier_score(m, &conf, text, 12, &out), -1);
	conf.window = 2;
	conf.stride = 0;
	conf.batch_max = 0;
	assert_int_equal(classifier_score(m, &conf, text, 12, &out), 0);
	free(text);
}

/* Threads scoring at once get what one thread gets. */
#define NTHREADS	4
#define NTEXTS		40

static const char *texts[NTEXTS];
static struct classifier_out want[NTEXTS];

/*
 * Equal up to rounding: a window may share its forward pass with windows
 * of other calls, and BLAS may block a larger product differently.
 */
static int
same(const struct classifier_out *a, const struct classifier_out *b)
{
	size_t	 j;

	for (j = 0; j < MAX_LABELS; j++)
		if (fabsf(a->scores[j] - b->scores[j]) > 1e-5f)
			return 0;
	return a->span_start == b->span_start && a->span_end == b->span_end;
}

static void *
scorer(void *arg)
{
	struct classifier_conf conf = { .window = 16, .stride = 8,
	    .batch_max = 4 };
	struct classifier_out out;
	size_t		 i, r;
	intptr_t	 bad = 0;

	for (r = 0; r < 5; r++)
		for (i = 0; i < NTEXTS; i++) {
			if (classifier_score(golden(), &conf, texts[i],
			    strlen(texts[i]), &out) == -1 || !same(&out,
			    &want[i]))
				bad++;
		}
	return (void *)bad;
}

static void
test_threads(void **state)
{
	struct classifier_conf conf = { .window = 16, .stride = 8,
	    .batch_max = 4 };
	char		 buf[256];
	pthread_t	 th[NTHREADS];
	void		*ret;
	size_t		 i;

	assert_non_null(golden());
	for (i = 0; i < NTEXTS; i++) {
		snprintf(buf, sizeof(buf), "text %zu: the quick brown fox "
		    "jumps over the lazy dog %zu times, caf\xc3\xa9 \xf0\x9f"
		    "\x98\x80 and again and again until the window ends %zu",
		    i, i * 7, i * i);
		texts[i] = strdup(buf);
		assert_int_equal(classifier_score(golden(), &conf, texts[i],
		    strlen(texts[i]), &want[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, scorer, NULL), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_int_equal((intptr_t)ret, 0);
	}
	printf("threads: %llu forward passes, %llu shared by calls\n",
	    (unsigned long long)golden()->n_passes,
	    (unsigned long long)golden()->n_shared);
	for (i = 0; i < NTEXTS; i++)
		free((char *)texts[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_golden_cls),
		cmocka_unit_test(test_whole_text),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_threads),
	};
	int	 rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	model_free(golden());
	model_free(golden_dir("model-golden-cls", NULL));
	return rc;
}
