/*
 * http: the optional HTTP/1.1 front of modgated (libevent evhttp, on the
 * daemon's event loop).  Listens on a Unix socket ("unix:/path") or a TCP
 * address; a TCP listener needs bearer tokens (http.tokens_file).  Serves
 *
 *	POST /v1/moderate	protocol v1 request and answer as JSON bodies
 *	POST /v1/moderations	OpenAI moderation API compatible
 *	POST /v1/stream		streaming moderation, answered as SSE events
 *	POST /v1/streams[/ID[/close]]	the stream ops, one request each
 *	GET  /metrics		Prometheus text
 *	GET  /healthz		the loop answers
 *	GET  /readyz		a snapshot is loaded and the workers run
 *
 * Requests run through the same worker pool and pipeline as the socket.
 */
#ifndef MODGATE_HTTP_H
#define MODGATE_HTTP_H

#include <event2/event.h>

struct http;
struct server;
struct config;
struct front_ops;

/*
 * Check CFG's http section, read the tokens and create the listening
 * socket, before any fork.  NULL after logging (a TCP address without
 * tokens is refused).
 */
struct http	*http_listen(struct server *srv, const struct config *cfg);

/* What http_listen checks, without binding (modgated -t).  0, or -1. */
int		 http_check(const struct config *cfg);

/* Serve on BASE.  0, or -1 after logging. */
int		 http_start(struct http *, struct event_base *base);

/* Stop accepting; requests in flight still get their answers. */
void		 http_stop(struct http *);

/* Requests waiting for the worker pool. */
int		 http_busy(const struct http *);

/* Close everything.  Call after the worker pool is freed.  NULL is a no-op. */
void		 http_free(struct http *);

/* The four above as the server's front (server_add_front). */
extern const struct front_ops http_front;

/* The address served, as configured. */
const char	*http_address(const struct http *);

#endif
