/*
 * http-internal: what http.c (requests) and http-listen.c (sockets and
 * bearer tokens) share.  Not for other modules.
 */
#ifndef MODGATE_HTTP_INTERNAL_H
#define MODGATE_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <netdb.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sodium.h>

#include "config.h"

struct proxy;
struct server;

#define HTTP_MAX_TOKENS		256
#define HTTP_TOKEN_MAX		256	/* bytes of one token */
#define HTTP_TOKEN_MIN		16
#define HTTP_NAME_MAX		64

/* One bearer token of http.tokens_file: its name and a hash of it. */
struct bearer_token {
	char		 name[HTTP_NAME_MAX];
	unsigned char	 hash[crypto_generichash_BYTES];
};

struct http {
	struct server		*srv;
	char			*address;	/* as configured */
	char			*unix_path;	/* NULL: TCP */
	int			 fd;
	int			 timeout;	/* seconds, evhttp */
	int			 max_body;
	struct bearer_token	*tokens;
	size_t			 ntokens;
	struct event_base	*base;
	struct evhttp		*evh;
	struct evhttp_bound_socket *bound;
	struct frames		*frames;	/* request framing */
	struct event		*ev_expire;	/* idle /v1/streams sessions */
	struct proxy		*proxy;		/* NULL: no proxy section */
	int			 busy;		/* calls waiting for jobs */
	struct shed		*shed;		/* accept out of descriptors */
	int			 shed_paused;
	int			 stopped;
	uint64_t		 next_owner;
};

/*
 * Read the tokens file PATH into H (hashes and names only).  0, or -1
 * after logging "file:line: message".
 */
int		 http_tokens_load(struct http *h, const char *path);
/* The name of the token REQ bears, "" when H needs none, or NULL. */
const char	*http_token_check(const struct http *h,
		    struct evhttp_request *req);
/* The numeric "ADDRESS:PORT" ADDR in *RES (freeaddrinfo it).  0, or -1. */
int		 http_tcp_resolve(const char *addr, struct addrinfo **res);
/* Bind and listen into H->fd; the Unix socket gets SV's mode and group. */
int		 http_listen_tcp(struct http *h, const char *addr);
int		 http_listen_unix(struct http *h, const char *path,
		    const struct server_conf *sv);

/*
 * http-accept.c.  Once H->bound listens: accept(2) out of descriptors sheds
 * and pauses instead of spinning.  0, or -1 after logging.
 */
int		 http_accept_start(struct http *h);
/* Before the listener goes: no more pauses or resumes. */
void		 http_accept_stop(struct http *h);

#endif
