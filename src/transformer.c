/* transformer: see include/transformer.h. */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#include "log.h"
#include "transformer.h"

/*
 * Layout.  Activations are feature-major: a buffer [rows, n] has one
 * column per token of the windows in flight (row stride n), so that every
 * product is W [out, in] times X [in, n] with the weights as PyTorch
 * stores them, attention reads q, k and v in place (no transposes, no
 * copies), and layer norm, softmax, bias and GELU run along rows, one
 * SIMD lane per token, with no horizontal sums.
 */
#define LN_BLOCK	64	/* columns per layer norm block (L1-sized) */
#define LANES		8

struct transformer_state {
	size_t	 max_windows;		/* B */
	size_t	 max_tokens;		/* N = B * max_positions */
	int	 small_kernels;		/* see blas_small_kernels() */
	float	*x;			/* [d, n] residual stream */
	float	*xn;			/* [d, n] LayerNorm out, attention out */
	float	*qkv;			/* [3d, n] q, k, v rows */
	float	*hb;			/* [d_ff, n] feed-forward hidden */
	float	*att;			/* [T, T] one head: att[key, query] */
	float	*colv;			/* [2, max(T, LN_BLOCK)] per column */
	float	*pooled;		/* [d] one window's final summary */
	float	*cls;			/* [4, d, B] the last layer's [CLS]
					   columns, with [CLS] pooling */
};

static atomic_int blas_threads;		/* 0 until set */

/*
 * OpenBLAS's x86-64 builds for AVX-512 cores (0.3.17 and later) run an
 * sgemm whose M N K is at most 10^6 (and that is not transposed on both
 * sides) in small-matrix kernels that read the operands in place, without
 * the packing copies of the general path, 10 to 15% faster here.  Products
 * are then cut into blocks that fit under that bound.  Other cores have no
 * such kernels, and there the blocks would only add packing: one call.
 */
#define SMALL_MNK	1e6

static int
blas_small_kernels(void)
{
	static const char *const cores[] = { "SkylakeX", "Cooperlake",
	    "SapphireRapids" };
	const char	*name = openblas_get_corename();
	size_t		 i;

	for (i = 0; name != NULL && i < sizeof(cores) / sizeof(cores[0]);
	    i++)
		if (strcasecmp(name, cores[i]) == 0)
			return 1;
	return 0;
}

static void *
scratch(size_t n, int *bad)
{
	void	*p;

	if (*bad || n > SIZE_MAX / sizeof(float) ||
	    posix_memalign(&p, 64, (n > 0 ? n : 16) * sizeof(float))
	    != 0) {
		*bad = 1;
		return NULL;
	}
	return p;
}

struct transformer_state *
transformer_state_new(const struct transformer_config *c, size_t max_windows)
{
	struct transformer_state *s;
	size_t		 n, d = c->d_model, t = c->max_positions;
	size_t		 cv = t > LN_BLOCK ? t : LN_BLOCK;
	int		 bad = 0;

	if (max_windows == 0 || t == 0 || max_windows > SIZE_MAX / t / 4 /
	    (c->d_ff + 4 * d) || max_windows * t > INT_MAX / 4 ||
	    c->d_ff > INT_MAX / 4 || d > INT_MAX / 4) {
		log_warnx("transformer: scratch size overflows");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("transformer");
		return NULL;
	}
	s->max_windows = max_windows;
	s->max_tokens = n = max_windows * t;
	s->small_kernels = blas_small_kernels();
	s->x = scratch(d * n, &bad);
	s->xn = scratch(d * n, &bad);
	s->qkv = scratch(3 * d * n, &bad);
	s->hb = scratch(c->d_ff * n, &bad);
	s->att = scratch(t * t, &bad);
	s->colv = scratch(2 * cv, &bad);
	s->pooled = scratch(d, &bad);
	s->cls = scratch(c->pool_cls ? 4 * d * max_windows : 0, &bad);
	if (bad) {
		log_warnx("transformer: no memory for scratch of %zu windows",
		    max_windows);
		transformer_state_free(s);
		return NULL;
	}
	return s;
}

