/*
 * http-frame: the request framing in front of evhttp.
 *
 * libevent 2.1 answers a body over its limit, or a chunked body it cannot
 * read, with its own HTML page before the HTTP front sees the request.  A
 * frame reads each request's header block and body itself, as the bytes
 * arrive on the connection and before evhttp parses them, and hands evhttp
 * only requests it will take:
 *
 *	a body within the limit	as sent (a chunked one de-chunked, with its
 *				Content-Length, once it is whole)
 *	a body over the limit	the header block with "Content-Length: 0"
 *				and FRAME_HEADER "too_large"; the body is
 *				read and dropped, so the connection stays
 *				usable
 *	a malformed chunked body	the header block with FRAME_HEADER
 *				"bad_request"; the rest of the connection is
 *				dropped (answer it with Connection: close)
 *	a header block evhttp refuses after its request line (a line without
 *				':', a bad Content-Length): the request line
 *				alone with FRAME_HEADER "bad_request"; the
 *				rest is dropped
 *
 * Anything else it cannot follow (a bad request line, a block over the
 * header limit, a line with CR or NUL, a long value) and a chunked body
 * sent with "Expect:" pass through untouched from then on, and evhttp
 * deals with them as it always did.
 * Memory: at most one header block and one body within the limit.
 */
#ifndef MODGATE_HTTP_FRAME_H
#define MODGATE_HTTP_FRAME_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

/* The header a frame sets on a request whose body it dropped. */
#define FRAME_HEADER	"Modgate-Body"

struct frame;
struct frames;

/* A frame for one connection: bodies up to MAX_BODY, blocks to MAX_HEAD. */
struct frame	*frame_new(size_t max_body, size_t max_head);
void		 frame_free(struct frame *);

/*
 * Take everything SRC holds and append to DST what evhttp should read,
 * keeping what is not whole yet.  0, or -1 when memory ran out (the frame
 * then passes bytes through untouched).
 */
int		 frame_run(struct frame *, struct evbuffer *src,
		    struct evbuffer *dst);

/*
 * The frames of one evhttp: frames_bev is its evhttp_set_bevcb callback
 * (ARG the frames), which puts a frame on each new connection; a frame
 * goes with its connection.  frames_free after evhttp_free.
 */
struct frames	*frames_new(size_t max_body, size_t max_head);
struct bufferevent *frames_bev(struct event_base *base, void *arg);
void		 frames_free(struct frames *);

#endif
