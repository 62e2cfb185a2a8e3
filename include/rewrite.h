/*
 * rewrite: apply replacements to spans of a text.  Overlapping or touching
 * spans are merged first; a merged span takes the replacement of the span
 * that starts first (the longest one on a tie).
 */
#ifndef MODGATE_REWRITE_H
#define MODGATE_REWRITE_H

#include <stddef.h>

struct span_edit {
	size_t		 start, end;	/* [start, end) bytes of the text */
	const char	*replacement;	/* NUL-terminated, not owned */
};

/*
 * Return a new NUL-terminated string: TEXT with every span of EDITS (any
 * order, N entries; EDITS is sorted in place) replaced, and its length in
 * *OUTLEN.  NULL on allocation failure or a span outside the text.
 */
char	*rewrite_apply(const char *text, size_t len, struct span_edit *edits,
	    size_t n, size_t *outlen);

#endif
