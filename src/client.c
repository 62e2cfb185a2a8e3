/*
 * client: one request, one answer over the Unix socket.  See
 * include/client.h.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "config.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/modgate/modgated.conf"
#define DEFAULT_SOCKET	"/run/modgate/modgated.sock"

char *
client_socket_path(const char *opt)
{
	struct config	*cfg;
	const char	*env;
	char		*s;

	if (opt != NULL)
		return strdup(opt);
	if ((env = getenv("MODGATE_SOCKET")) != NULL && env[0] != '\0')
		return strdup(env);
	if (access(DEFAULT_CONFIG, R_OK) == 0 &&
	    (cfg = config_load(DEFAULT_CONFIG)) != NULL) {
		s = strdup(cfg->server.socket);
		config_free(cfg);
		return s;
	}
	return strdup(DEFAULT_SOCKET);
}

int
client_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
client_send(int fd, const char *line, size_t len)
{
	ssize_t	 n;
	size_t	 off = 0;

	while (off < len) {
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		off += (size_t)n;
	}
	while ((n = send(fd, "\n", 1, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

long
client_recv(int fd, char **line, int timeout_ms)
{
	struct pollfd	 pfd;
	struct timespec	 t0;
	char		*buf = NULL, *nl, *nbuf;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	long		 left;
	int		 rv;

	*line = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((left = timeout_ms - ms_since(&t0)) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((rv = poll(&pfd, 1, (int)left)) == -1 && errno == EINTR)
			continue;
		if (rv == -1)
			goto fail;
		if (rv == 0)
			continue;
		if (cap - len < 4096) {
			if (cap >= CLIENT_MAX_ANSWER) {
				errno = EMSGSIZE;
				goto fail;
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0) {
			errno = ECONNRESET;
			goto fail;
		}
		if ((nl = memchr(buf + len, '\n', (size_t)n)) != NULL) {
			*nl = '\0';
			*line = buf;
			return (long)(nl - buf);
		}
		len += (size_t)n;
	}
fail:
	free(buf);
	return -1;
}

json_t *
client_call(const char *sock, json_t *req, int *unreachable)
{
	json_error_t	 jerr;
	json_t		*ans = NULL;
	char		*line = NULL, *answer = NULL;
	long		 n;
	int		 fd;

	*unreachable = 0;
	if ((fd = client_connect(sock)) == -1) {
		fprintf(stderr, "modgate: %s: %s\n", sock, strerror(errno));
		*unreachable = 1;
		return NULL;
	}
	if ((line = json_dumps(req, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "modgate: cannot encode the request\n");
		goto done;
	}
	if (client_send(fd, line, strlen(line)) == -1) {
		fprintf(stderr, "modgate: %s: send: %s\n", sock,
		    strerror(errno));
		*unreachable = 1;
		goto done;
	}
	shutdown(fd, SHUT_WR);
	if ((n = client_recv(fd, &answer, CLIENT_TIMEOUT_MS)) == -1) {
		fprintf(stderr, "modgate: %s: no answer: %s\n", sock,
		    strerror(errno));
		*unreachable = 1;
		goto done;
	}
	if ((ans = json_loadb(answer, (size_t)n, 0, &jerr)) == NULL ||
	    !json_is_object(ans)) {
		fprintf(stderr, "modgate: unreadable answer: %s\n", jerr.text);
		json_decref(ans);
		ans = NULL;
	}
done:
	free(line);
	free(answer);
	close(fd);
	return ans;
}
