/*
 * normalize-internal: for the rules stage and tests.  normalize() takes a
 * one-pass path for ASCII text; normalize_general() is the general path it
 * must agree with (tests/unit/test-normalize.c compares them).
 */
#ifndef MODGATE_NORMALIZE_INTERNAL_H
#define MODGATE_NORMALIZE_INTERNAL_H

#include "normalize.h"

/*
 * 1 when the skeleton form of TEXT is sure to equal its normalized form
 * (ASCII text with nothing for leetspeak to fold), so that a caller may
 * compute one and use it for both; 0 when it may differ.
 */
int	 normalize_skeleton_same(const char *text, size_t len);
/*
 * normalize() that also sets in *FLAGS NORM_ASCII when the text was all
 * ASCII, and NORM_LEET unless it is sure that no character for leetspeak
 * to fold occurs (then the skeleton is the normalized form).
 */
#define NORM_ASCII	1
#define NORM_LEET	2
int	 normalize_flags(const char *text, size_t len, enum norm_form form,
	    struct normtext *out, unsigned *flags);
int	 normalize_general(const char *text, size_t len, enum norm_form form,
	    struct normtext *out);
/*
 * normalize_flags() that may leave OUT's maps out (start and end NULL)
 * when MAPS is 0, for a caller that needs them only when a rule may
 * match: computing the form again with MAPS 1 gives the same text.
 */
int	 normalize_maps(const char *text, size_t len, enum norm_form form,
	    struct normtext *out, unsigned *flags, int maps);
/*
 * For tests: ON 0 makes every thread decode code points with utf8proc
 * alone, not from the per-code-point cache of the BMP; 1 (the default)
 * uses the cache.  Returns the previous setting.
 */
int	 normalize_cache(int on);

#endif
