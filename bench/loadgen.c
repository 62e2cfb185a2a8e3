/*
 * loadgen: a load generator speaking protocol v1 to modgated.
 *
 *	loadgen [-s socket] [-c conns] [-d depth] [-n requests | -t seconds]
 *	    [-r rate] [-b bytes] [-f corpus.jsonl [-k field]] [-p policy]
 *	    [-P daemon-pid]
 *
 * Closed loop (default): each of CONNS connections keeps DEPTH requests in
 * flight (pipelined) and sends a new one as each answer arrives.  Open
 * loop (-r): requests are sent on a fixed schedule of RATE per second in
 * all, round robin over the connections (at most DEPTH in flight on each),
 * and each latency counts from the request's scheduled time, so a slow
 * answer or a late client delays no measurement (no coordinated omission);
 * every request scheduled before the end is sent, however late.  With -P,
 * also the daemon's CPU time over the run and its peak RSS (from /proc).
 * Texts come from field FIELD (default "output") of a JSON Lines corpus,
 * cut to BYTES at a character boundary, or are generated (BYTES of words).
 * Prints requests/s, latency percentiles (scheduled or written, to answer
 * read) and error counts.
 *
 * The client shares the machine with the daemon, so its own cost is kept
 * small: one epoll set (a wake-up costs the connections that are ready,
 * not all of them), and a request is written as soon as it is queued
 * rather than after one more wait for writability.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_CONNS	4096
#define MAX_DEPTH	1024
#define MAX_TEXTS	2000
#define DRAIN_SECONDS	10	/* wait for answers in flight at the end */
#define MAX_EVENTS	64

struct lconn {
	int		 fd;
	char		*out;		/* bytes to send */
	size_t		 outlen, outoff, outcap;
	char		*in;		/* bytes received, not yet a line */
	size_t		 inlen, incap;
	uint64_t	 sent_at[MAX_DEPTH];	/* ring: send time of in-flight */
	int		 head, inflight;
	int		 wantout;	/* watched for EPOLLOUT */
};

static char	**texts;		/* JSON-escaped, quoted */
static size_t	  ntexts;
static uint32_t	 *lat;			/* microseconds per answer */
static size_t	  nlat, latcap;
static uint64_t	  errors, answers, sent;
static double	  rate;			/* -r: requests/s, open loop */
static const char *policy;

static uint64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		perror("loadgen");
		exit(1);
	}
	return p;
}

/* Add the JSON string form of S (LEN bytes) to the texts. */
static void
add_text(const char *s, size_t len)
{
	json_t	*j;
	char	*q;

	/* Cut back to a character boundary. */
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	if ((j = json_stringn(s, len)) == NULL)
		return;
	q = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	if (q == NULL)
		return;
	texts = xrealloc(texts, (ntexts + 1) * sizeof(*texts));
	texts[ntexts++] = q;
}

static int
load_corpus(const char *path, const char *field, size_t bytes)
{
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0, len;
	ssize_t		 n;
	json_t		*o, *v;
	const char	*s;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		return -1;
	}
	while (ntexts < MAX_TEXTS && (n = getline(&line, &cap, f)) > 0) {
		if ((o = json_loadb(line, (size_t)n, 0, NULL)) == NULL)
			continue;
		v = json_object_get(o, field);
		if (json_is_string(v) && json_string_length(v) > 0) {
			s = json_string_value(v);
			len = json_string_length(v);
			add_text(s, len < bytes ? len : bytes);
		}
		json_decref(o);
	}
	free(line);
	fclose(f);
	if (ntexts == 0) {
		fprintf(stderr, "loadgen: no \"%s\" strings in %s\n", field,
		    path);
		return -1;
	}
	return 0;
}

/* BYTES of plain words, a few variants. */
static void
gen_texts(size_t bytes)
{
	static const char *const words[] = { "the", "model", "answer", "is",
	    "a", "short", "reply", "about", "weather", "and", "travel",
	    "plans", "for", "next", "week", "with", "some", "details" };
	char	*buf = xrealloc(NULL, bytes + 16);
	size_t	 len, k, v;
	unsigned int seed;

	for (v = 0; v < 64; v++) {
		seed = (unsigned int)v * 2654435761u + 1;
		len = 0;
		while (len < bytes) {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 16) % (sizeof(words) / sizeof(words[0]));
			len += (size_t)snprintf(buf + len, bytes + 16 - len,
			    "%s%s", len ? " " : "", words[k]);
		}
		add_text(buf, bytes);
	}
	free(buf);
}

static int
conn_open(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "loadgen: socket path too long\n");
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Queue the next request on C, sent (or scheduled) at AT. */
static void
queue_request(struct lconn *c, int depth, uint64_t at)
{
	const char	*t = texts[sent % ntexts];
	size_t		 need = strlen(t) + 128 + (policy ? strlen(policy) : 0);
	int		 n;

	if (c->outcap - c->outlen < need) {
		c->outcap = c->outlen + need + 4096;
		c->out = xrealloc(c->out, c->outcap);
	}
	if (policy != NULL)
		n = snprintf(c->out + c->outlen, c->outcap - c->outlen,
		    "{\"id\":%llu,\"policy\":\"%s\",\"text\":%s}\n",
		    (unsigned long long)sent, policy, t);
	else
		n = snprintf(c->out + c->outlen, c->outcap - c->outlen,
		    "{\"id\":%llu,\"text\":%s}\n", (unsigned long long)sent, t);
	c->outlen += (size_t)n;
	c->sent_at[(c->head + c->inflight) % depth] = at;
	c->inflight++;
	sent++;
}