void
transformer_state_free(struct transformer_state *s)
{
	if (s == NULL)
		return;
	free(s->x);
	free(s->xn);
	free(s->qkv);
	free(s->hb);
	free(s->att);
	free(s->colv);
	free(s->pooled);
	free(s->cls);
	free(s);
}

size_t
transformer_state_windows(const struct transformer_state *s)
{
	return s->max_windows;
}

static atomic_int threads_set;

void
transformer_set_threads(int n)
{
	n = n < 1 ? 1 : n;
	atomic_store(&threads_set, 1);
	atomic_store(&blas_threads, n);
	openblas_set_num_threads(n);
}

void
transformer_default_threads(void)
{
	if (atomic_exchange(&threads_set, 1) == 0) {
		atomic_store(&blas_threads, 1);
		openblas_set_num_threads(1);
	}
}

double
transformer_flops(const struct transformer_config *c, size_t t)
{
	double	 d = (double)c->d_model, f = (double)c->d_ff, T = (double)t;
	/* qkv, out, up, down; q k^T and a v */
	double	 layer = 2 * T * d * (3 * d + d + 2 * f) + 4 * T * T * d;
	double	 head = 2 * d * (double)c->n_labels;

	if (c->pool_cls)	/* the last layer: k, v for all; the rest once */
		return ((double)c->n_layers - 1) * layer + 2 * T * d * 2 * d +
		    2 * d * (2 * d + 2 * f) + 4 * T * d + head;
	return (double)c->n_layers * layer + head;
}

/*
 * The element-wise kernels below are written so that the compiler turns
 * them into SIMD code: no calls inside loops, the inner loop along a row
 * (one lane per token).  With GCC on x86-64 each is compiled for AVX-512,
 * AVX2+FMA and the baseline, chosen at load time by the CPU (ifunc), with
 * a * b + c fused where the CPU has FMA (-std=c11 alone would forbid it).
 */
