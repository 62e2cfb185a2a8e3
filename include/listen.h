/*
 * listen: the one place that binds a Unix socket, for every front (the
 * protocol socket, the HTTP listener on "unix:").
 */
#ifndef MODGATE_LISTEN_H
#define MODGATE_LISTEN_H

/*
 * Bind and listen on the Unix socket PATH, non-blocking and close-on-exec:
 * a socket file left there is removed when nothing accepts on it (another
 * server's is kept: an error), umask before bind so that the socket is
 * never more open than MODE, then chmod MODE and, when GROUP is not "",
 * chown to GROUP.  Returns the descriptor, or -1 after logging; on failure
 * no socket file of ours is left.
 */
int	 listen_unix(const char *path, int mode, const char *group);

#endif