static void
record(uint64_t us)
{
	if (nlat == latcap) {
		latcap = latcap ? latcap * 2 : 65536;
		lat = xrealloc(lat, latcap * sizeof(*lat));
	}
	lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Handle the complete answer lines of C.  -1 when the stream broke. */
static int
conn_answers(struct lconn *c, int depth)
{
	char	*nl, *p = c->in, *q;
	size_t	 left = c->inlen;
	uint64_t t = now_us();

	while ((nl = memchr(p, '\n', left)) != NULL) {
		if (c->inflight == 0) {
			fprintf(stderr, "loadgen: answer without a request\n");
			return -1;
		}
		record(t - c->sent_at[c->head]);
		c->head = (c->head + 1) % depth;
		c->inflight--;
		answers++;
		/* {"id":N,"error":... versus {"id":N,"verdict":... */
		q = memchr(p, ',', (size_t)(nl - p));
		if (q == NULL || strncmp(q, ",\"verdict\"", 10) != 0)
			errors++;
		left -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	memmove(c->in, p, left);
	c->inlen = left;
	return 0;
}

/*
 * Write what C has queued, at once: the request leaves when it is due, not
 * one more wait later.  When the socket is full, watch it for room.  -1 on
 * error.
 */
static int
conn_write(int ep, struct lconn *c)
{
	struct epoll_event	 ev;
	ssize_t			 n;
	int			 want;

	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n > 0)
			c->outoff += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			break;
		else {
			perror("loadgen: write");
			return -1;
		}
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	want = c->outlen > 0;
	if (want != c->wantout) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
			perror("loadgen: epoll_ctl");
			return -1;
		}
		c->wantout = want;
	}
	return 0;
}

