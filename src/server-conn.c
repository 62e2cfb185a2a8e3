/*
 * server-conn: the protocol socket's connections: accept (peer checks and
 * caps), framing of request lines, back-pressure, and answers written in
 * request order.
 *
 * Every connection keeps a queue of pending requests in arrival order.  A
 * request is answered in place (an error, an op) or becomes a job for the
 * worker pool (server-request.c); when a job comes back, or its
 * request_timeout fires first, its pending entry gets its answer line, and
 * answers are flushed from the head of the queue while the head is
 * complete.  All of this state lives on the event loop thread; a job only
 * touches its own request and result.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "protocol.h"
#include "server.h"
#include "server-internal.h"
#include "shed.h"
#include "snapshot.h"
#include "stream.h"

#define CONN_MAX_PENDING	256		/* pipelined requests per connection */
#define CONN_MAX_OUTPUT		(4 * 1024 * 1024) /* unread answer bytes */
#define DRAIN_READ_MAX		(16 * 1024 * 1024) /* per connection, at stop */
#define FLUSH_IOV		64		/* answers per direct write */

static void
conn_pause(struct conn *c, int pause)
{
	if (pause && !c->paused) {
		bufferevent_disable(c->bev, EV_READ);
		c->paused = 1;
	} else if (!pause && c->paused) {
		c->paused = 0;
		if (!c->eof && !c->srv->draining)
			bufferevent_enable(c->bev, EV_READ);
	}
}

static int
conn_congested(struct conn *c)
{
	return c->npending >= CONN_MAX_PENDING ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	    CONN_MAX_OUTPUT;
}

/* Close C when it has nothing more to say.  1 when C was freed. */
static int
conn_maybe_close(struct conn *c)
{
	if (c->eof && c->npending == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return 1;
	}
	return 0;
}

/*
 * Move the complete answers at the head of C's queue out.  With NOW, when
 * nothing waits in C's output buffer, they are written to the socket at
 * once: answers run inline after a read then leave without one more loop
 * pass for writability (and its two epoll_ctl calls).  Otherwise, and for
 * what the socket does not take, they go to the buffer, in order, for the
 * bufferevent to write once per pass (answers of workers come one by one).
 */
static void
conn_write_answers(struct conn *c, int now)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct iovec	 iov[FLUSH_IOV];
	struct pending	*p;
	size_t		 sent = 0, skip;
	ssize_t		 n;
	int		 k = 0;

	if (now && evbuffer_get_length(out) == 0) {
		TAILQ_FOREACH(p, &c->pending, entry) {
			if (p->answer == NULL || k == FLUSH_IOV)
				break;
			iov[k].iov_base = p->answer;
			iov[k++].iov_len = p->len;
		}
		if (k > 0) {
			while ((n = writev(bufferevent_getfd(c->bev), iov,
			    k)) == -1 && errno == EINTR)
				;
			if (n > 0)	/* errors: the bufferevent sees them */
				sent = (size_t)n;
		}
	}
	while ((p = TAILQ_FIRST(&c->pending)) != NULL && p->answer != NULL) {
		skip = sent < p->len ? sent : p->len;
		sent -= skip;
		if (skip < p->len && evbuffer_add(out, p->answer + skip,
		    p->len - skip) == -1)
			log_warnx("conn %llu: answer lost: out of memory",
			    (unsigned long long)c->id);
		pending_free(c, p);
	}
}

/*
 * Write the complete answers at the head of C's queue (NOW: see
 * conn_write_answers), then read on if the queue has room.  1 when C was
 * freed.
 */
static int
conn_flush_now(struct conn *c, int now)
{
	for (;;) {
		conn_write_answers(c, now);
		if (!c->paused || conn_congested(c))
			break;
		conn_pause(c, 0);
		conn_read(c);		/* lines that waited in the buffer */
		/* Requests run inline are answered already: write them. */
	}
	return conn_maybe_close(c);
}

int
conn_flush(struct conn *c)
{
	return conn_flush_now(c, 0);
}

/*
 * Frame and handle the complete lines in C's input, bounded by
 * server.max_request_bytes.  An over-long line is answered too_large and
 * the rest of it discarded up to its newline.
 */