/*
 * Not under ThreadSanitizer: its instrumented ifunc resolvers would run at
 * relocation, before the TSan runtime is up (a crash at start).
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define KERNEL	__attribute__((target_clones("arch=x86-64-v4", \
		    "arch=x86-64-v3", "default"), \
		    optimize("O3", "fp-contract=fast")))
#else
#define KERNEL
#endif

/* Sum of x[n] over LANES partial sums. */
static inline float
sum8(const float *x, size_t n)
{
	float	 acc[LANES] = { 0 }, s = 0;
	size_t	 i, k;

	for (i = 0; i + LANES <= n; i += LANES)
		for (k = 0; k < LANES; k++)
			acc[k] += x[i + k];
	for (; i < n; i++)
		s += x[i];
	for (k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

/* Sum of a[i] b[i] over LANES partial sums. */
static inline float
dot8(const float *a, const float *b, size_t n)
{
	float	 acc[LANES] = { 0 }, s = 0;
	size_t	 i, k;

	for (i = 0; i + LANES <= n; i += LANES)
		for (k = 0; k < LANES; k++)
			acc[k] += a[i + k] * b[i + k];
	for (; i < n; i++)
		s += a[i] * b[i];
	for (k = 0; k < LANES; k++)
		s += acc[k];
	return s;
}

/*
 * out[d, n] = LN(x[d, n]) down each column, with weight w[d] and bias
 * b[d].  When ADD is not NULL, x[i, *] += add[i] first (written back):
 * the bias of the product that last added into the residual stream.
 * MEAN and RSTD hold LN_BLOCK floats each.
 */
KERNEL static void
layernorm(float *out, float *x, const float *add, const float *w,
    const float *b, size_t d, size_t n, float eps, float *mean, float *rstd)
{
	size_t		 j0, jn, i, j;
	float		*xr, *o, dv, wi, bi;

	for (j0 = 0; j0 < n; j0 += LN_BLOCK) {
		jn = n - j0 < LN_BLOCK ? n - j0 : LN_BLOCK;
		for (j = 0; j < jn; j++)
			mean[j] = rstd[j] = 0;
		for (i = 0; i < d; i++) {
			xr = x + i * n + j0;
			if (add != NULL)
				for (j = 0, bi = add[i]; j < jn; j++)
					xr[j] += bi;
			for (j = 0; j < jn; j++)
				mean[j] += xr[j];
		}
		for (j = 0; j < jn; j++)
			mean[j] /= (float)d;
		for (i = 0; i < d; i++) {
			xr = x + i * n + j0;
			for (j = 0; j < jn; j++) {
				dv = xr[j] - mean[j];
				rstd[j] += dv * dv;
			}
		}
		for (j = 0; j < jn; j++)
			rstd[j] = 1.0f / sqrtf(rstd[j] / (float)d + eps);
		for (i = 0; i < d; i++) {
			xr = x + i * n + j0;
			o = out + i * n + j0;
			wi = w[i];
			bi = b[i];
			for (j = 0; j < jn; j++)
				o[j] = (xr[j] - mean[j]) * rstd[j] * wi + bi;
		}
	}
}

/* Every row i of out[rows, n] = b[i] */
KERNEL static void
fill_rows(float *out, const float *b, size_t rows, size_t n)
{
	size_t	 i, j;
	float	 bi;

	for (i = 0; i < rows; i++)
		for (j = 0, bi = b[i]; j < n; j++)
			out[i * n + j] = bi;
}

/*
 * h[rows, n] = gelu(h + b[row]), GELU's exact (erf) form
 * 0.5 x (1 + erf(x / sqrt 2)).  erf is a rational minimax fit on [-4, 4]
 * (the one of Eigen and XLA), within 5e-7 of the true erf over all floats;
 * beyond 4, erf is +-1 in single precision.
 */
KERNEL static void
bias_gelu(float *h, const float *b, size_t rows, size_t n)
{
	size_t	 i, j;
	float	*r, bi, x, hx, z, z2, p, q;

	for (i = 0; i < rows; i++) {
		r = h + i * n;
		bi = b[i];
		for (j = 0; j < n; j++) {
			x = r[j] + bi;
			hx = 0.5f * x;
			z = x * (float)M_SQRT1_2;
			z = z > 4.0f ? 4.0f : z;
			z = z < -4.0f ? -4.0f : z;
			z2 = z * z;
			p = -2.72614225801306e-10f;
			p = p * z2 + 2.77068142495902e-08f;
			p = p * z2 + -2.10102402082508e-06f;
			p = p * z2 + -5.69250639462346e-05f;
			p = p * z2 + -7.34990630326855e-04f;
			p = p * z2 + -2.95459980854025e-03f;
			p = p * z2 + -1.60960333262415e-02f;
			q = -1.45660718464996e-05f;
			q = q * z2 + -2.13374055278905e-04f;
			q = q * z2 + -1.68282697438203e-03f;
			q = q * z2 + -7.37332916720468e-03f;
			q = q * z2 + -1.42647390514189e-02f;
			r[j] = hx + hx * (z * p / q);
		}
	}
}

/*
 * 2^x for x <= 0 (softmax inputs in base 2 after subtracting the
 * maximum): 2^n built in the exponent bits times the Cephes exp2f
 * polynomial for 2^r, |r| <= 1/2; relative error about 2e-7.  Below -126
 * the result is flushed to 2^-126.
 */
static inline float
exp2_neg(float x)
{
	float		 n, r, y, f;
	int32_t		 e;
	uint32_t	 bits;

	x = x < -126.0f ? -126.0f : x;
	n = (x + 12582912.0f) - 12582912.0f;	/* round to nearest */
	r = x - n;
	y = 1.535336188319500e-4f;
	y = y * r + 1.339887440266574e-3f;
	y = y * r + 9.618437357674640e-3f;
	y = y * r + 5.550332471162809e-2f;
	y = y * r + 2.402264791363012e-1f;
	y = y * r + 6.931472028550421e-1f;
	y = y * r + 1.0f;
	e = (int32_t)n + 127;
	bits = (uint32_t)e << 23;
	memcpy(&f, &bits, sizeof(f));
	return y * f;
}

/*
 * Softmax down every column of att[t, t] (one query a column, one key a
 * row; scores in base 2), unnormalised: att = 2^(att - column max), and
 * INV[t] = 1 / the
 * column sums, applied later to the attention output (fewer values).
 * MAX holds t floats.
 */
KERNEL static void
softmax_cols(float *att, size_t t, float *max, float *inv)
{
	size_t	 k, q;
	float	*r, e;

	memcpy(max, att, t * sizeof(float));
	for (k = 1; k < t; k++)
		for (q = 0, r = att + k * t; q < t; q++)
			max[q] = r[q] > max[q] ? r[q] : max[q];
	for (q = 0; q < t; q++)
		inv[q] = 0;
	for (k = 0; k < t; k++)
		for (q = 0, r = att + k * t; q < t; q++) {
			e = exp2_neg(r[q] - max[q]);
			r[q] = e;
			inv[q] += e;
		}
	for (q = 0; q < t; q++)
		inv[q] = 1.0f / inv[q];
}

/*
 * Softmax of one query's scores att[t] (base 2), unnormalised, in place:
 * att = 2^(att - max).  Returns 1 / their sum.
 */
KERNEL static float
softmax_vec(float *att, size_t t)
{
	size_t	 k;
	float	 max = att[0], sum = 0;

	for (k = 1; k < t; k++)
		max = att[k] > max ? att[k] : max;
	for (k = 0; k < t; k++) {
		att[k] = exp2_neg(att[k] - max);
		sum += att[k];
	}
	return 1.0f / sum;
}

/* o[i, j] = o[i, j] s[j] + b[i] for o[rows, t] (row stride ld) */
KERNEL static void
scale_cols(float *o, const float *s, const float *b, size_t rows, size_t t,
    size_t ld)
{
	size_t	 i, j;
	float	 bi;

	for (i = 0; i < rows; i++)
		for (j = 0, bi = b[i]; j < t; j++)
			o[i * ld + j] = o[i * ld + j] * s[j] + bi;
}

/*
 * out[m, n] = w[m, k] in[k, n] + beta out, in blocks that OpenBLAS runs
 * in its small-matrix kernels when SMALL is set (all columns of a window
 * at once, as many rows of W as fit), else in one call.
 */
static void
matmul(int small, float *out, const float *w, const float *in, size_t m,
    size_t k, size_t n, float beta)
{
	size_t	 mc = m, nc = n, i, j, mi, nj;

	if (small) {
		nc = n < 128 ? n : 128;
		mc = (size_t)(SMALL_MNK / ((double)nc * (double)k));
		mc = mc >= 16 ? mc & ~(size_t)15 : mc & ~(size_t)7;
		if (mc > m)
			mc = m;
		if (mc < 8 && mc < m) {		/* too deep for a block */
			mc = m;
			nc = n;
		}
	}
	for (j = 0; j < n; j += nc) {
		nj = n - j < nc ? n - j : nc;
		for (i = 0; i < m; i += mc) {
			mi = m - i < mc ? m - i : mc;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
			    (int)mi, (int)nj, (int)k, 1.0f, w + i * k, (int)k,
			    in + j, (int)n, beta, out + i * n + j, (int)n);
		}
	}
}

/*
 * Self-attention of the window in columns [c0, c0 + t) of the n columns
 * in flight: s->qkv into the same columns of s->xn, every head over all
 * t positions.  s->qkv holds q with its bias, k and v without: k's bias
 * adds the same q.b_k to every score of a query, which softmax cancels,
 * and v's bias comes out of a weighted mean unchanged, so it is added to
 * the output (B_V [d]).
 */
static void
attention(const struct transformer_config *c, struct transformer_state *s,
    const float *b_v, size_t n, size_t c0, size_t t)
{
	size_t		 d = c->d_model, hd = d / c->n_heads, h;
	/* 1 / sqrt(hd), and log2(e) so that softmax can use 2^x */
	float		 scale = (float)M_LOG2E / sqrtf((float)hd);
	const float	*q, *k, *v;
	float		*o, *max = s->colv, *inv = s->colv + t;

	for (h = 0; h < c->n_heads; h++) {
		q = s->qkv + h * hd * n + c0;		/* [hd, t] */
		k = s->qkv + (d + h * hd) * n + c0;
		v = s->qkv + (2 * d + h * hd) * n + c0;
		o = s->xn + h * hd * n + c0;
		/* att[t, t] = k^T q log2(e) / sqrt(hd): att[key, query] */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)t,
		    (int)t, (int)hd, scale, k, (int)n, q, (int)n, 0.0f,
		    s->att, (int)t);
		softmax_cols(s->att, t, max, inv);
		/* o[hd, t] = v att, each query's column / its sum, + b_v */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
		    (int)hd, (int)t, (int)t, 1.0f, v, (int)n, s->att, (int)t,
		    0.0f, o, (int)n);
		scale_cols(o, inv, b_v + h * hd, hd, t, n);
	}
}