/* Read what C's socket holds and handle the answers.  -1 when it broke. */
static int
conn_read(struct lconn *c, int depth)
{
	size_t	 room;
	ssize_t	 n;

	for (;;) {
		if (c->incap - c->inlen < 65536) {
			c->incap = c->incap * 2 + 65536;
			c->in = xrealloc(c->in, c->incap);
		}
		room = c->incap - c->inlen;
		n = read(c->fd, c->in + c->inlen, room);
		if (n > 0) {
			c->inlen += (size_t)n;
			if (conn_answers(c, depth) == -1)
				return -1;
			if ((size_t)n < room)
				return 0;	/* drained */
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		fprintf(stderr, "loadgen: connection closed by the daemon\n");
		return -1;
	}
}

/* CPU seconds (user + system) of PID from /proc, or -1. */
static double
proc_cpu(long pid)
{
	char	 path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "pid (comm) ": state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmHWM of PID in kB, or -1. */
static long
proc_hwm(long pid)
{
	char	 path[64], line[256];
	long	 kb = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t
pct(double q)
{
	size_t	 i;

	if (nlat == 0)
		return 0;
	i = (size_t)(q * (double)nlat);
	return lat[i >= nlat ? nlat - 1 : i];
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: loadgen [-s socket] [-c conns] [-d depth] "
	    "[-n requests | -t seconds] [-r rate]\n"
	    "               [-b bytes] [-f corpus.jsonl [-k field]] "
	    "[-p policy] [-P pid]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char	*sock = "run/modgated.sock", *corpus = NULL;
	const char	*field = "output";
	struct lconn	*conns;
	struct epoll_event ev, evs[MAX_EVENTS];
	uint64_t	 t0, t_end, t, total = 0, elapsed, deadline;
	double		 seconds = 5;
	size_t		 bytes = 200;
	ssize_t		 n;
	int		 nconns = 32, depth = 1, ch, i, stopping = 0, ep;
	struct timespec	 wait;
	struct rusage	 ru;
	long		 dpid = 0;
	double		 dcpu0 = -1;

	while ((ch = getopt(argc, argv, "b:c:d:f:k:n:p:P:r:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			bytes = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			nconns = atoi(optarg);
			break;
		case 'd':
			depth = atoi(optarg);
			break;
		case 'f':
			corpus = optarg;
			break;
		case 'k':
			field = optarg;
			break;
		case 'n':
			total = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			policy = optarg;
			break;
		case 'P':
			dpid = atol(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (nconns < 1 || nconns > MAX_CONNS || depth < 1 ||
	    depth > MAX_DEPTH || bytes < 1 || bytes > 16 * 1024 * 1024 ||
	    seconds <= 0 || rate < 0)
		usage();
	if (corpus != NULL) {
		if (load_corpus(corpus, field, bytes) == -1)
			return 1;
	} else
		gen_texts(bytes);

	conns = calloc((size_t)nconns, sizeof(*conns));
	if (conns == NULL || (ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 1;
	for (i = 0; i < nconns; i++) {
		if ((conns[i].fd = conn_open(sock)) == -1)
			return 69;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) == -1) {
			perror("loadgen: epoll_ctl");
			return 1;
		}
	}

	/* Open loop: wake up on time, not up to 50 us late (timer slack). */
	if (rate > 0)
		(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (dpid > 0)
		dcpu0 = proc_cpu(dpid);
	t0 = now_us();
	t_end = t0 + (uint64_t)(seconds * 1e6);
	if (rate == 0)		/* closed loop: DEPTH in flight on each */
		for (i = 0; i < nconns; i++) {
			while (conns[i].inflight < depth &&
			    (total == 0 || sent < total))
				queue_request(&conns[i], depth, now_us());
			if (conn_write(ep, &conns[i]) == -1)
				return 1;
		}
	deadline = 0;
	for (;;) {
		t = now_us();
		/*
		 * Open loop: every request scheduled before the end is sent,
		 * however late, and measured from its scheduled time.
		 */
		if (!stopping && ((total > 0 && sent >= total) ||
		    (total == 0 && rate == 0 && t >= t_end) ||
		    (total == 0 && rate > 0 && (t0 + (uint64_t)((double)sent *
		    1e6 / rate) >= t_end || t >= t_end + DRAIN_SECONDS *
		    1000000ULL)))) {
			stopping = 1;
			deadline = t + DRAIN_SECONDS * 1000000ULL;
		}
		/* Open loop: every request due by now, in schedule order. */
		while (rate > 0 && !stopping && (total == 0 || sent < total)) {
			struct lconn *c = &conns[sent % (uint64_t)nconns];
			uint64_t at = t0 + (uint64_t)((double)sent * 1e6 / rate);

			if (at > t || c->inflight >= depth)
				break;	/* not due, or wait for an answer */
			queue_request(c, depth, at);
			if (conn_write(ep, c) == -1)
				return 1;
		}
		if (stopping && (answers == sent || t > deadline))
			break;
		wait.tv_sec = 0;
		wait.tv_nsec = 100000000;
		if (rate > 0 && !stopping) {
			/* Wake up for the next request due. */
			uint64_t at = t0 + (uint64_t)((double)sent * 1e6 / rate);

			t = now_us();
			if (at <= t)
				wait.tv_nsec = 0;
			else if (at - t < 100000)
				wait.tv_nsec = (long)((at - t) * 1000);
		}
		n = epoll_pwait2(ep, evs, MAX_EVENTS, &wait, NULL);
		if (n == -1 && errno != EINTR) {
			perror("epoll_pwait2");
			return 1;
		}
		for (i = 0; i < (int)n; i++) {
			struct lconn *c = evs[i].data.ptr;

			if ((evs[i].events & EPOLLOUT) &&
			    conn_write(ep, c) == -1)
				return 1;
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    conn_read(c, depth) == -1)
				return 1;
			/* Closed loop: a new request for each answer. */
			if (rate == 0 && !stopping && c->inflight < depth &&
			    (total == 0 || sent < total)) {
				while (c->inflight < depth &&
				    (total == 0 || sent < total))
					queue_request(c, depth, now_us());
				if (conn_write(ep, c) == -1)
					return 1;
			}
		}
	}
	elapsed = now_us() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	printf("connections %d  depth %d  text %zu bytes  (%s)\n", nconns,
	    depth, bytes, corpus != NULL ? corpus : "generated text");
	if (rate > 0)
		printf("open loop  rate %.0f/s\n", rate);
	printf("requests %llu  answers %llu  errors %llu  lost %llu  "
	    "seconds %.2f\n", (unsigned long long)sent,
	    (unsigned long long)answers, (unsigned long long)errors,
	    (unsigned long long)(sent - answers), (double)elapsed / 1e6);
	printf("requests/s %.0f\n", (double)answers * 1e6 / (double)elapsed);
	printf("latency_us p50 %u  p90 %u  p99 %u  p99.9 %u  max %u\n",
	    pct(0.50), pct(0.90), pct(0.99), pct(0.999),
	    nlat ? lat[nlat - 1] : 0);
	if (dpid > 0 && dcpu0 >= 0)
		printf("daemon_cpu_s %.3f  cores %.2f  us_per_request %.1f  "
		    "peak_rss_kb %ld\n", proc_cpu(dpid) - dcpu0,
		    (proc_cpu(dpid) - dcpu0) * 1e6 / (double)elapsed,
		    answers ? (proc_cpu(dpid) - dcpu0) * 1e6 /
		    (double)answers : 0, proc_hwm(dpid));
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("client_cpu_s %.3f\n", (double)(ru.ru_utime.tv_sec +
		    ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec +
		    ru.ru_stime.tv_usec) / 1e6);
	for (i = 0; i < nconns; i++) {
		close(conns[i].fd);
		free(conns[i].out);
		free(conns[i].in);
	}
	free(conns);
	close(ep);
	free(lat);
	for (size_t k = 0; k < ntexts; k++)
		free(texts[k]);
	free(texts);
	return sent == answers && errors == 0 ? 0 : 1;
}
