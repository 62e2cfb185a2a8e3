/*
 * audit-read: read an audit log a line at a time with a bounded line
 * length, counting bytes for a progress bar.  Used by `modgate audit`.
 */
#ifndef MODGATE_AUDIT_READ_H
#define MODGATE_AUDIT_READ_H

#include <stddef.h>
#include <stdint.h>

struct audit_reader;

/* Read FD (not closed by the reader) with lines of at most MAX bytes. */
struct audit_reader *audit_reader_new(int fd, size_t max);
void		 audit_reader_free(struct audit_reader *);

/*
 * The next line, without its newline, in *LINE (valid until the next call)
 * and *LEN.  *COMPLETE is 0 when the input ended without a newline.  A
 * line longer than MAX is skipped to its end and reported with *LEN set to
 * its full length and *LINE NULL.  Returns 1 for a line, 0 at the end,
 * -1 on a read error (errno set).
 */
int		 audit_reader_next(struct audit_reader *, const char **line,
		    size_t *len, int *complete);
/* Bytes consumed so far. */
uint64_t	 audit_reader_offset(const struct audit_reader *);

#endif
