/*
 * safetensors: the weights file of a model directory.  The whole file is
 * read into one aligned buffer (not mapped: a file truncated under a
 * mapping would kill the daemon with SIGBUS), then its header is parsed
 * and every tensor checked: dtype F32, shape, data offsets inside the data
 * section, no two tensors overlapping, no size arithmetic overflowing.
 */
#ifndef MODGATE_SAFETENSORS_H
#define MODGATE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_HEADER	(16u << 20)	/* bytes of JSON header */
#define ST_MAX_TENSORS	4096
#define ST_MAX_DIMS	8
#define ST_MAX_NAME	128

struct st_tensor {
	char		 name[ST_MAX_NAME];
	size_t		 ndim;
	size_t		 shape[ST_MAX_DIMS];
	size_t		 nelem;		/* product of shape (1 for a scalar) */
	size_t		 begin, end;	/* byte offsets in the data section */
	const float	*data;		/* nelem floats, 64-byte aligned base */
};

struct safetensors {
	uint8_t		*buf;		/* the whole file (owned) */
	size_t		 len;
	const uint8_t	*data;		/* data section: buf + 8 + header */
	size_t		 data_len;
	struct st_tensor *t;		/* sorted by name */
	size_t		 n;
};

/*
 * Read and check the safetensors file PATH into ST.  0 on success; -1
 * after logging why (ST is then empty and safetensors_close is a no-op).
 */
int		 safetensors_open(struct safetensors *st, const char *path);

/*
 * Parse LEN bytes at BUF (a copy is taken).  NAME is used in messages.
 * Same checks and result as safetensors_open.
 */
int		 safetensors_parse(struct safetensors *st, const void *buf,
		    size_t len, const char *name);

/* The tensor called NAME, or NULL. */
const struct st_tensor *safetensors_find(const struct safetensors *st,
		    const char *name);

void		 safetensors_close(struct safetensors *st);

#endif
