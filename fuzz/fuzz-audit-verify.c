/*
 * fuzz-audit-verify: the audit log verifier over arbitrary bytes, split
 * into lines by the bounded line reader (small line limit, so overlong
 * lines are exercised too), with and without a pinned key and with a chain
 * allowed to start mid-way.  The outcome must be consistent: intact, or a
 * kind, a message and a line number within the input.  The RFC 3339 parser
 * gets the first line.
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit-read.h"
#include "audit-record.h"
#include "audit-verify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run(int fd, size_t size, const unsigned char *pk, int flags, size_t max)
{
	struct audit_verify		*v;
	struct audit_verify_result	 r;
	struct audit_reader		*rd;
	const char			*line;
	size_t				 len, lines = 0;
	int				 complete, n, stop = 0;

	if (lseek(fd, 0, SEEK_SET) == -1)
		abort();
	if ((v = audit_verify_new(pk, flags)) == NULL ||
	    (rd = audit_reader_new(fd, max)) == NULL)
		abort();
	audit_verify_file(v, "fuzz");
	while (!stop && (n = audit_reader_next(rd, &line, &len, &complete))
	    == 1) {
		lines++;
		if (len > size || (line == NULL) != (len > max))
			abort();
		stop = audit_verify_line(v, line != NULL ? line : "", line !=
		    NULL ? len : 0, complete);
	}
	if (!stop && audit_reader_offset(rd) != size)
		abort();
	if (audit_verify_finish(v, &r) == 0) {
		if (!r.ok)
			abort();
	} else if (r.ok || r.kind == NULL || r.message[0] == '\0' ||
	    (r.line == 0 && lines > 0) || r.line > lines)
		abort();
	audit_reader_free(rd);
	audit_verify_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char pk[32] = { 1, 2, 3 };
	char		 ts[64];
	const uint8_t	*nl;
	int64_t		 us;
	size_t		 n;
	int		 fd;

	nl = memchr(data, '\n', size);
	n = nl != NULL ? (size_t)(nl - data) : size;
	if (n < sizeof(ts)) {
		memcpy(ts, data, n);
		ts[n] = '\0';
		(void)audit_ts_parse(ts, &us);
	}
	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	run(fd, size, NULL, 0, AUDIT_LINE_MAX);
	run(fd, size, pk, AUDIT_VERIFY_MIDDLE, AUDIT_LINE_MAX);
	run(fd, size, NULL, AUDIT_VERIFY_MIDDLE, 300);
	close(fd);
	return 0;
}
