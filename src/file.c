/* file: see include/file.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"

int
file_read(const char *path, size_t max, char **buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat	 sb;
	size_t		 off = 0;
	ssize_t		 r;
	int		 fd, rc = -1;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size < 0 ||
	    (uintmax_t)sb.st_size > max) {
		snprintf(err, errlen, "not a regular file of at most %zu bytes",
		    max);
		goto out;
	}
	*len = (size_t)sb.st_size;
	if ((*buf = malloc(*len + 1)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	while (off < *len) {
		r = read(fd, *buf + off, *len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "read: %s", r == 0 ?
			    "file shrank while reading" : strerror(errno));
			goto out;
		}
		off += (size_t)r;
	}
	(*buf)[*len] = '\0';
	rc = 0;
out:
	if (rc == -1) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	close(fd);
	return rc;
}
