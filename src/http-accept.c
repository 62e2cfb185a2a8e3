/*
 * http-accept: how the HTTP front accepts.  evhttp accepts through an
 * evconnlistener; when accept(2) runs out of descriptors the listener's
 * error callback hands the failure to the shed (include/shed.h), which
 * answers the waiting connections 503 "overloaded" and pauses the
 * listener.  See include/http-internal.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "http-internal.h"
#include "log.h"
#include "protocol.h"
#include "shed.h"

/*
 * libevent gives the listener's error callback evhttp's pointer, not ours:
 * the front whose listener is up (a daemon has one HTTP front).
 */
static struct http	*accepting;

static struct evconnlistener *
http_listener(struct http *h)
{
	return evhttp_bound_socket_get_listener(h->bound);
}

/* Listen when nothing holds the listener back. */
static void
http_accept_update(struct http *h)
{
	if (h->stopped || h->bound == NULL)
		return;
	if (h->shed_paused)
		evconnlistener_disable(http_listener(h));
	else
		evconnlistener_enable(http_listener(h));
}

static void
http_shed_pause(void *arg, int on)
{
	struct http	*h = arg;

	h->shed_paused = on;
	http_accept_update(h);
}

static void
http_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int	 err = EVUTIL_SOCKET_ERROR();

	if (accepting == NULL ||
	    !shed_accept_error(accepting->shed, evconnlistener_get_fd(lev),
	    err))
		log_warnx("http: accept: %s", strerror(err));
}

/*
 * A whole HTTP/1.1 reply that refuses a connection before reading it:
 * 503, CODE and MSG in the protocol's error shape, "Connection: close".
 * malloc'd, its length in *LEN; NULL when out of memory.
 */
static char *
http_refusal(const char *code, const char *msg, size_t *len)
{
	char	*body, *reply = NULL;
	size_t	 blen = 0;
	int	 n;

	if ((body = protocol_error(NULL, code, msg, &blen)) == NULL)
		return NULL;
	n = asprintf(&reply, "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nRetry-After: 1\r\n"
	    "Connection: close\r\n\r\n%s", blen, body);
	free(body);
	if (n == -1)
		return NULL;
	*len = (size_t)n;
	return reply;
}

int
http_accept_start(struct http *h)
{
	char	*reply;
	size_t	 len = 0;

	if ((reply = http_refusal("overloaded", "out of file descriptors",
	    &len)) == NULL) {
		log_warnx("http: out of memory");
		return -1;
	}
	h->shed = shed_new(h->base, h->address, http_shed_pause, h, reply,
	    len);
	free(reply);
	if (h->shed == NULL)
		return -1;
	evconnlistener_set_error_cb(http_listener(h), http_accept_error_cb);
	accepting = h;
	return 0;
}

void
http_accept_stop(struct http *h)
{
	if (accepting == h)
		accepting = NULL;
	shed_free(h->shed);
	h->shed = NULL;
}
