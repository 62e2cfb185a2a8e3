/*
 * test-shed: accept(2) out of descriptors: the waiting connection is told
 * and closed on the reserve descriptor, the listener pauses and resumes,
 * and other errors are left to the caller.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "shed.h"

#define REPLY	"{\"error\":{\"code\":\"overloaded\"}}\n"

static int	 pauses, resumes;

static void
pause_cb(void *arg, int on)
{
	if (on)
		pauses++;
	else {
		resumes++;
		event_base_loopbreak(arg);
	}
}

/* A listening Unix socket in a fresh directory; its path in PATH. */
static int
listener(char *path, size_t len)
{
	struct sockaddr_un	 sun;
	char			 dir[] = "/tmp/test-shed.XXXXXX";
	int			 fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, len, "%s/s", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* The lowest free descriptor: what accept(2) would get. */
static int
lowest_free(int any)
{
	int	 fd = dup(any);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static void
test_emfile(void **state)
{
	struct event_base	*base = event_base_new();
	struct shed		*s;
	struct rlimit		 old, low;
	struct timeval		 tv = { 5, 0 };
	char			 path[96], buf[256];
	int			 lfd, c1, c2, fd, err;
	ssize_t			 n;

	assert_non_null(base);
	lfd = listener(path, sizeof(path));
	s = shed_new(base, "test", pause_cb, base, REPLY, strlen(REPLY));
	assert_non_null(s);
	c1 = connect_to(path);
	c2 = connect_to(path);
	/* No descriptor free past the ones open now (the reserve among them). */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest_free(lfd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	fd = accept(lfd, NULL, NULL);
	err = errno;
	assert_int_equal(fd, -1);
	assert_int_equal(err, EMFILE);
	assert_int_equal(shed_accept_error(s, lfd, err), 1);
	assert_int_equal(pauses, 1);
	/* Both waiting clients were told and closed; the reserve is back. */
	n = recv(c1, buf, sizeof(buf), 0);
	assert_int_equal(n, (ssize_t)strlen(REPLY));
	assert_memory_equal(buf, REPLY, strlen(REPLY));
	assert_int_equal(recv(c1, buf, sizeof(buf), 0), 0);
	assert_int_equal(recv(c2, buf, sizeof(buf), 0), (ssize_t)strlen(REPLY));
	errno = 0;
	assert_int_equal(dup(lfd), -1);
	assert_int_equal(errno, EMFILE);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* The listener rests SHED_PAUSE_MS, then is watched again. */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(resumes, 1);
	/* Other errors are the caller's. */
	assert_int_equal(shed_accept_error(s, lfd, EBADF), 0);
	assert_int_equal(pauses, 1);
	assert_false(shed_exhausted(EAGAIN));
	assert_true(shed_exhausted(ENFILE));
	shed_free(s);
	close(c1);
	close(c2);
	close(lfd);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
