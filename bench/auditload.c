/*
 * auditload: drive modgated over its socket and print answers per second.
 *
 *	auditload -s SOCKET [-c CONNECTIONS] [-d SECONDS] [-w WINDOW] [-b BYTES]
 *
 * Each connection is a thread that pipelines WINDOW requests of BYTES of
 * text, reads their WINDOW answers, and repeats until the time is up.
 * Prints "requests N seconds S rps R errors E" on stdout.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char	*sockpath;
static int		 window = 16, textbytes = 200;
static double		 seconds = 3;
static atomic_ulong	 done, errors;
static atomic_int	 stop;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dial(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *
client(void *arg)
{
	char	*batch, *req, buf[65536];
	size_t	 reqlen, blen;
	ssize_t	 n;
	int	 fd, i, want, k;

	if ((fd = dial()) == -1) {
		perror(sockpath);
		atomic_fetch_add(&errors, 1);
		return NULL;
	}
	if ((req = malloc((size_t)textbytes + 64)) == NULL)
		return NULL;
	reqlen = (size_t)snprintf(req, 32, "{\"text\":\"");
	memset(req + reqlen, 'a', (size_t)textbytes);
	for (i = 0; i < textbytes; i += 6)
		req[reqlen + i] = ' ';
	reqlen += (size_t)textbytes;
	memcpy(req + reqlen, "\"}\n", 3);
	reqlen += 3;
	blen = reqlen * (size_t)window;
	if ((batch = malloc(blen)) == NULL)
		return NULL;
	for (i = 0; i < window; i++)
		memcpy(batch + reqlen * (size_t)i, req, reqlen);
	while (!atomic_load(&stop)) {
		size_t off = 0;

		while (off < blen) {
			if ((n = write(fd, batch + off, blen - off)) <= 0)
				goto out;
			off += (size_t)n;
		}
		for (want = window; want > 0; ) {
			if ((n = read(fd, buf, sizeof(buf))) <= 0)
				goto out;
			for (k = 0; k < n; k++)
				if (buf[k] == '\n')
					want--;
			if (memmem(buf, (size_t)n, "\"error\"", 7) != NULL)
				atomic_fetch_add(&errors, 1);
		}
		atomic_fetch_add(&done, (unsigned long)window);
	}
 out:
	close(fd);
	free(batch);
	free(req);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	*t;
	int		 ch, conns = 4, i;
	double		 t0, el;

	while ((ch = getopt(argc, argv, "b:c:d:s:w:")) != -1) {
		switch (ch) {
		case 'b':
			textbytes = atoi(optarg);
			break;
		case 'c':
			conns = atoi(optarg);
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'w':
			window = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (sockpath == NULL || conns < 1 || conns > 1024 || window < 1 ||
	    window > 4096 || textbytes < 1 || textbytes > 1000000 ||
	    seconds <= 0)
		goto usage;
	if ((t = calloc((size_t)conns, sizeof(*t))) == NULL)
		return 1;
	t0 = now();
	for (i = 0; i < conns; i++)
		if (pthread_create(&t[i], NULL, client, NULL) != 0)
			return 1;
	while (now() - t0 < seconds)
		usleep(10000);
	atomic_store(&stop, 1);
	el = now() - t0;
	for (i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	printf("requests %lu seconds %.2f rps %.0f errors %lu\n",
	    atomic_load(&done), el, atomic_load(&done) / el,
	    atomic_load(&errors));
	free(t);
	return atomic_load(&errors) > 0 ? 1 : 0;
 usage:
	fprintf(stderr, "usage: auditload -s socket [-c connections] "
	    "[-d seconds] [-w window] [-b bytes]\n");
	return 64;
}
