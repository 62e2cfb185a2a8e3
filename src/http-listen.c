/*
 * http-listen: the HTTP front's sockets and bearer tokens.  See
 * include/http-internal.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "config.h"
#include "http-internal.h"
#include "listen.h"
#include "log.h"

/* Tokens. */

static void
token_hash(const char *tok, size_t len, unsigned char *out)
{
	crypto_generichash(out, crypto_generichash_BYTES,
	    (const unsigned char *)tok, len, NULL, 0);
}

/*
 * Read the tokens file: one token a line as "NAME TOKEN" (or just TOKEN,
 * named "line-N"); blank lines and lines starting with '#' are skipped.
 * Only hashes are kept.  0, or -1 after logging.
 */
int
http_tokens_load(struct http *h, const char *path)
{
	FILE		*f;
	struct stat	 st;
	char		 line[1024], *p, *name, *tok, *end;
	int		 lineno = 0, rc = -1;
	size_t		 tl;

	if ((f = fopen(path, "re")) == NULL) {
		log_warn("http.tokens_file %s", path);
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		log_warnx("http.tokens_file %s: readable by group or others "
		    "(mode %04o); chmod 600 it", path,
		    (unsigned int)(st.st_mode & 07777));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			log_warnx("%s:%d: line too long", path, lineno);
			goto out;
		}
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		end = p + strcspn(p, "\r\n");
		*end = '\0';
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		name = NULL;
		tok = p;
		if ((end = strpbrk(p, " \t")) != NULL) {
			*end++ = '\0';
			while (*end == ' ' || *end == '\t')
				end++;
			name = p;
			tok = end;
			if (strpbrk(tok, " \t") != NULL) {
				log_warnx("%s:%d: expected \"NAME TOKEN\"",
				    path, lineno);
				goto out;
			}
		}
		tl = strlen(tok);
		if (tl < HTTP_TOKEN_MIN || tl > HTTP_TOKEN_MAX) {
			log_warnx("%s:%d: a token is %d to %d bytes", path,
			    lineno, HTTP_TOKEN_MIN, HTTP_TOKEN_MAX);
			goto out;
		}
		if (h->ntokens == HTTP_MAX_TOKENS) {
			log_warnx("%s:%d: more than %d tokens", path, lineno,
			    HTTP_MAX_TOKENS);
			goto out;
		}
		if (name != NULL)
			snprintf(h->tokens[h->ntokens].name,
			    sizeof(h->tokens[h->ntokens].name), "%.63s", name);
		else
			snprintf(h->tokens[h->ntokens].name,
			    sizeof(h->tokens[h->ntokens].name), "line-%d",
			    lineno);
		token_hash(tok, tl, h->tokens[h->ntokens].hash);
		h->ntokens++;
	}
	if (ferror(f)) {
		log_warn("http.tokens_file %s", path);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(line, sizeof(line));
	fclose(f);
	return rc;
}

/* The name of the token REQ bears, "" when no tokens are required, or NULL. */
const char *
http_token_check(const struct http *h, struct evhttp_request *req)
{
	const char	*a;
	unsigned char	 hash[crypto_generichash_BYTES];
	const char	*found = NULL;
	size_t		 i;

	if (h->ntokens == 0)
		return "";
	a = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	token_hash(a, strlen(a), hash);
	/* Compare with every token, in constant time each. */
	for (i = 0; i < h->ntokens; i++)
		if (sodium_memcmp(hash, h->tokens[i].hash, sizeof(hash)) == 0)
			found = h->tokens[i].name;
	return found;
}

/* Listening. */

/* Split "HOST:PORT" or "[V6]:PORT" into HOST and PORT.  0 or -1. */
static int
split_hostport(const char *s, char *host, size_t hsz, char *port, size_t psz)
{
	const char	*c;
	size_t		 n;

	if (s[0] == '[') {
		if ((c = strchr(s, ']')) == NULL || c[1] != ':')
			return -1;
		n = (size_t)(c - s - 1);
		s++;
		c++;
	} else {
		if ((c = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(c - s);
	}
	if (n == 0 || n >= hsz || strlen(c + 1) == 0 ||
	    strlen(c + 1) >= psz || strspn(c + 1, "0123456789") !=
	    strlen(c + 1))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	snprintf(port, psz, "%s", c + 1);
	return 0;
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)sa;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return 0;
}

/* The numeric address ADDR, in *RES (freeaddrinfo it).  0, or -1. */
int
http_tcp_resolve(const char *addr, struct addrinfo **res)
{
	struct addrinfo	 hints;
	char		 host[256], port[16];
	int		 e;

	if (split_hostport(addr, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		log_warnx("http.listen \"%s\": expected ADDRESS:PORT, "
		    "[ADDRESS]:PORT or unix:/path", addr);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((e = getaddrinfo(host, port, &hints, res)) != 0) {
		log_warnx("http.listen \"%s\": %s (a numeric address is "
		    "expected)", addr, gai_strerror(e));
		return -1;
	}
	return 0;
}

int
http_listen_tcp(struct http *h, const char *addr)
{
	struct addrinfo	*res = NULL;
	int		 fd = -1, on = 1;

	if (http_tcp_resolve(addr, &res) == -1)
		return -1;
	if (!is_loopback(res->ai_addr))
		log_warnx("http.listen %s is not a loopback address: every "
		    "request needs a bearer token; put TLS in front of it",
		    addr);
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("http socket");
		goto fail;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		log_warn("http bind %s", addr);
		goto fail;
	}
	if (listen(fd, 128) == -1) {
		log_warn("http listen %s", addr);
		goto fail;
	}
	freeaddrinfo(res);
	h->fd = fd;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

int
http_listen_unix(struct http *h, const char *path, const struct server_conf *sv)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("http.listen unix:%s: an absolute path of at most "
		    "%zu bytes is needed", path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	if ((fd = listen_unix(path, sv->socket_mode, sv->socket_group)) == -1)
		return -1;
	if ((h->unix_path = strdup(path)) == NULL) {
		close(fd);
		unlink(path);
		return -1;
	}
	h->fd = fd;
	return 0;
}
