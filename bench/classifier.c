/*
 * bench/classifier: the C forward pass on a model directory.
 *
 *	classifier MODEL_DIR THREADS [TEXT_FILE]
 *
 * Prints "key value" lines: the measured OpenBLAS sgemm peak (a large
 * square product, one of the model's own shape, and the same product as
 * the engine cuts it for OpenBLAS's small-matrix kernels), the latency of one
 * 128-token window, the throughput of batches of 16 windows and the
 * fraction of the sgemm peak it reaches, and the CPU time classifier_score
 * takes for TEXT_FILE (a ~1 KB answer) with window 128, stride 96.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "classifier.h"
#include "log.h"
#include "model-internal.h"

static double
now(clockid_t clk)
{
	struct timespec	 ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GFLOP/s of C[m, n] = A[m, k] B[n, k]^T, best of a few runs. */
static double
sgemm_gflops(int m, int n, int k)
{
	float	*a, *b, *c;
	double	 t, best = 1e9;
	int	 i, r, reps;

	a = malloc(sizeof(float) * (size_t)m * k);
	b = malloc(sizeof(float) * (size_t)n * k);
	c = malloc(sizeof(float) * (size_t)m * n);
	if (a == NULL || b == NULL || c == NULL)
		fatal("malloc");
	for (i = 0; i < m * k; i++)
		a[i] = (float)(i % 7) * 0.1f;
	for (i = 0; i < n * k; i++)
		b[i] = (float)(i % 5) * 0.1f;
	reps = (int)(2e9 / (2.0 * m * n * k)) + 1;
	for (r = 0; r < 5; r++) {
		t = now(CLOCK_MONOTONIC);
		for (i = 0; i < reps; i++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    n, k, 1.0f, a, k, b, k, 0.0f, c, n);
		t = (now(CLOCK_MONOTONIC) - t) / reps;
		if (t < best)
			best = t;
	}
	free(a);
	free(b);
	free(c);
	return 2.0 * m * n * k / best / 1e9;
}

/*
 * GFLOP/s of the model's widest product, W[m, k] X[k, n], for NB windows
 * of n tokens as the engine runs it with OpenBLAS's small-matrix kernels:
 * one window at a time, in blocks of rows with M N K <= 10^6.
 */
static double
sgemm_blocks_gflops(int m, int k, int n, int nb)
{
	float	*w, *x, *c;
	double	 t, best = 1e9;
	int	 i, r, b, reps, mc, i0, mi;

	mc = 1000000 / (n * k);
	mc = mc >= 16 ? mc & ~15 : mc >= 8 ? 8 : 1;
	w = malloc(sizeof(float) * (size_t)m * k);
	x = malloc(sizeof(float) * (size_t)k * n * nb);
	c = malloc(sizeof(float) * (size_t)m * n * nb);
	if (w == NULL || x == NULL || c == NULL)
		fatal("malloc");
	for (i = 0; i < m * k; i++)
		w[i] = (float)(i % 7) * 0.1f;
	for (i = 0; i < k * n * nb; i++)
		x[i] = (float)(i % 5) * 0.1f;
	reps = (int)(1e9 / (2.0 * m * n * k * nb)) + 1;
	for (r = 0; r < 5; r++) {
		t = now(CLOCK_MONOTONIC);
		for (i = 0; i < reps; i++)
			for (b = 0; b < nb; b++)
				for (i0 = 0; i0 < m; i0 += mc) {
					mi = m - i0 < mc ? m - i0 : mc;
					cblas_sgemm(CblasRowMajor,
					    CblasNoTrans, CblasNoTrans, mi, n,
					    k, 1.0f, w + (size_t)i0 * k, k,
					    x + (size_t)b * k * n, n, 0.0f,
					    c + ((size_t)b * m + i0) * n, n);
				}
		t = (now(CLOCK_MONOTONIC) - t) / reps;
		if (t < best)
			best = t;
	}
	free(w);
	free(x);
	free(c);
	return 2.0 * m * n * k * nb / best / 1e9;
}

/*
 * Seconds of clock CLK per forward pass of NW windows of S, best of 5
 * runs of REPS passes.
 */
static double
time_forward(struct model *m, struct model_slot *s, const size_t *lens,
    size_t nw, int reps, clockid_t clk)
{
	double	 t, best = 1e9;
	int	 i, r;

	for (r = 0; r < 5; r++) {
		t = now(clk);
		for (i = 0; i < reps; i++)
			transformer_forward(&m->cfg, &m->w, s->ts, s->ids,
			    lens, nw, s->logits);
		t = (now(clk) - t) / reps;
		if (t < best)
			best = t;
	}
	return best;
}

/* Concurrent calls on short texts: does coalescing raise throughput? */
struct conc {
	struct model	*m;
	const struct classifier_conf *conf;
	const char	*text;
	size_t		 len;
	int		 calls;
};

static void *
conc_run(void *arg)
{
	struct conc	*c = arg;
	struct classifier_out out;
	int		 i;

	for (i = 0; i < c->calls; i++)
		classifier_score(c->m, c->conf, c->text, c->len, &out);
	return NULL;
}

static void
concurrent(struct model *m, const struct classifier_conf *conf,
    const char *text, size_t len, int nthreads, int calls)
{
	pthread_t	 th[64];
	struct conc	 c = { m, conf, text, len, calls };
	double		 t, cpu;
	uint64_t	 passes = m->n_passes, shared = m->n_shared;
	int		 i;

	t = now(CLOCK_MONOTONIC);
	cpu = now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, conc_run, &c);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t = now(CLOCK_MONOTONIC) - t;
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	passes = m->n_passes - passes;
	shared = m->n_shared - shared;
	printf("conc%d_calls_per_s %.1f\n", nthreads,
	    nthreads * calls / t);
	printf("conc%d_cpu_ms_per_call %.3f\n", nthreads,
	    cpu * 1e3 / (nthreads * calls));
	printf("conc%d_windows_per_pass %.2f\n", nthreads,
	    (double)(nthreads * calls) / (double)passes);
	printf("conc%d_shared_passes %.3f\n", nthreads,
	    (double)shared / (double)passes);
}

