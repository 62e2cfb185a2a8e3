/* transformer: see include/transformer.h. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "log.h"
#include "transformer.h"

struct transformer_state {
	size_t	 max_windows;		/* B */
	size_t	 max_tokens;		/* N = B * max_positions */
	float	*x;			/* [N, d] residual stream */
	float	*xb;			/* [N, d] LayerNorm out, attention out */
	float	*qkv;			/* [N, 3d] q | k | v per row */
	float	*hb;			/* [N, d_ff] feed-forward hidden */
	float	*att;			/* [max_positions, max_positions] */
	float	*kt;			/* [d / n_heads, max_positions] k^T */
	float	*pooled;		/* [B, d] mean of the final states */
};

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
	int		 bad = 0;

	if (max_windows == 0 || t == 0 || max_windows > SIZE_MAX / t / 4 /
	    (c->d_ff + 4 * d)) {
		log_warnx("transformer: scratch size overflows");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("transformer");
		return NULL;
	}
	s->max_windows = max_windows;
	s->max_tokens = n = max_windows * t;
	s->x = scratch(n * d, &bad);
	s->xb = scratch(n * d, &bad);
	s->qkv = scratch(n * 3 * d, &bad);
	s->hb = scratch(n * c->d_ff, &bad);
	s->att = scratch(t * t, &bad);
	s->kt = scratch(d * t, &bad);
	s->pooled = scratch(max_windows * d, &bad);
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
	free(s->xb);
	free(s->qkv);
	free(s->hb);
	free(s->att);
	free(s->kt);
	free(s->pooled);
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
	atomic_store(&threads_set, 1);
	openblas_set_num_threads(n < 1 ? 1 : n);
}

void
transformer_default_threads(void)
{
	if (atomic_exchange(&threads_set, 1) == 0)
		openblas_set_num_threads(1);
}

double
transformer_flops(const struct transformer_config *c, size_t t)
{
	double	 d = (double)c->d_model, f = (double)c->d_ff, T = (double)t;

	/* qkv, out, up, down; q k^T and a v */
	return (double)c->n_layers * (2 * T * d * (3 * d + d + 2 * f) +
	    4 * T * T * d) + 2 * d * (double)c->n_labels;
}

/*
 * The element-wise kernels below are written so that the compiler turns
 * them into SIMD code: no calls inside loops, reductions over 8 partial
 * sums.  With GCC on x86-64 each is compiled for AVX-512, AVX2+FMA and
 * the baseline, chosen at load time by the CPU (ifunc).
 */
/*
 * Not under ThreadSanitizer: its instrumented ifunc resolvers would run at
 * relocation, before the TSan runtime is up (a crash at start).
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define KERNEL	__attribute__((target_clones("arch=x86-64-v4", \
		    "arch=x86-64-v3", "default"), optimize("O3")))
#else
#define KERNEL
#endif

#define LANES	8

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

/* out[n, d] = LN(in[n, d]; w, b) */
KERNEL static void
layernorm(float *out, const float *in, const float *w, const float *b,
    size_t n, size_t d, float eps)
{
	size_t		 r, i, k;
	const float	*x;
	float		*o, mean, var, inv, acc[LANES], dv;

	for (r = 0; r < n; r++) {
		x = in + r * d;
		o = out + r * d;
		mean = sum8(x, d) / (float)d;
		for (k = 0; k < LANES; k++)
			acc[k] = 0;
		var = 0;
		for (i = 0; i + LANES <= d; i += LANES)
			for (k = 0; k < LANES; k++) {
				dv = x[i + k] - mean;
				acc[k] += dv * dv;
			}
		for (; i < d; i++)
			var += (x[i] - mean) * (x[i] - mean);
		for (k = 0; k < LANES; k++)
			var += acc[k];
		var /= (float)d;
		inv = 1.0f / sqrtf(var + eps);
		for (i = 0; i < d; i++)
			o[i] = (x[i] - mean) * inv * w[i] + b[i];
	}
}

/* out[n, d] += b[d] on every row */
KERNEL static void
add_rows(float *out, const float *b, size_t n, size_t d)
{
	size_t	 r, i;

	for (r = 0; r < n; r++)
		for (i = 0; i < d; i++)
			out[r * d + i] += b[i];
}

/* out[n, o] = in[n, i] W^T + b, or out += in W^T + b when ACC */
static void
linear(float *out, const float *in, const float *w, const float *b,
    size_t n, size_t din, size_t dout, int acc)
{
	size_t	 r;

	if (acc)
		add_rows(out, b, n, dout);
	else
		for (r = 0; r < n; r++)
			memcpy(out + r * dout, b, dout * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)dout,
	    (int)din, 1.0f, in, (int)din, w, (int)din, 1.0f, out, (int)dout);
}

/*
 * x[n] = gelu(x[n]) = 0.5 x (1 + erf(x / sqrt 2)), the exact (erf) form.
 * erf is a rational minimax fit on [-4, 4] (the one of Eigen and XLA),
 * within 5e-7 of the true erf over all floats; beyond 4, erf is +-1 in
 * single precision.
 */
KERNEL static void
gelu(float *x, size_t n)
{
	size_t	 i;
	float	 z, z2, p, q;

	for (i = 0; i < n; i++) {
		z = x[i] * (float)M_SQRT1_2;
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
		x[i] = 0.5f * x[i] * (1.0f + z * p / q);
	}
}

/*
 * exp(x) for x <= 0 (softmax inputs after subtracting the maximum), the
 * Cephes expf polynomial with 2^n built in the exponent bits; relative
 * error about 1e-7.  Below -87 the result is flushed to exp(-87).
 */
