/*
 * log: operational logging in the err(3) style.  To stderr in the
 * foreground (-F) and for the command-line tool, to syslog otherwise.
 * A thread may set a request id that prefixes every line it logs.
 */
#ifndef MODGATE_LOG_H
#define MODGATE_LOG_H

#include <stdarg.h>

void	 log_init(const char *progname, int foreground, int verbose);
/* Prefix this thread's lines with "[ID] " until log_set_request(NULL). */
void	 log_set_request(const char *id);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
