/* safetensors: see include/safetensors.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "safetensors.h"

/* Largest weights file we accept: 4 GiB of floats is far past any model. */
#define ST_MAX_FILE	((size_t)4 << 30)

static int
tensor_cmp(const void *a, const void *b)
{
	return strcmp(((const struct st_tensor *)a)->name,
	    ((const struct st_tensor *)b)->name);
}

static int
range_cmp(const void *a, const void *b)
{
	const struct st_tensor *x = *(const struct st_tensor *const *)a;
	const struct st_tensor *y = *(const struct st_tensor *const *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* A JSON integer in [0, max] into *out.  0 or -1. */
static int
json_size(const json_t *v, size_t max, size_t *out)
{
	json_int_t	 i;

	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (i < 0 || (uintmax_t)i > max)
		return -1;
	*out = (size_t)i;
	return 0;
}

/* Fill T from the header entry V of tensor KEY.  0 or -1 after logging. */
static int
tensor_parse(const char *file, const char *key, json_t *v,
    struct st_tensor *t, size_t data_len)
{
	json_t		*dtype, *shape, *offs, *e;
	size_t		 i, n, bytes;

	if (strlen(key) >= sizeof(t->name) || key[0] == '\0') {
		log_warnx("%s: bad tensor name \"%.40s\"", file, key);
		return -1;
	}
	strcpy(t->name, key);
	if (!json_is_object(v)) {
		log_warnx("%s: %s: entry is not an object", file, key);
		return -1;
	}
	dtype = json_object_get(v, "dtype");
	shape = json_object_get(v, "shape");
	offs = json_object_get(v, "data_offsets");
	if (!json_is_string(dtype) || !json_is_array(shape) ||
	    !json_is_array(offs) || json_object_size(v) != 3) {
		log_warnx("%s: %s: want exactly dtype, shape and data_offsets",
		    file, key);
		return -1;
	}
	if (strcmp(json_string_value(dtype), "F32") != 0) {
		log_warnx("%s: %s: dtype %.16s, want F32", file, key,
		    json_string_value(dtype));
		return -1;
	}
	t->ndim = json_array_size(shape);
	if (t->ndim > ST_MAX_DIMS) {
		log_warnx("%s: %s: %zu dimensions", file, key, t->ndim);
		return -1;
	}
	t->nelem = 1;
	json_array_foreach(shape, i, e) {
		if (json_size(e, SIZE_MAX, &n) == -1) {
			log_warnx("%s: %s: bad shape", file, key);
			return -1;
		}
		t->shape[i] = n;
		if (n != 0 && t->nelem > SIZE_MAX / 4 / n) {
			log_warnx("%s: %s: shape overflows", file, key);
			return -1;
		}
		t->nelem *= n;
	}
	if (json_array_size(offs) != 2 ||
	    json_size(json_array_get(offs, 0), data_len, &t->begin) == -1 ||
	    json_size(json_array_get(offs, 1), data_len, &t->end) == -1 ||
	    t->begin > t->end) {
		log_warnx("%s: %s: data offsets outside the file", file, key);
		return -1;
	}
	bytes = t->nelem * 4;
	if (t->end - t->begin != bytes) {
		log_warnx("%s: %s: %zu bytes of data for %zu floats", file, key,
		    t->end - t->begin, t->nelem);
		return -1;
	}
	return 0;
}

static int
header_parse(struct safetensors *st, const char *file)
{
	json_t		*root = NULL, *v;
	json_error_t	 jerr;
	const char	*key;
	const struct st_tensor **byrange = NULL;
	uint64_t	 hlen = 0;
	size_t		 i, n, prev_end;
	int		 rc = -1;

	if (st->len < 8) {
		log_warnx("%s: truncated (%zu bytes)", file, st->len);
		goto out;
	}
	for (i = 0; i < 8; i++)
		hlen |= (uint64_t)st->buf[i] << (8 * i);
	if (hlen > ST_MAX_HEADER) {
		log_warnx("%s: header of %ju bytes (at most %u)", file,
		    (uintmax_t)hlen, ST_MAX_HEADER);
		goto out;
	}
	if (hlen > st->len - 8) {
		log_warnx("%s: header of %ju bytes runs past the end of the "
		    "file (%zu bytes)", file, (uintmax_t)hlen, st->len);
		goto out;
	}
	st->data = st->buf + 8 + hlen;
	st->data_len = st->len - 8 - hlen;
	if ((8 + hlen) % 4 != 0) {
		log_warnx("%s: data section not 4-byte aligned", file);
		goto out;
	}
	root = json_loadb((const char *)st->buf + 8, hlen,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		log_warnx("%s: header: %s (offset %d)", file, jerr.text,
		    jerr.position);
		goto out;
	}
	if (!json_is_object(root)) {
		log_warnx("%s: header is not a JSON object", file);
		goto out;
	}
	n = json_object_size(root);
	if (n > ST_MAX_TENSORS + 1) {
		log_warnx("%s: %zu tensors (at most %d)", file, n,
		    ST_MAX_TENSORS);
		goto out;
	}
	if ((st->t = calloc(n ? n : 1, sizeof(*st->t))) == NULL ||
	    (byrange = calloc(n ? n : 1, sizeof(*byrange))) == NULL) {
		log_warn("%s", file);
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			if (!json_is_object(v)) {
				log_warnx("%s: __metadata__ is not an object",
				    file);
				goto out;
			}
			continue;
		}
		if (tensor_parse(file, key, v, &st->t[st->n], st->data_len) == -1)
			goto out;
		if (st->t[st->n].begin % 4 != 0) {
			log_warnx("%s: %s: data not 4-byte aligned", file, key);
			goto out;
		}
		byrange[st->n] = &st->t[st->n];
		st->n++;
	}
	/* No two tensors may share a byte. */
	qsort(byrange, st->n, sizeof(*byrange), range_cmp);
	prev_end = 0;
	for (i = 0; i < st->n; i++) {
		if (byrange[i]->begin == byrange[i]->end)
			continue;
		if (byrange[i]->begin < prev_end) {
			log_warnx("%s: %s overlaps another tensor", file,
			    byrange[i]->name);
			goto out;
		}
		prev_end = byrange[i]->end;
	}
	for (i = 0; i < st->n; i++)
		st->t[i].data = (const float *)(const void *)
		    (st->data + st->t[i].begin);
	qsort(st->t, st->n, sizeof(*st->t), tensor_cmp);
	rc = 0;
out:
	free(byrange);
	json_decref(root);
	return rc;
}

/* A buffer of LEN bytes, 64-byte aligned, or NULL. */
static uint8_t *
buf_alloc(size_t len)
{
	void	*p;

	if (posix_memalign(&p, 64, len ? len : 1) != 0)
		return NULL;
	return p;
}

int
safetensors_parse(struct safetensors *st, const void *buf, size_t len,
    const char *name)
{
	memset(st, 0, sizeof(*st));
	if (len > ST_MAX_FILE) {
		log_warnx("%s: %zu bytes is too large", name, len);
		return -1;
	}
	if ((st->buf = buf_alloc(len)) == NULL) {
		log_warn("%s", name);
		return -1;
	}
	if (len > 0)
		memcpy(st->buf, buf, len);
	st->len = len;
	if (header_parse(st, name) == -1) {
		safetensors_close(st);
		return -1;
	}
	return 0;
}

int
safetensors_open(struct safetensors *st, const char *path)
{
	struct stat	 sb;
	size_t		 off = 0;
	ssize_t		 r;
	int		 fd;

	memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		log_warn("%s", path);
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("%s: not a regular file", path);
		goto fail;
	}
	if (sb.st_size < 0 || (uintmax_t)sb.st_size > ST_MAX_FILE) {
		log_warnx("%s: %jd bytes is too large", path,
		    (intmax_t)sb.st_size);
		goto fail;
	}
	st->len = (size_t)sb.st_size;
	if ((st->buf = buf_alloc(st->len)) == NULL) {
		log_warn("%s", path);
		goto fail;
	}
	while (off < st->len) {
		r = read(fd, st->buf + off, st->len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_warn("%s", path);
			goto fail;
		}
		if (r == 0) {
			log_warnx("%s: file shrank while reading", path);
			goto fail;
		}
		off += (size_t)r;
	}
	close(fd);
	fd = -1;
	if (header_parse(st, path) == -1)
		goto fail;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	safetensors_close(st);
	return -1;
}

const struct st_tensor *
safetensors_find(const struct safetensors *st, const char *name)
{
	struct st_tensor key;

	if (strlen(name) >= sizeof(key.name) || st->n == 0)
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, st->t, st->n, sizeof(*st->t), tensor_cmp);
}

void
safetensors_close(struct safetensors *st)
{
	free(st->t);
	free(st->buf);
	memset(st, 0, sizeof(*st));
}