static inline float
exp_neg(float x)
{
	float		 n, r, y, f;
	int32_t		 e;
	uint32_t	 bits;

	x = x < -87.0f ? -87.0f : x;
	n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	r = x - n * 0.693359375f;
	r = r + n * 2.12194440e-4f;
	y = 1.9875691500e-4f;
	y = y * r + 1.3981999507e-3f;
	y = y * r + 8.3334519073e-3f;
	y = y * r + 4.1665795894e-2f;
	y = y * r + 1.6666665459e-1f;
	y = y * r + 5.0000001201e-1f;
	y = y * r * r + r + 1.0f;
	e = (int32_t)n + 127;
	bits = (uint32_t)e << 23;
	memcpy(&f, &bits, sizeof(f));
	return y * f;
}

/* Every row of att[t, t] = softmax(row) */
KERNEL static void
softmax_rows(float *att, size_t t)
{
	size_t	 r, i, k;
	float	*x, max, inv, m[LANES];

	for (r = 0; r < t; r++) {
		x = att + r * t;
		max = x[0];
		for (k = 0; k < LANES; k++)
			m[k] = x[0];
		for (i = 0; i + LANES <= t; i += LANES)
			for (k = 0; k < LANES; k++)
				m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
		for (; i < t; i++)
			max = x[i] > max ? x[i] : max;
		for (k = 0; k < LANES; k++)
			max = m[k] > max ? m[k] : max;
		for (i = 0; i < t; i++)
			x[i] = exp_neg(x[i] - max);
		inv = 1.0f / sum8(x, t);
		for (i = 0; i < t; i++)
			x[i] *= inv;
	}
}

/* dst[cols, rows] = src[rows, cols] (row stride LD) */
KERNEL static void
transpose(float *dst, const float *src, size_t rows, size_t cols, size_t ld)
{
	size_t	 r, c;

	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++)
			dst[c * rows + r] = src[r * ld + c];
}

/*
 * Self-attention of one window of T rows: QKV [T, 3d] (row stride 3d) into
 * OUT [T, d] (row stride d), every head over all T positions.
 */
static void
attention(const struct transformer_config *c, struct transformer_state *s,
    const float *qkv, float *out, size_t t)
{
	size_t		 d = c->d_model, hd = d / c->n_heads, h;
	float		 scale = 1.0f / sqrtf((float)hd);
	const float	*q, *k, *v;

	for (h = 0; h < c->n_heads; h++) {
		q = qkv + h * hd;
		k = qkv + d + h * hd;
		v = qkv + 2 * d + h * hd;
		/*
		 * att[T, T] = q k^T / sqrt(hd), as q [T, hd] times kt [hd, T]
		 * so that OpenBLAS takes its small-matrix path (no packing).
		 */
		transpose(s->kt, k, t, hd, 3 * d);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t,
		    (int)t, (int)hd, scale, q, (int)(3 * d), s->kt, (int)t,
		    0.0f, s->att, (int)t);
		softmax_rows(s->att, t);
		/* out[T, hd] (head h's columns) = att v */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t,
		    (int)hd, (int)t, 1.0f, s->att, (int)t, v, (int)(3 * d),
		    0.0f, out + h * hd, (int)d);
	}
}

int
transformer_forward(const struct transformer_config *c,
    const struct transformer_weights *w, struct transformer_state *s,
    const uint32_t *ids, const size_t *lens, size_t nw, float *logits)
{
	size_t		 d = c->d_model, n = 0, b, t, l, r, i, row;
	const struct transformer_layer *L;
	float		*x, *p;

	if (nw == 0 || nw > s->max_windows)
		return -1;
	/* x[N, d] = tok_emb[ids] + pos_emb[position in its window] */
	for (b = 0; b < nw; b++) {
		if (lens[b] == 0 || lens[b] > c->max_positions)
			return -1;
		for (t = 0; t < lens[b]; t++, n++) {
			if (ids[n] >= c->vocab_size)
				return -1;
			x = s->x + n * d;
			for (i = 0; i < d; i++)
				x[i] = w->tok_emb[ids[n] * d + i] +
				    w->pos_emb[t * d + i];
		}
	}
	for (l = 0; l < c->n_layers; l++) {
		L = &w->layers[l];
		layernorm(s->xb, s->x, L->ln1_w, L->ln1_b, n, d, c->norm_eps);
		linear(s->qkv, s->xb, L->qkv_w, L->qkv_b, n, d, 3 * d, 0);
		for (b = 0, row = 0; b < nw; row += lens[b], b++)
			attention(c, s, s->qkv + row * 3 * d, s->xb + row * d,
			    lens[b]);
		linear(s->x, s->xb, L->out_w, L->out_b, n, d, d, 1);
		layernorm(s->xb, s->x, L->ln2_w, L->ln2_b, n, d, c->norm_eps);
		linear(s->hb, s->xb, L->up_w, L->up_b, n, d, c->d_ff, 0);
		gelu(s->hb, n * c->d_ff);
		linear(s->x, s->hb, L->down_w, L->down_b, n, c->d_ff, d, 1);
	}
	layernorm(s->xb, s->x, w->lnf_w, w->lnf_b, n, d, c->norm_eps);
	/* pooled[b, d] = mean over the window's rows */
	for (b = 0, row = 0; b < nw; row += lens[b], b++) {
		p = s->pooled + b * d;
		memset(p, 0, d * sizeof(float));
		for (r = 0; r < lens[b]; r++)
			for (i = 0; i < d; i++)
				p[i] += s->xb[(row + r) * d + i];
		for (i = 0; i < d; i++)
			p[i] /= (float)lens[b];
	}
	linear(logits, s->pooled, w->head_w, w->head_b, nw, d, c->n_labels, 0);
	return 0;
}