typedef float v8f __attribute__((vector_size(32)));

/* x[i, j] = tok[j][i0 + i] + pos[j][i0 + i] for i, j < 8 (row stride n) */
KERNEL static void
embed_8x8(float *x, size_t n, const float *const *tok,
    const float *const *pos, size_t i0)
{
	v8f	 r[8], t[8], u[8], o[8], a, b;
	size_t	 j;

	for (j = 0; j < 8; j++) {
		memcpy(&a, tok[j] + i0, sizeof(a));
		memcpy(&b, pos[j] + i0, sizeof(b));
		r[j] = a + b;
	}
	for (j = 0; j < 8; j += 2) {
		t[j] = __builtin_shufflevector(r[j], r[j + 1],
		    0, 8, 1, 9, 4, 12, 5, 13);
		t[j + 1] = __builtin_shufflevector(r[j], r[j + 1],
		    2, 10, 3, 11, 6, 14, 7, 15);
	}
	for (j = 0; j < 8; j += 4) {
		u[j] = __builtin_shufflevector(t[j], t[j + 2],
		    0, 1, 8, 9, 4, 5, 12, 13);
		u[j + 1] = __builtin_shufflevector(t[j], t[j + 2],
		    2, 3, 10, 11, 6, 7, 14, 15);
		u[j + 2] = __builtin_shufflevector(t[j + 1], t[j + 3],
		    0, 1, 8, 9, 4, 5, 12, 13);
		u[j + 3] = __builtin_shufflevector(t[j + 1], t[j + 3],
		    2, 3, 10, 11, 6, 7, 14, 15);
	}
	for (j = 0; j < 4; j++) {
		o[j] = __builtin_shufflevector(u[j], u[j + 4],
		    0, 1, 2, 3, 8, 9, 10, 11);
		o[j + 4] = __builtin_shufflevector(u[j], u[j + 4],
		    4, 5, 6, 7, 12, 13, 14, 15);
	}
	for (j = 0; j < 8; j++)
		memcpy(x + (i0 + j) * n, &o[j], sizeof(o[j]));
}