void
conn_read(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr pos;
	size_t		 max, avail, len, eol, used;
	char		*line;

	while (!conn_congested(c)) {
		max = (size_t)c->srv->snap->cfg->server.max_request_bytes;
		avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		pos = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_LF);
		if (c->discarding) {
			if (pos.pos == -1) {
				evbuffer_drain(in, avail);
				break;
			}
			evbuffer_drain(in, (size_t)pos.pos + eol);
			c->discarding = 0;
			continue;
		}
		if (pos.pos == -1) {
			if (avail > max + 1) {	/* room for a "\r" */
				conn_error(c, NULL, "too_large", "request "
				    "line longer than server.max_request_bytes");
				c->discarding = 1;
				evbuffer_drain(in, avail);
				continue;
			}
			if (!c->eof || c->srv->draining)
				break;
			/* The last line of the stream lacks its newline. */
			len = avail;
			eol = 0;
		} else {
			len = (size_t)pos.pos;
		}
		if (len > max + 1) {
			conn_error(c, NULL, "too_large", "request line longer "
			    "than server.max_request_bytes");
			evbuffer_drain(in, len + eol);
			continue;
		}
		line = (char *)evbuffer_pullup(in, (ssize_t)len);
		if (line == NULL && len > 0) {
			conn_error(c, NULL, "internal", "out of memory");
			evbuffer_drain(in, len + eol);
			continue;
		}
		/* A "\r" before the newline does not count. */
		if (len == max + 1 && line[max] != '\r') {
			conn_error(c, NULL, "too_large", "request line longer "
			    "than server.max_request_bytes");
			evbuffer_drain(in, len + eol);
			continue;
		}
		used = len + eol;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0)
			conn_request(c, line, len);
		evbuffer_drain(in, used);
	}
	if (conn_congested(c))
		conn_pause(c, 1);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->srv->pass_first == 0)
		c->srv->pass_first = clock_mono_us();
	conn_read(c);
	conn_flush_now(c, 1);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	/* The output drained: read on, or close a finished connection. */
	conn_flush(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_EOF) {
		/* Half close: answer what was sent, then close. */
		c->eof = 1;
		conn_read(c);
		conn_flush(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    c->npending > 0) {
		bufferevent_enable(bev, EV_READ);	/* waiting, not idle */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("conn %llu: %s timeout", (unsigned long long)c->id,
		    (what & BEV_EVENT_READING) ? "idle" : "write");
	else if (what & BEV_EVENT_ERROR)
		log_debug("conn %llu: %s", (unsigned long long)c->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
}

void
conn_free(struct conn *c)
{
	struct server	*srv = c->srv;
	struct pending	*p;

	while ((p = TAILQ_FIRST(&c->pending)) != NULL)
		pending_free(c, p);
	stream_drop_owner(c->id);
	bufferevent_free(c->bev);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	log_debug("conn %llu: closed", (unsigned long long)c->id);
	free(c);
	if (srv->draining && srv->nconns == 0 && !server_fronts_busy(srv))
		event_base_loopexit(srv->base, NULL);
}

/* Tell a refused client why, without waiting for it, and close. */
static void
refuse(int fd, const char *code, const char *msg)
{
	char	*line;
	size_t	 len = 0;

	if ((line = protocol_error(NULL, code, msg, &len)) != NULL) {
		(void)send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(line);
	}
	close(fd);
}

void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server			*srv = arg;
	const struct server_conf	*sv = &srv->snap->cfg->server;
	struct ucred			 cred;
	socklen_t			 clen = sizeof(cred);
	struct conn			*c, *o;
	struct timeval			 idle;
	int				 fd, peruid;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED &&
			    !shed_accept_error(srv->shed, lfd, errno))
				log_warn("accept");
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &clen) == -1) {
			log_warn("SO_PEERCRED");
			close(fd);
			continue;
		}
		if (!peer_allowed(sv, &(struct peer){ cred.pid, cred.uid,
		    cred.gid }, fd)) {
			log_warnx("refused pid %d uid %u gid %u: not in "
			    "allowed_uids or allowed_gids", (int)cred.pid,
			    (unsigned int)cred.uid, (unsigned int)cred.gid);
			metrics_refused("not_allowed");
			refuse(fd, "bad_request", "peer not allowed");
			continue;
		}
		peruid = 0;
		TAILQ_FOREACH(o, &srv->conns, entry)
			if (o->peer.uid == cred.uid)
				peruid++;
		if (srv->nconns >= sv->max_connections ||
		    (sv->max_connections_per_uid > 0 &&
		    peruid >= sv->max_connections_per_uid)) {
			log_warnx("refused pid %d uid %u: %s", (int)cred.pid,
			    (unsigned int)cred.uid,
			    srv->nconns >= sv->max_connections ?
			    "max_connections" : "max_connections_per_uid");
			metrics_refused(srv->nconns >= sv->max_connections ?
			    "max_connections" : "max_connections_per_uid");
			refuse(fd, "overloaded", "too many connections");
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("accept");
			close(fd);
			continue;
		}
		c->srv = srv;
		c->id = ++srv->next_conn_id;
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		TAILQ_INIT(&c->pending);
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			log_warnx("accept: bufferevent_socket_new failed");
			close(fd);
			free(c);
			continue;
		}
		bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb,
		    conn_event_cb, c);
		idle.tv_sec = sv->idle_timeout;
		idle.tv_usec = 0;
		if (sv->idle_timeout > 0)
			bufferevent_set_timeouts(c->bev, &idle, &idle);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		TAILQ_INSERT_TAIL(&srv->conns, c, entry);
		srv->nconns++;
		metrics_connection();
		log_debug("conn %llu: pid %d uid %u gid %u",
		    (unsigned long long)c->id, (int)cred.pid,
		    (unsigned int)cred.uid, (unsigned int)cred.gid);
	}
}

/*
 * Move what the client has already sent, still in the socket buffer, into
 * C's input, up to DRAIN_READ_MAX bytes: at a stop, every request sent
 * before it gets its answer.
 */
void
conn_slurp(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);
	size_t		 got = 0;
	int		 n;

	while (got < DRAIN_READ_MAX && (n = evbuffer_read(in, fd, 65536)) > 0)
		got += (size_t)n;
}
