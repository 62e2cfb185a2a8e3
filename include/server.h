/*
 * server: the libevent loop of modgated.  Accepts connections on the Unix
 * socket, frames request lines, hands moderation work to the worker pool
 * and writes answers back in request order per connection.  Signals:
 * SIGHUP reload, SIGTERM/SIGINT graceful stop, SIGUSR1 audit reopen hook.
 */
#ifndef MODGATE_SERVER_H
#define MODGATE_SERVER_H

#include <stddef.h>

struct event_base;
struct server;
struct snapshot;
struct audit;

/*
 * A front other than the protocol socket (the HTTP listener): a way in for
 * requests, served on the daemon's event loop.  The server calls START
 * once the loop and the workers exist, STOP when it stops (no new requests;
 * those in flight still get their answers), BUSY to know whether requests
 * are left, and FREE after the worker pool is gone.
 */
struct front_ops {
	int	(*start)(void *arg, struct event_base *base);
	void	(*stop)(void *arg);
	int	(*busy)(const void *arg);
	void	(*free)(void *arg);
};
#define SERVER_MAX_FRONTS	4

/*
 * A server for SNAP (its reference passes to the server), reloading from
 * CONFIG_FILE with SOCKET (may be NULL) overriding server.socket.  NULL
 * after logging.
 */
struct server	*server_new(const char *config_file, const char *socket,
		    struct snapshot *snap);
void		 server_free(struct server *);

/*
 * Serve front ARG with OPS too, from server_run on; the server frees it.
 * Call before server_run.  0, or -1 when SERVER_MAX_FRONTS are there.
 */
int		 server_add_front(struct server *, const struct front_ops *ops,
		    void *arg);

/* The audit log passed to every pipeline run (NULL: none). */
void		 server_set_audit(struct server *, struct audit *);
/* FN(ARG) runs on SIGUSR1 (audit log reopen). */
void		 server_set_reopen_hook(struct server *, void (*fn)(void *),
		    void *arg);

/*
 * Create, bind and listen on the socket of the snapshot's config: umask
 * before bind, mode and group from the config, a stale socket removed only
 * when nothing listens on it.  0, or -1 after logging.
 */
int		 server_listen(struct server *);

/*
 * Start the workers and serve until SIGTERM or SIGINT, then finish the
 * requests in flight.  Call after any fork.  0 on a graceful stop, -1 when
 * the loop could not start.
 */
int		 server_run(struct server *);

/* For the fronts: the current snapshot (not a new reference), the worker
 * pool, the audit log (NULL: none). */
struct snapshot	*server_snapshot(struct server *);
struct worker_pool *server_workers(struct server *);
struct audit	*server_audit(struct server *);
/* The Prometheus text of every metric, malloc'd, or NULL. */
char		*server_metrics(struct server *, size_t *len);
/* A front has no request left: a stop may finish. */
void		 server_front_idle(struct server *);

#endif
