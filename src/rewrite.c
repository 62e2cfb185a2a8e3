/* rewrite: see include/rewrite.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

/* Earlier start first; on a tie the longer span first. */
static int
edit_cmp(const void *a, const void *b)
{
	const struct span_edit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return 0;
}

/*
 * Walk the sorted EDITS as merged groups.  Calls with OUT == NULL only
 * measure; returns the output length, or SIZE_MAX on overflow.
 */
static size_t
rewrite_walk(const char *text, size_t len, const struct span_edit *edits,
    size_t n, char *out)
{
	size_t		 i, pos = 0, o = 0, gend, rlen;
	const char	*rep;

	for (i = 0; i < n; ) {
		rep = edits[i].replacement != NULL ? edits[i].replacement : "";
		gend = edits[i].end;
		/* copy text before the group */
		if (out != NULL && edits[i].start > pos)
			memcpy(out + o, text + pos, edits[i].start - pos);
		if (SIZE_MAX - o < edits[i].start - pos)
			return SIZE_MAX;
		o += edits[i].start - pos;
		for (i++; i < n && edits[i].start <= gend; i++)
			if (edits[i].end > gend)
				gend = edits[i].end;
		rlen = strlen(rep);
		if (out != NULL && rlen > 0)
			memcpy(out + o, rep, rlen);
		if (SIZE_MAX - o < rlen)
			return SIZE_MAX;
		o += rlen;
		pos = gend;
	}
	if (out != NULL && len > pos)
		memcpy(out + o, text + pos, len - pos);
	if (SIZE_MAX - o < len - pos + 1)
		return SIZE_MAX;
	return o + (len - pos);
}

char *
rewrite_apply(const char *text, size_t len, struct span_edit *edits,
    size_t n, size_t *outlen)
{
	size_t	 i, total;
	char	*out;

	for (i = 0; i < n; i++)
		if (edits[i].start > edits[i].end || edits[i].end > len)
			return NULL;
	if (n > 1)
		qsort(edits, n, sizeof(*edits), edit_cmp);
	if ((total = rewrite_walk(text, len, edits, n, NULL)) == SIZE_MAX)
		return NULL;
	if ((out = malloc(total + 1)) == NULL)
		return NULL;
	rewrite_walk(text, len, edits, n, out);
	out[total] = '\0';
	if (outlen != NULL)
		*outlen = total;
	return out;
}
