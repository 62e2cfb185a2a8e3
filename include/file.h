/*
 * file: read a whole regular file, bounded, for the loaders of rules,
 * models and tokenizers.
 */
#ifndef MODGATE_FILE_H
#define MODGATE_FILE_H

#include <stddef.h>

/*
 * Read the regular file PATH of at most MAX bytes into a new buffer *BUF
 * (the caller frees it) of *LEN bytes plus a terminating NUL.  Returns 0,
 * or -1 with *BUF NULL and why in ERR (ERRLEN bytes; "cannot open: ...",
 * "not a regular file of at most N bytes", ...), logging nothing.
 */
int	 file_read(const char *path, size_t max, char **buf, size_t *len,
	    char *err, size_t errlen);

#endif