/*
 * x[d, n] = tok_emb[ids] + pos_emb[position in its window], transposed:
 * 8 x 8 blocks in registers, the rest one float at a time.
 */
static void
embed(const struct transformer_config *c, const struct transformer_weights *w,
    float *x, const uint32_t *ids, const size_t *lens, size_t n)
{
	const float	*tok[8], *pos[8];
	size_t		 d = c->d_model, b = 0, t = 0, j0, jn, j, i;

	for (j0 = 0; j0 < n; j0 += jn) {
		jn = n - j0 < 8 ? n - j0 : 8;
		for (j = 0; j < jn; j++) {
			while (t == lens[b]) {
				b++;
				t = 0;
			}
			tok[j] = w->tok_emb + ids[j0 + j] * d;
			pos[j] = w->pos_emb + t++ * d;
		}
		i = 0;
		if (jn == 8)
			for (; i + 8 <= d; i += 8)
				embed_8x8(x + j0, n, tok, pos, i);
		for (; i < d; i++)
			for (j = 0; j < jn; j++)
				x[i * n + j0 + j] = tok[j][i] + pos[j][i];
	}
}

/* LOGITS [NW, n_labels] = head_w p + head_b, P [d, NW] one window a column */
static void
head(const struct transformer_config *c, const struct transformer_weights *w,
    struct transformer_state *s, const float *p, size_t nw, float *logits)
{
	size_t	 b, i, d = c->d_model;

