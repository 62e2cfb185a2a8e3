/*
 * transformer: the forward pass of the modgate-encoder-v1 network
 * (train/FORMAT.md), a pre-LayerNorm encoder with mean or [CLS] pooling, on
 * cblas_sgemm.  Written in the llama2.c manner: transformer_config holds
 * the hyperparameters, transformer_weights points into the weights file,
 * transformer_state is the scratch of one thread, sized once.
 */
#ifndef MODGATE_TRANSFORMER_H
#define MODGATE_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

struct transformer_config {
	size_t	 vocab_size;
	size_t	 d_model;		/* d */
	size_t	 n_layers;
	size_t	 n_heads;		/* d % n_heads == 0 */
	size_t	 d_ff;
	size_t	 max_positions;		/* longest window, [CLS] included */
	size_t	 n_labels;
	float	 norm_eps;
	int	 pool_cls;		/* a window's summary is its [CLS]
					   token's final state, else the mean
					   of all its tokens' */
};

/* Row-major, Linear weights [out, in] as PyTorch stores them. */
struct transformer_layer {
	const float	*ln1_w, *ln1_b;		/* [d] */
	const float	*qkv_w;			/* [3d, d]: q, k, v rows */
	const float	*qkv_b;			/* [3d] */
	const float	*out_w;			/* [d, d] */
	const float	*out_b;			/* [d] */
	const float	*ln2_w, *ln2_b;		/* [d] */
	const float	*up_w;			/* [d_ff, d] */
	const float	*up_b;			/* [d_ff] */
	const float	*down_w;		/* [d, d_ff] */
	const float	*down_b;		/* [d] */
};

struct transformer_weights {
	const float	*tok_emb;		/* [vocab_size, d] */
	const float	*pos_emb;		/* [max_positions, d] */
	struct transformer_layer *layers;	/* [n_layers] (owned) */
	const float	*lnf_w, *lnf_b;		/* [d] */
	const float	*head_w;		/* [n_labels, d] */
	const float	*head_b;		/* [n_labels] */
};

struct transformer_state;

/*
 * Scratch for forward passes of up to MAX_WINDOWS windows of at most
 * max_positions tokens each.  NULL after logging on allocation failure.
 */
struct transformer_state *transformer_state_new(
		    const struct transformer_config *c, size_t max_windows);
void		 transformer_state_free(struct transformer_state *);
size_t		 transformer_state_windows(const struct transformer_state *);

/*
 * Run NW windows in one pass.  Window i has LENS[i] tokens (1 to
 * max_positions, [CLS] first), its ids the next LENS[i] entries of IDS.
 * Writes LOGITS [NW, n_labels].  S is used by one thread at a time; the
 * config and weights are only read, so threads with their own state may
 * run at once.  0, or -1 (NW above the state's capacity, a bad length or
 * an id out of range; nothing logged).
 */
int		 transformer_forward(const struct transformer_config *c,
		    const struct transformer_weights *w,
		    struct transformer_state *s, const uint32_t *ids,
		    const size_t *lens, size_t nw, float *logits);

/*
 * Threads OpenBLAS uses for one matrix product (process-wide).  Call
 * before worker threads start; 1 is right when every core runs a worker.
 * With 1, a forward pass runs its windows one at a time, in OpenBLAS's
 * unpacked small-matrix kernels where it has them (AVX-512 builds); with
 * more, each product spans the whole batch so that the threads share it.
 */
void		 transformer_set_threads(int n);
/*
 * One thread per product unless transformer_set_threads was called: the
 * first model_load calls this, before any forward pass can run, so that a
 * daemon whose every core runs a worker does not oversubscribe them.
 */
void		 transformer_default_threads(void);

/*
 * Floating-point operations of one window of T tokens (for benchmarks):
 * those the forward pass does, so with [CLS] pooling the last layer's
 * keys and values for every token, the rest for [CLS] alone.
 */
double		 transformer_flops(const struct transformer_config *c,
		    size_t t);

#endif