int
main(int argc, char **argv)
{
	struct model	*m;
	struct model_slot *s;
	struct classifier_conf conf = { .enabled = 1, .window = 128,
	    .stride = 96, .batch_max = 16, .threads = 1 };
	struct classifier_out out;
	size_t		 T, i, b, lens[MODEL_BATCH_MAX], nb = MODEL_BATCH_MAX;
	double		 t, best, flops, peak, peak_sq, peak_small, cpu;
	char		*text = NULL;
	size_t		 tlen = 0;
	int		 threads, r, reps;
	FILE		*f;

	if (argc < 3) {
		fprintf(stderr, "usage: classifier MODEL_DIR THREADS "
		    "[TEXT_FILE]\n");
		return 64;
	}
	log_init("bench-classifier", 1, 0);
	threads = atoi(argv[2]);
	transformer_set_threads(threads);
	if ((m = model_load(argv[1])) == NULL)
		return 1;
	T = m->cfg.max_positions < 128 ? m->cfg.max_positions : 128;

	peak_sq = sgemm_gflops(1024, 1024, 1024);
	/* the model's largest product, batched: [16*T, d] x [d_ff, d]^T */
	peak = sgemm_gflops((int)(nb * T), (int)m->cfg.d_ff,
	    (int)m->cfg.d_model);
	peak_small = sgemm_blocks_gflops((int)m->cfg.d_ff,
	    (int)m->cfg.d_model, (int)T, (int)nb);
	printf("threads %d\n", threads);
	printf("sgemm_gflops_1024 %.1f\n", peak_sq);
	printf("sgemm_gflops_model %.1f\n", peak);
	printf("sgemm_gflops_blocks %.1f\n", peak_small);

	if ((s = model_slot_get(m)) == NULL)
		return 1;
	srand(1);
	for (i = 0; i < nb * T; i++)
		s->ids[i] = i % T == 0 ? TOKEN_CLS :
		    4 + (uint32_t)rand() % (uint32_t)(m->cfg.vocab_size - 4);
	for (b = 0; b < nb; b++)
		lens[b] = T;

	/* one window, best of 5 runs of reps, wall and CPU time */
	transformer_forward(&m->cfg, &m->w, s->ts, s->ids, lens, 1, s->logits);
	best = time_forward(m, s, lens, 1, 50, CLOCK_MONOTONIC);
	cpu = time_forward(m, s, lens, 1, 50, CLOCK_PROCESS_CPUTIME_ID);
	printf("window_tokens %zu\n", T);
	printf("single_ms %.3f\n", best * 1e3);
	printf("single_cpu_ms %.3f\n", cpu * 1e3);
	flops = transformer_flops(&m->cfg, T);
	printf("single_gflops %.1f\n", flops / best / 1e9);
	printf("single_peak_fraction %.3f\n", flops / best / 1e9 /
	    (peak > peak_small ? peak : peak_small));

	/* batches of 16 windows */
	best = time_forward(m, s, lens, nb, 8, CLOCK_MONOTONIC);
	cpu = time_forward(m, s, lens, nb, 8, CLOCK_PROCESS_CPUTIME_ID);
	/* the peak again, in case load varied: the better of the two */
	t = sgemm_gflops((int)(nb * T), (int)m->cfg.d_ff,
	    (int)m->cfg.d_model);
	if (t > peak)
		peak = t;
	printf("sgemm_gflops_model_after %.1f\n", t);
	/* the fraction of the best product rate measured, either path */
	if (peak_small > peak)
		peak = peak_small;
	printf("batch_windows %zu\n", nb);
	printf("batch_windows_per_s %.1f\n", nb / best);
	printf("batch_cpu_ms_per_window %.3f\n", cpu * 1e3 / nb);
	printf("batch_gflops %.1f\n", flops * nb / best / 1e9);
	printf("batch_peak_fraction %.3f\n", flops * nb / best / 1e9 / peak);
	model_slot_put(m, s);

	if (argc > 3 && (f = fopen(argv[3], "r")) != NULL) {
		size_t cap = 0;
		ssize_t n = getdelim(&text, &cap, '\0', f);
		fclose(f);
		tlen = n > 0 ? (size_t)n : 0;
	}
	if (tlen > 0) {
		reps = 20;
		classifier_score(m, &conf, text, tlen, &out);
		best = 1e9;
		for (r = 0; r < 5; r++) {
			cpu = now(CLOCK_PROCESS_CPUTIME_ID);
			for (i = 0; i < (size_t)reps; i++)
				classifier_score(m, &conf, text, tlen, &out);
			cpu = (now(CLOCK_PROCESS_CPUTIME_ID) - cpu) / reps;
			if (cpu < best)
				best = cpu;
		}
		printf("text_bytes %zu\n", tlen);
		printf("text_cpu_ms %.3f\n", best * 1e3);
		/* short answers (~200 bytes, one window each) */
		tlen = tlen > 200 ? 200 : tlen;
		while (tlen > 0 && (text[tlen] & 0xc0) == 0x80)
			tlen--;
		concurrent(m, &conf, text, tlen, threads, 300);
		concurrent(m, &conf, text, tlen, threads * 4, 75);
		free(text);
	}
	model_free(m);
	return 0;
}
