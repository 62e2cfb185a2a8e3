/* sdnotify: see include/sdnotify.h. */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "log.h"
#include "sdnotify.h"

static struct event	*watchdog_ev;

int
sdnotify_listen_fd(void)
{
	int	 n, fd, flags;

	n = sd_listen_fds(1);
	if (n < 0) {
		log_warnx("sd_listen_fds: %s", strerror(-n));
		return -2;
	}
	if (n == 0)
		return -1;
	if (n > 1) {
		log_warnx("socket activation passed %d sockets, expected 1", n);
		return -2;
	}
	fd = SD_LISTEN_FDS_START;
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_warnx("socket activation: fd %d is not a listening Unix "
		    "stream socket", fd);
		return -2;
	}
	if ((flags = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1 ||
	    (flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_warn("fcntl on inherited socket");
		return -2;
	}
	return fd;
}

static void
notify(const char *state)
{
	int	 r;

	r = sd_notify(0, state);
	if (r < 0)
		log_warnx("sd_notify \"%s\": %s", state, strerror(-r));
}

void
sdnotify_ready(const char *status)
{
	char	 buf[512];

	if (status == NULL) {
		notify("READY=1");
		return;
	}
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status);
	notify(buf);
}

void
sdnotify_reloading(void)
{
	char		 buf[96];
	uint64_t	 usec = clock_mono_us();

	/*
	 * A reload loads on the event loop: reset the watchdog first, so
	 * that the load gets a whole period before the next ping is due.
	 */
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu%s",
	    (unsigned long long)usec, watchdog_ev != NULL ? "\nWATCHDOG=1" : "");
	notify(buf);
}

void
sdnotify_stopping(void)
{
	notify("STOPPING=1");
}

void
sdnotify_status(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	notify(buf);
}

static void
watchdog_ping(evutil_socket_t fd, short what, void *arg)
{
	notify("WATCHDOG=1");
}

int
sdnotify_watchdog_start(struct event_base *base)
{
	struct timeval	 tv;
	uint64_t	 usec;
	int		 r;

	r = sd_watchdog_enabled(0, &usec);
	if (r < 0) {
		log_warnx("sd_watchdog_enabled: %s", strerror(-r));
		return -1;
	}
	if (r == 0 || usec == 0)
		return 0;
	usec /= 2;
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	sdnotify_watchdog_stop();
	watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_ping, NULL);
	if (watchdog_ev == NULL || event_add(watchdog_ev, &tv) == -1) {
		log_warnx("cannot arm the watchdog timer");
		sdnotify_watchdog_stop();
		return -1;
	}
	notify("WATCHDOG=1");
	log_debug("watchdog ping every %llu us", (unsigned long long)usec);
	return 1;
}

void
sdnotify_watchdog_stop(void)
{
	if (watchdog_ev != NULL) {
		event_free(watchdog_ev);
		watchdog_ev = NULL;
	}
}
