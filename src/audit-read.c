/* audit-read: see include/audit-read.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit-read.h"

#define CHUNK	(256 * 1024)

struct audit_reader {
	int		 fd;
	size_t		 max;
	char		*buf;		/* [start, end) unread bytes */
	size_t		 cap, start, end;
	int		 eof;
	uint64_t	 offset;
};

struct audit_reader *
audit_reader_new(int fd, size_t max)
{
	struct audit_reader	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fd = fd;
	r->max = max;
	r->cap = CHUNK;
	if ((r->buf = malloc(r->cap)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
audit_reader_free(struct audit_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

uint64_t
audit_reader_offset(const struct audit_reader *r)
{
	return r->offset;
}

/* Read more input after [start, end), growing up to max + 1.  -1, 0, n. */
static ssize_t
fill(struct audit_reader *r)
{
	size_t	 ncap;
	char	*nb;
	ssize_t	 n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		ncap = r->cap * 2;
		if (ncap > r->max + CHUNK)
			ncap = r->max + CHUNK;
		if (ncap <= r->cap)
			return -2;	/* line too long */
		if ((nb = realloc(r->buf, ncap)) == NULL)
			return -1;
		r->buf = nb;
		r->cap = ncap;
	}
	do
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		r->end += (size_t)n;
	return n;
}

int
audit_reader_next(struct audit_reader *r, const char **line, size_t *len,
    int *complete)
{
	char	*nl;
	size_t	 skipped = 0, n;
	ssize_t	 got;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			n = (size_t)(nl - (r->buf + r->start));
			*complete = 1;
			r->offset += n + 1;
			if (skipped > 0 || n > r->max) {
				*line = NULL;
				*len = skipped + n;
			} else {
				*line = r->buf + r->start;
				*len = n;
			}
			r->start += n + 1;
			return 1;
		}
		if (r->eof) {
			n = r->end - r->start;
			if (n == 0 && skipped == 0)
				return 0;
			*complete = 0;
			r->offset += n;
			*line = skipped > 0 || n > r->max ? NULL :
			    r->buf + r->start;
			*len = skipped + n;
			r->start = r->end;
			return 1;
		}
		got = fill(r);
		if (got == -2) {
			/* drop what we have of the overlong line */
			skipped += r->end - r->start;
			r->offset += r->end - r->start;
			r->start = r->end = 0;
			continue;
		}
		if (got == -1)
			return -1;
		if (got == 0)
			r->eof = 1;
	}
}
