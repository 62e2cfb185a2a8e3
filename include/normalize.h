/*
 * normalize: the text forms rules match on, each with a map back to byte
 * offsets of the original text.
 *
 *	raw		the request text as is
 *	normalized	NFKC, case folded, zero-width and bidi controls removed,
 *			runs of separators and repeated letters collapsed
 *	skeleton	normalized, then confusable letters and leetspeak folded
 */
#ifndef MODGATE_NORMALIZE_H
#define MODGATE_NORMALIZE_H

#include <stddef.h>

enum norm_form { FORM_RAW, FORM_NORMALIZED, FORM_SKELETON, FORM_COUNT };

struct normtext {
	char	*s;		/* NUL-terminated form text */
	size_t	 len;
	size_t	*start;		/* start[i]: original offset where byte i's source begins */
	size_t	*end;		/* end[i]: original offset where byte i's source ends */
};

/* 1 when [TEXT, TEXT+LEN) is well-formed UTF-8 without NUL bytes, else 0. */
int	 utf8_valid(const char *text, size_t len);

/*
 * Compute FORM of TEXT (valid UTF-8) into OUT.  Returns 0, or -1 on
 * allocation failure.  A match [a, b) in OUT maps to [start[a], end[b-1])
 * of the original.
 */
int	 normalize(const char *text, size_t len, enum norm_form form,
	    struct normtext *out);
void	 normtext_clear(struct normtext *);

const char *norm_form_name(enum norm_form);

#endif
