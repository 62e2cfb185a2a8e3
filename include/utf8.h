/*
 * utf8: the implementations behind utf8_valid() (include/normalize.h), for
 * tests that compare them.
 */
#ifndef MODGATE_UTF8_H
#define MODGATE_UTF8_H

#include <stddef.h>

/* utf8_valid() byte at a time (eight at a time over ASCII): 1 or 0. */
int	 utf8_valid_scalar(const char *text, size_t len);
/*
 * utf8_valid() 32 bytes at a time: 1 or 0, or -1 when the processor or
 * the build has no vector path (the caller takes the scalar one).
 */
int	 utf8_valid_simd(const char *text, size_t len);

#endif
