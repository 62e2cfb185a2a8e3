/* log: see include/log.h. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static int		 log_foreground = 1;
static int		 log_verbose;
static int		 log_journal;	/* stderr is a journald stream */
static const char	*log_prog = "modgate";
static _Thread_local char log_request[80];

/*
 * Under systemd, stderr may be a stream to journald (JOURNAL_STREAM names
 * its device and inode): lines then carry a "<N>" syslog priority prefix,
 * which journald strips and records as the line's priority.
 */
static int
log_stderr_is_journal(void)
{
	const char		*e = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(fileno(stderr), &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, int foreground, int verbose)
{
	log_prog = progname;
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_journal = foreground && log_stderr_is_journal();
}

size_t
log_escape(char *dst, size_t size, const char *src)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 n = 0, k;
	char			 e[4];

	if (size == 0)
		return 0;
	for (; *s != '\0'; s++) {
		e[0] = (char)*s;
		k = 1;
		if (*s < 0x20 || *s == 0x7f) {
			e[0] = '\\';
			e[1] = *s == '\n' ? 'n' : *s == '\r' ? 'r' :
			    *s == '\t' ? 't' : 'x';
			k = 2;
			if (e[1] == 'x') {
				e[2] = hex[*s >> 4];
				e[3] = hex[*s & 0xf];
				k = 4;
			}
		}
		if (n + k >= size)
			break;
		memcpy(dst + n, e, k);
		n += k;
	}
	dst[n] = '\0';
	return n;
}

void
log_set_request(const char *id)
{
	size_t	 n;

	if (id == NULL) {
		log_request[0] = '\0';
		return;
	}
	log_request[0] = '[';
	n = 1 + log_escape(log_request + 1, sizeof(log_request) - 3, id);
	memcpy(log_request + n, "] ", 3);
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	 raw[2048], msg[4096];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_escape(msg, sizeof(msg), raw);
	if (log_foreground && log_journal) {
		if (suffix != NULL)
			fprintf(stderr, "<%d>%s%s: %s\n", pri, log_request, msg,
			    suffix);
		else
			fprintf(stderr, "<%d>%s%s\n", pri, log_request, msg);
		fflush(stderr);
	} else if (log_foreground) {
		if (suffix != NULL)
			fprintf(stderr, "%s: %s%s: %s\n", log_prog, log_request,
			    msg, suffix);
		else
			fprintf(stderr, "%s: %s%s\n", log_prog, log_request, msg);
		fflush(stderr);
	} else if (suffix != NULL)
		syslog(pri, "%s%s: %s", log_request, msg, suffix);
	else
		syslog(pri, "%s%s", log_request, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
