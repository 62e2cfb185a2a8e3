/*
 * log: operational logging in the err(3) style.  To stderr in the
 * foreground (-F) and for the command-line tool, to syslog otherwise.
 * A thread may set a request id that prefixes every line it logs.
 */
#ifndef MODGATE_LOG_H
#define MODGATE_LOG_H

#include <stdarg.h>
#include <stddef.h>

void	 log_init(const char *progname, int foreground, int verbose);
/*
 * Prefix this thread's lines with "[ID] " (escaped as by log_escape) until
 * log_set_request(NULL).
 */
void	 log_set_request(const char *id);
/*
 * Copy SRC into DST (SIZE bytes, always NUL-terminated, cut if need be
 * before an escape, never inside one) with every control character (bytes below 0x20, and 0x7f)
 * written as \n, \r, \t or \xHH, so that a string a client chose cannot
 * start a log line of its own nor carry a syslog priority.  Every line
 * goes through it.  Returns the length of DST.
 */
size_t	 log_escape(char *dst, size_t size, const char *src);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
