/*
 * echo-server: the floor under modgated's numbers.  A minimal libevent
 * server on a Unix stream socket of the same kind: it reads request lines
 * and answers each with one fixed-size JSON line, doing no parsing, no
 * moderation and no threads.  bench/load.sh runs it beside modgated in the
 * same run so that the protocol's and the daemon's own overhead is visible.
 *
 *	echo-server -s SOCKET [-a ANSWER_BYTES]
 *
 * Stops on SIGTERM or SIGINT.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static char	*answer;
static size_t	 answer_len;

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(bev);
	struct evbuffer_ptr p;

	/* One answer per complete line; the line itself is dropped. */
	for (;;) {
		p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (p.pos == -1)
			break;
		evbuffer_drain(in, (size_t)p.pos + 1);
		evbuffer_add(out, answer, answer_len);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct event_base	*base;
	struct evconnlistener	*l;
	struct event		*term, *intr;
	struct sockaddr_un	 sun;
	const char		*path = NULL;
	size_t			 bytes = 400, i;
	int			 ch;

	while ((ch = getopt(argc, argv, "a:s:")) != -1) {
		switch (ch) {
		case 'a':
			bytes = strtoul(optarg, NULL, 10);
			break;
		case 's':
			path = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (path == NULL || strlen(path) >= sizeof(sun.sun_path) ||
	    bytes < 32 || bytes > 65536)
		goto usage;

	/* {"id":null,"verdict":"allow","pad":"xxx…"}\n of BYTES bytes. */
	if ((answer = malloc(bytes + 1)) == NULL)
		return 1;
	answer_len = (size_t)snprintf(answer, bytes + 1,
	    "{\"id\":null,\"verdict\":\"allow\",\"pad\":\"");
	for (i = answer_len; i < bytes - 3; i++)
		answer[i] = 'x';
	memcpy(answer + bytes - 3, "\"}\n", 3);
	answer_len = bytes;

	signal(SIGPIPE, SIG_IGN);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	unlink(path);
	if ((base = event_base_new()) == NULL)
		return 1;
	l = evconnlistener_new_bind(base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE, 1024, (struct sockaddr *)&sun,
	    sizeof(sun));
	if (l == NULL) {
		perror(path);
		return 1;
	}
	term = evsignal_new(base, SIGTERM, signal_cb, base);
	intr = evsignal_new(base, SIGINT, signal_cb, base);
	if (term == NULL || intr == NULL || evsignal_add(term, NULL) == -1 ||
	    evsignal_add(intr, NULL) == -1)
		return 1;
	event_base_dispatch(base);
	evconnlistener_free(l);
	event_free(term);
	event_free(intr);
	event_base_free(base);
	unlink(path);
	free(answer);
	return 0;
usage:
	fprintf(stderr, "usage: echo-server -s socket [-a answer_bytes]\n");
	return 64;
}