	for (b = 0; b < nw; b++) {
		for (i = 0; i < d; i++)
			s->pooled[i] = p[i * nw + b];
		for (i = 0; i < c->n_labels; i++)
			logits[b * c->n_labels + i] = w->head_b[i] +
			    dot8(w->head_w + i * d, s->pooled, d);
	}
}

/*
 * The last layer L and the head with [CLS] pooling: only the [CLS]
 * column of each window (its first) reaches the output, so keys and values
 * are computed for all n columns, and the query, attention, output
 * projection, feed-forward and final layer norm for the NW [CLS] columns
 * alone, gathered into [d, NW] blocks of s->cls (x: layer norm out,
 * r: residual, q: queries, o: attention out).  ADD as for layernorm().
 */
static void
encode_last_cls(const struct transformer_config *c,
    const struct transformer_weights *w, const struct transformer_layer *L,
    struct transformer_state *s, const float *add, const size_t *lens,
    size_t nw, size_t n, int small, float *logits)
{
	size_t		 d = c->d_model, f = c->d_ff, hd = d / c->n_heads;
	size_t		 b, c0, i, h;
	float		 scale = (float)M_LOG2E / sqrtf((float)hd), inv;
	float		*x = s->cls, *r = x + d * nw, *q = r + d * nw;
	float		*o = q + d * nw;
	float		*mean = s->colv, *rstd = s->colv + LN_BLOCK;
	const float	*k, *v, *b_v = L->qkv_b + 2 * d;

	layernorm(s->xn, s->x, add, L->ln1_w, L->ln1_b, d, n, c->norm_eps,
	    mean, rstd);
	matmul(small, s->qkv + d * n, L->qkv_w + d * d, s->xn, 2 * d, d, n,
	    0.0f);
	for (b = 0, c0 = 0; b < nw; c0 += lens[b], b++)
		for (i = 0; i < d; i++) {
			x[i * nw + b] = s->xn[i * n + c0];
			r[i * nw + b] = s->x[i * n + c0];
		}
	fill_rows(q, L->qkv_b, d, nw);
	matmul(small, q, L->qkv_w, x, d, d, nw, 1.0f);
	/* as attention(), for one query a window (see there for the biases) */
	for (b = 0, c0 = 0; b < nw; c0 += lens[b], b++)
		for (h = 0; h < c->n_heads; h++) {
			k = s->qkv + (d + h * hd) * n + c0;
			v = s->qkv + (2 * d + h * hd) * n + c0;
			cblas_sgemv(CblasRowMajor, CblasTrans, (int)hd,
			    (int)lens[b], scale, k, (int)n, q + h * hd * nw + b,
			    (int)nw, 0.0f, s->att, 1);
			inv = softmax_vec(s->att, lens[b]);
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)hd,
			    (int)lens[b], inv, v, (int)n, s->att, 1, 0.0f,
			    o + h * hd * nw + b, (int)nw);
			for (i = 0; i < hd; i++)
				o[(h * hd + i) * nw + b] += b_v[h * hd + i];
		}
	matmul(small, r, L->out_w, o, d, d, nw, 1.0f);
	layernorm(x, r, L->out_b, L->ln2_w, L->ln2_b, d, nw, c->norm_eps,
	    mean, rstd);
	matmul(small, s->hb, L->up_w, x, f, d, nw, 0.0f);
	bias_gelu(s->hb, L->up_b, f, nw);
	matmul(small, r, L->down_w, s->hb, d, f, nw, 1.0f);
	layernorm(x, r, L->down_b, w->lnf_w, w->lnf_b, d, nw, c->norm_eps,
	    mean, rstd);
	head(c, w, s, x, nw, logits);
}

