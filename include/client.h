/*
 * client: the command-line side of protocol v1.  Connects to modgated's
 * socket, sends one request line and reads one answer line.
 */
#ifndef MODGATE_CLIENT_H
#define MODGATE_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define CLIENT_TIMEOUT_MS	30000		/* for one answer */
#define CLIENT_MAX_ANSWER	(64 * 1024 * 1024)

/*
 * The socket to use: OPT when not NULL, else $MODGATE_SOCKET, else
 * server.socket of the default config, else the built-in default.  A
 * malloc'd string, or NULL when out of memory.
 */
char	*client_socket_path(const char *opt);

/* Connect to the Unix socket PATH: a file descriptor, or -1 (errno set). */
int	 client_connect(const char *path);

/* Write LINE (LEN bytes, no newline) and a newline to FD.  0 or -1. */
int	 client_send(int fd, const char *line, size_t len);

/*
 * Read one line from FD within TIMEOUT_MS into a malloc'd, NUL-terminated
 * *LINE without its newline; bytes after it are dropped.  Returns its
 * length, or -1 (errno: ETIMEDOUT, EMSGSIZE, ECONNRESET at end of stream).
 */
long	 client_recv(int fd, char **line, int timeout_ms);

/*
 * Send REQ (not stolen) to the daemon on SOCK and return its answer object
 * (new reference), or NULL after printing why on stderr; *UNREACHABLE is
 * set to 1 when the daemon could not be reached.
 */
json_t	*client_call(const char *sock, json_t *req, int *unreachable);

#endif
