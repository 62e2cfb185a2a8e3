/*
 * normalize-internal: for tests only.  normalize() takes a one-pass path
 * for ASCII text; normalize_general() is the general path it must agree
 * with (tests/unit/test-normalize.c compares them).
 */
#ifndef MODGATE_NORMALIZE_INTERNAL_H
#define MODGATE_NORMALIZE_INTERNAL_H

#include "normalize.h"

int	 normalize_general(const char *text, size_t len, enum norm_form form,
	    struct normtext *out);

#endif