/*
 * NW windows (LENS, IDS) in n columns through the whole network into
 * LOGITS [NW, n_labels].
 */
static void
encode(const struct transformer_config *c, const struct transformer_weights *w,
    struct transformer_state *s, const uint32_t *ids, const size_t *lens,
    size_t nw, size_t n, int small, float *logits)
{
	size_t		 d = c->d_model, f = c->d_ff, l, b, c0, i;
	const struct transformer_layer *L;
	const float	*add = NULL;
	float		*mean = s->colv, *rstd = s->colv + LN_BLOCK, *p;

	embed(c, w, s->x, ids, lens, n);
	for (l = 0; l < c->n_layers; l++) {
		L = &w->layers[l];
		if (c->pool_cls && l == c->n_layers - 1) {
			encode_last_cls(c, w, L, s, add, lens, nw, n, small,
			    logits);
			return;
		}
		layernorm(s->xn, s->x, add, L->ln1_w, L->ln1_b, d, n,
		    c->norm_eps, mean, rstd);
		/* q with its bias, k and v without (see attention()) */
		fill_rows(s->qkv, L->qkv_b, d, n);
		matmul(small, s->qkv, L->qkv_w, s->xn, d, d, n, 1.0f);
		matmul(small, s->qkv + d * n, L->qkv_w + d * d, s->xn, 2 * d,
		    d, n, 0.0f);
		for (b = 0, c0 = 0; b < nw; c0 += lens[b], b++)
			attention(c, s, L->qkv_b + 2 * d, n, c0, lens[b]);
		/* x += out_w att; out_b joins in the next layer norm */
		matmul(small, s->x, L->out_w, s->xn, d, d, n, 1.0f);
		layernorm(s->xn, s->x, L->out_b, L->ln2_w, L->ln2_b, d, n,
		    c->norm_eps, mean, rstd);
		matmul(small, s->hb, L->up_w, s->xn, f, d, n, 0.0f);
		bias_gelu(s->hb, L->up_b, f, n);
		matmul(small, s->x, L->down_w, s->hb, d, f, n, 1.0f);
		add = L->down_b;
	}
	layernorm(s->xn, s->x, add, w->lnf_w, w->lnf_b, d, n, c->norm_eps,
	    mean, rstd);
	/* each window's mean final state, [d, nw] in s->qkv (free by now) */
	p = s->qkv;
	for (b = 0, c0 = 0; b < nw; c0 += lens[b], b++)
		for (i = 0; i < d; i++)
			p[i * nw + b] = sum8(s->xn + i * n + c0, lens[b]) /
			    (float)lens[b];
	head(c, w, s, p, nw, logits);
}

int
transformer_forward(const struct transformer_config *c,
    const struct transformer_weights *w, struct transformer_state *s,
    const uint32_t *ids, const size_t *lens, size_t nw, float *logits)
{
	size_t		 n = 0, b, t, g, i, ng;
	int		 small, threads;

	if (nw == 0 || nw > s->max_windows)
		return -1;
	for (b = 0; b < nw; b++) {
		if (lens[b] == 0 || lens[b] > c->max_positions)
			return -1;
		for (t = 0; t < lens[b]; t++, n++)
			if (ids[n] >= c->vocab_size)
				return -1;
	}
	/*
	 * With the small-matrix kernels (one BLAS thread), a window at a
	 * time: nothing to amortise, and its activations stay in L2.  Else
	 * the whole batch in each product, so that packing is amortised and
	 * BLAS threads have work to share.
	 */
	if ((threads = atomic_load(&blas_threads)) == 0)
		threads = openblas_get_num_threads();
	small = s->small_kernels && threads == 1;
	g = small ? 1 : nw;
	for (b = 0; b < nw; b += ng, ids += n) {
		ng = nw - b < g ? nw - b : g;
		for (i = 0, n = 0; i < ng; i++)
			n += lens[b + i];
		encode(c, w, s, ids, lens + b, ng, n, small,
		    logits + b * c->n_labels);
	}
	return 0;
}
