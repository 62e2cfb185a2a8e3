/*
 * http-frame: the request framing in front of evhttp.  See
 * include/http-frame.h.
 *
 * A header block is read as evhttp 2.1 reads it: a line ends with "\n" or
 * "\r\n"; the first is "METHOD URI VERSION" (two single spaces); a line
 * starting with a space or a tab continues the header above it; a value
 * loses its leading spaces and its trailing white space; the first header
 * of a name counts.  Only POST, PUT and PATCH have a body: chunked when
 * Transfer-Encoding is "chunked", else Content-Length bytes (none without
 * one).  A block the frame lets through is written back line by line with
 * "\r\n", which evhttp reads the same.
 *
 * On a connection the frame is a callback on the bufferevent's input
 * buffer: it runs after each read, before evhttp's read callback, takes
 * the bytes just read and puts back what frame_run lets through.  The
 * frame is freed by the connection's close callback, which is set once
 * evhttp has made the connection (the attach event, right after the
 * accept); until then the frame holds a reference on the bufferevent.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "http-frame.h"

#define FRAME_LINE_MAX	1024	/* a chunk size line, a trailer line */
#define FRAME_VALUE_MAX	256	/* a header value the frame reads */
#define FRAME_SLACK	128	/* header bytes a rewritten block may add */

enum frame_state {
	FS_HEAD,	/* reading a header block */
	FS_BODY,	/* passing LEFT body bytes */
	FS_DISCARD,	/* dropping LEFT body bytes */
	FS_SIZE,	/* chunked: a chunk size line */
	FS_DATA,	/* chunked: LEFT bytes of chunk data */
	FS_DATA_END,	/* chunked: the empty line after them */
	FS_TRAILER,	/* chunked: trailer lines up to an empty one */
	FS_PASS,	/* everything passes untouched */
	FS_DROP		/* everything is dropped */
};

struct frame {
	size_t			 max_body, max_head;
	enum frame_state	 st;
	struct evbuffer		*head;	/* the block: lines ending "\r\n" */
	size_t			 nhead;
	struct evbuffer		*body;	/* chunked: the data so far */
	size_t			 total;	/* chunked: its bytes */
	size_t			 trailer; /* chunked: trailer bytes so far */
	int			 over;	/* chunked: answered too_large */
	uint64_t		 left;
	/* On a connection. */
	struct frames		*set;
	struct bufferevent	*bev;
	struct evbuffer_cb_entry *ent;
	struct event		*attach;
	struct evbuffer		*src;	/* read, not yet through frame_run */
	struct evbuffer		*tmp;
	int			 busy;	/* in its own input callback */
	int			 pending; /* on set->pending */
	LIST_ENTRY(frame)	 entry;
};

struct frames {
	size_t			 max_body, max_head;
	LIST_HEAD(, frame)	 pending;	/* not attached yet */
};

/* What a header block says of its body. */
enum body_kind {
	BODY_NONE,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_BAD,	/* a block evhttp refuses after its request line */
	BODY_UNKNOWN	/* one the frame does not follow */
};

/* The headers a block's reading needs: the first of each name. */
enum { H_TE, H_CL, H_CONN, H_EXPECT, H_MARK, H_COUNT };

static const char *const hnames[H_COUNT] = {
	"Transfer-Encoding", "Content-Length", "Connection", "Expect",
	FRAME_HEADER
};

struct block {
	enum body_kind	 kind;
	uint64_t	 length;	/* BODY_LENGTH */
	int		 expect;	/* an Expect header */
};

/* Emit flags. */
#define EMIT_FRAMING	0x1	/* drop Content-Length and Transfer-Encoding */
#define EMIT_LINE	0x2	/* the request line alone */

struct frame *
frame_new(size_t max_body, size_t max_head)
{
	struct frame	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->max_body = max_body;
	f->max_head = max_head > FRAME_SLACK * 2 ? max_head - FRAME_SLACK :
	    FRAME_SLACK;
	if ((f->head = evbuffer_new()) == NULL ||
	    (f->body = evbuffer_new()) == NULL) {
		frame_free(f);
		return NULL;
	}
	return f;
}

void
frame_free(struct frame *f)
{
	if (f == NULL)
		return;
	if (f->attach != NULL)
		event_free(f->attach);
	if (f->head != NULL)
		evbuffer_free(f->head);
	if (f->body != NULL)
		evbuffer_free(f->body);
	if (f->src != NULL)
		evbuffer_free(f->src);
	if (f->tmp != NULL)
		evbuffer_free(f->tmp);
	free(f);
}

/* Header blocks. */

/* The header H_* whose name is the N bytes at K, or -1. */
static int
header_index(const char *k, size_t n)
{
	int	 i;

	for (i = 0; i < H_COUNT; i++)
		if (strlen(hnames[i]) == n && strncasecmp(k, hnames[i], n) == 0)
			return i;
	return -1;
}

/*
 * Set VAL to V (N bytes, trailing white space cut), or with CONT append
 * " " and V as evhttp does for a continuation line.  0, or -1 when long.
 */
static int
value_add(char *val, const char *v, size_t n, int cont)
{
	size_t	 have = cont ? strlen(val) : 0;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (have + n + 2 > FRAME_VALUE_MAX)
		return -1;
	if (cont)
		val[have++] = ' ';
	memcpy(val + have, v, n);
	val[have + n] = '\0';
	return 0;
}

/*
 * Read the block TEXT (LEN bytes: lines ending "\r\n", the last one
 * empty) into B as evhttp would.  BODY_BAD for a block evhttp refuses for
 * sure after a request line it takes apart (a header line without ':', a
 * continuation first, a bad Content-Length, a body without a length on a
 * kept connection); BODY_UNKNOWN for anything else the frame does not
 * follow.
 */
static void
block_read(const char *text, size_t len, struct block *b)
{
	char		 val[H_COUNT][FRAME_VALUE_MAX];
	int		 seen[H_COUNT] = { 0 }, cur = -1, may_body = 0, i;
	const char	*p = text, *end = text + len, *eol, *colon, *v;
	size_t		 n, lineno = 0;
	long long	 cl;
	char		*cend;

	memset(b, 0, sizeof(*b));
	b->kind = BODY_UNKNOWN;
	if (memchr(text, '\0', len) != NULL)
		return;
	for (i = 0; i < H_COUNT; i++)
		val[i][0] = '\0';
	for (; p < end; p = eol + 2, lineno++) {
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			return;
		n = (size_t)(eol - p);
		if (memchr(p, '\r', n) != NULL)
			return;
		if (lineno == 0) {
			/* "METHOD URI VERSION", split at single spaces. */
			const char *s1 = memchr(p, ' ', n), *s2;

			if (s1 == NULL || (s2 = memchr(s1 + 1, ' ',
			    (size_t)(eol - s1 - 1))) == NULL ||
			    memchr(s2 + 1, ' ', (size_t)(eol - s2 - 1)) != NULL)
				return;
			n = (size_t)(s1 - p);
			may_body = (n == 4 && memcmp(p, "POST", 4) == 0) ||
			    (n == 3 && memcmp(p, "PUT", 3) == 0) ||
			    (n == 5 && memcmp(p, "PATCH", 5) == 0);
			continue;
		}
		if (n == 0)
			break;			/* the end of the block */
		if (*p == ' ' || *p == '\t') {
			/* A continuation of the header above. */
			if (lineno == 1)
				goto bad;
			while (n > 0 && (*p == ' ' || *p == '\t')) {
				p++;
				n--;
			}
			if (cur >= 0 && value_add(val[cur], p, n, 1) == -1)
				return;
			continue;
		}
		if ((colon = memchr(p, ':', n)) == NULL)
			goto bad;
		i = header_index(p, (size_t)(colon - p));
		cur = -1;
		if (i < 0 || seen[i])
			continue;
		seen[i] = 1;
		cur = i;
		v = colon + 1;
		while (v < eol && *v == ' ')
			v++;
		if (value_add(val[i], v, (size_t)(eol - v), 0) == -1)
			return;
	}
	if (p >= end)
		return;				/* no empty line */
	b->expect = seen[H_EXPECT];
	if (!may_body)
		b->kind = BODY_NONE;
	else if (seen[H_TE] && strcasecmp(val[H_TE], "chunked") == 0)
		b->kind = BODY_CHUNKED;
	else if (seen[H_CL]) {
		cl = strtoll(val[H_CL], &cend, 10);
		if (val[H_CL][0] == '\0' || *cend != '\0' || cl < 0)
			goto bad;
		b->kind = cl == 0 ? BODY_NONE : BODY_LENGTH;
		b->length = (uint64_t)cl;
	} else if (!seen[H_CONN] || strcasecmp(val[H_CONN], "close") == 0)
		b->kind = BODY_NONE;
	else
		goto bad;
	return;
bad:
	b->kind = BODY_BAD;
}

/*
 * Append the block TEXT (LEN bytes) to DST without its FRAME_HEADER lines
 * (and, with EMIT_FRAMING, its Content-Length and Transfer-Encoding
 * lines), with the header lines EXTRA before its empty line.  0 or -1.
 */
static int
block_emit(const char *text, size_t len, int flags, const char *extra,
    struct evbuffer *dst)
{
	const char	*p = text, *end = text + len, *eol, *colon;
	int		 skip = 0, i, rc = 0;
	size_t		 n, lineno = 0;

	for (; p < end; p = eol + 2, lineno++) {
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL ||
		    eol == p)
			break;
		n = (size_t)(eol - p);
		if (lineno > 0 && *p != ' ' && *p != '\t') {
			colon = memchr(p, ':', n);
			i = colon != NULL ? header_index(p,
			    (size_t)(colon - p)) : -1;
			skip = i == H_MARK || ((flags & EMIT_FRAMING) &&
			    (i == H_CL || i == H_TE));
		}
		if (lineno == 0 || (!skip && !(flags & EMIT_LINE)))
			rc |= evbuffer_add(dst, p, n + 2);
	}
	if (extra != NULL)
		rc |= evbuffer_add(dst, extra, strlen(extra));
	rc |= evbuffer_add(dst, "\r\n", 2);
	return rc == 0 ? 0 : -1;
}

/* The held block, as a C string in *TEXT (free it).  0, or -1. */
static int
frame_block(struct frame *f, char **text)
{
	if ((*text = malloc(f->nhead + 1)) == NULL)
		return -1;
	if (evbuffer_remove(f->head, *text, f->nhead) != (int)f->nhead) {
		free(*text);
		return -1;
	}
	(*text)[f->nhead] = '\0';
	return 0;
}

/* Emit the held block with FLAGS and EXTRA, and forget it.  0, or -1. */
static int
frame_emit(struct frame *f, int flags, const char *extra,
    struct evbuffer *dst)
{
	char	*text;
	int	 rc;

	if (frame_block(f, &text) == -1)
		return -1;
	rc = block_emit(text, f->nhead, flags, extra, dst);
	free(text);
	f->nhead = 0;
	return rc;
}

/* From now on everything passes: the held block first. */
static int
frame_pass(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	f->st = FS_PASS;
	f->nhead = 0;
	if (evbuffer_add_buffer(dst, f->head) == -1 ||
	    evbuffer_add_buffer(dst, src) == -1)
		return -1;
	return 0;
}

/*
 * Release the held block (with EMIT_LINE its request line alone) as a
 * request whose body was dropped (WHY).
 */
static int
frame_refuse(struct frame *f, int flags, const char *why,
    struct evbuffer *dst)
{
	char	 extra[96];

	snprintf(extra, sizeof(extra), "Content-Length: 0\r\n%s: %s\r\n",
	    FRAME_HEADER, why);
	return frame_emit(f, EMIT_FRAMING | flags, extra, dst);
}

/* A malformed chunked body: refuse it and drop the rest. */
static int
frame_bad(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	int	 rc = 0;

	if (!f->over)
		rc = frame_refuse(f, 0, "bad_request", dst);
	f->st = FS_DROP;
	f->nhead = 0;
	evbuffer_drain(f->head, evbuffer_get_length(f->head));
	evbuffer_drain(f->body, evbuffer_get_length(f->body));
	evbuffer_drain(src, evbuffer_get_length(src));
	return rc;
}

/* The block in f->head is whole: decide its body.  0, or -1. */
static int
frame_block_done(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	struct block	 b;
	char		*text;

	if ((text = (char *)evbuffer_pullup(f->head, -1)) == NULL)
		return -1;
	block_read(text, f->nhead, &b);
	switch (b.kind) {
	case BODY_NONE:
		f->st = FS_HEAD;
		return frame_emit(f, 0, NULL, dst);
	case BODY_LENGTH:
		f->left = b.length;
		if (b.length <= f->max_body) {
			f->st = FS_BODY;
			return frame_emit(f, 0, NULL, dst);
		}
		f->st = FS_DISCARD;
		return frame_refuse(f, 0, "too_large", dst);
	case BODY_CHUNKED:
		if (b.expect)	/* it waits for evhttp's 100 Continue */
			return frame_pass(f, src, dst);
		f->st = FS_SIZE;
		f->total = 0;
		f->over = 0;
		return 0;
	case BODY_BAD:
		/* Its path is known: refused by the front, the rest dropped. */
		f->st = FS_DROP;
		evbuffer_drain(src, evbuffer_get_length(src));
		return frame_refuse(f, EMIT_LINE, "bad_request", dst);
	case BODY_UNKNOWN:
	default:
		return frame_pass(f, src, dst);
	}
}

/*
 * The line at the start of SRC: its length in *LEN and its end-of-line
 * bytes in *EOL.  0 when whole, 1 when not yet.
 */
static int
frame_line(struct evbuffer *src, size_t *len, size_t *eol)
{
	struct evbuffer_ptr	 p;

	p = evbuffer_search_eol(src, NULL, eol, EVBUFFER_EOL_CRLF);
	if (p.pos < 0) {
		*len = evbuffer_get_length(src);
		return 1;
	}
	*len = (size_t)p.pos;
	return 0;
}

/* FS_HEAD: one line into the block.  1 on progress, 0 for more, -1. */
static int
frame_head(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	size_t	 len, eol;

	if (frame_line(src, &len, &eol) == 1) {
		if (f->nhead + len + 2 > f->max_head)
			return frame_pass(f, src, dst) == -1 ? -1 : 1;
		return 0;
	}
	if (f->nhead + len + 2 > f->max_head || (len == 0 && f->nhead == 0))
		return frame_pass(f, src, dst) == -1 ? -1 : 1;
	if (evbuffer_remove_buffer(src, f->head, len) != (int)len ||
	    evbuffer_drain(src, eol) == -1 ||
	    evbuffer_add(f->head, "\r\n", 2) == -1)
		return -1;
	f->nhead += len + 2;
	if (len == 0)
		return frame_block_done(f, src, dst) == -1 ? -1 : 1;
	return 1;
}

/* Parse a chunk size line (NUL-terminated) into *SIZE.  0, or -1. */
static int
chunk_size(const char *s, uint64_t *size)
{
	uint64_t	 v = 0;
	int		 d, digits = 0;

	for (; isxdigit((unsigned char)*s); s++, digits++) {
		d = isdigit((unsigned char)*s) ? *s - '0' :
		    tolower((unsigned char)*s) - 'a' + 10;
		if (v > (UINT64_MAX >> 4))
			v = UINT64_MAX;		/* too large anyway */
		else
			v = v * 16 + (uint64_t)d;
	}
	if (digits == 0 || (*s != '\0' && *s != ' ' && *s != '\t' &&
	    *s != ';'))
		return -1;
	*size = v;
	return 0;
}

/* A chunked body is whole: release it de-chunked.  0, or -1. */
static int
frame_chunked_done(struct frame *f, struct evbuffer *dst)
{
	char	 extra[64];
	int	 rc = 0;

	if (!f->over) {
		snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n",
		    f->total);
		rc = frame_emit(f, EMIT_FRAMING, extra, dst);
		if (rc == 0 && evbuffer_add_buffer(dst, f->body) == -1)
			rc = -1;
	}
	f->st = FS_HEAD;
	f->over = 0;
	f->total = 0;
	f->nhead = 0;
	evbuffer_drain(f->head, evbuffer_get_length(f->head));
	evbuffer_drain(f->body, evbuffer_get_length(f->body));
	return rc;
}

/* FS_SIZE, FS_DATA_END, FS_TRAILER: one line.  1, 0 for more, -1. */
static int
frame_chunk_line(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	char		 line[FRAME_LINE_MAX + 1];
	size_t		 len, eol;
	uint64_t	 size;

	if (frame_line(src, &len, &eol) == 1) {
		if (len > FRAME_LINE_MAX)
			return frame_bad(f, src, dst) == -1 ? -1 : 1;
		return 0;
	}
	if (len > FRAME_LINE_MAX)
		return frame_bad(f, src, dst) == -1 ? -1 : 1;
	if (evbuffer_remove(src, line, len) != (int)len ||
	    evbuffer_drain(src, eol) == -1)
		return -1;
	line[len] = '\0';
	switch (f->st) {
	case FS_SIZE:
		if (memchr(line, '\0', len) != NULL ||
		    chunk_size(line, &size) == -1)
			return frame_bad(f, src, dst) == -1 ? -1 : 1;
		if (size == 0) {
			f->st = FS_TRAILER;
			f->trailer = 0;
			return 1;
		}
		if (!f->over && size > f->max_body - f->total) {
			f->over = 1;
			evbuffer_drain(f->body, evbuffer_get_length(f->body));
			if (frame_refuse(f, 0, "too_large", dst) == -1)
				return -1;
		}
		f->st = FS_DATA;
		f->left = size;
		return 1;
	case FS_DATA_END:
		if (len != 0)
			return frame_bad(f, src, dst) == -1 ? -1 : 1;
		f->st = FS_SIZE;
		return 1;
	case FS_TRAILER:
	default:
		f->trailer += len + eol;
		if (f->trailer > f->max_head)
			return frame_bad(f, src, dst) == -1 ? -1 : 1;
		if (len == 0)
			return frame_chunked_done(f, dst) == -1 ? -1 : 1;
		return 1;
	}
}

/* FS_BODY, FS_DISCARD, FS_DATA: up to LEFT bytes.  1, or 0 for more. */
static int
frame_bytes(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	size_t	 n = evbuffer_get_length(src), k;
	int	 rc = 0;

	if (n == 0)
		return 0;
	k = f->left < n ? (size_t)f->left : n;
	if (f->st == FS_BODY)
		rc = evbuffer_remove_buffer(src, dst, k) == (int)k ? 0 : -1;
	else if (f->st == FS_DATA && !f->over) {
		rc = evbuffer_remove_buffer(src, f->body, k) == (int)k ? 0 : -1;
		f->total += k;
	} else
		rc = evbuffer_drain(src, k);
	if (rc == -1)
		return -1;
	f->left -= k;
	if (f->left == 0)
		f->st = f->st == FS_DATA ? FS_DATA_END : FS_HEAD;
	return 1;
}

int
frame_run(struct frame *f, struct evbuffer *src, struct evbuffer *dst)
{
	int	 rc;

	for (;;) {
		switch (f->st) {
		case FS_PASS:
			rc = evbuffer_add_buffer(dst, src) == -1 ? -1 : 0;
			break;
		case FS_DROP:
			rc = evbuffer_drain(src, evbuffer_get_length(src));
			break;
		case FS_HEAD:
			rc = frame_head(f, src, dst);
			break;
		case FS_BODY:
		case FS_DISCARD:
		case FS_DATA:
			rc = frame_bytes(f, src, dst);
			break;
		case FS_SIZE:
		case FS_DATA_END:
		case FS_TRAILER:
		default:
			rc = frame_chunk_line(f, src, dst);
			break;
		}
		if (rc == -1) {
			/* Out of memory: the connection is not followed. */
			f->st = FS_DROP;
			evbuffer_drain(src, evbuffer_get_length(src));
			return -1;
		}
		if (rc == 0)
			return 0;
	}
}

/* On a connection. */

/* Unhook F from its bufferevent's input and free it. */
static void
frame_detach(struct frame *f)
{
	if (f->pending) {
		LIST_REMOVE(f, entry);
		f->pending = 0;
	}
	if (f->ent != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(f->bev), f->ent);
	frame_free(f);
}

/* After a read: run the bytes just read through the frame. */
static void
frame_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct frame	*f = arg;
	size_t		 len, old;

	if (f->busy || info->n_added == 0 || f->st == FS_PASS)
		return;
	/* Body bytes that evhttp may read as they are: nothing to move. */
	if (f->st == FS_BODY && evbuffer_get_length(f->src) == 0 &&
	    info->n_added <= f->left) {
		f->left -= info->n_added;
		if (f->left == 0)
			f->st = FS_HEAD;
		return;
	}
	f->busy = 1;
	/* IN holds what evhttp has not read yet, then the new bytes. */
	len = evbuffer_get_length(in);
	old = info->n_added < len ? len - info->n_added : 0;
	if (evbuffer_remove_buffer(in, f->tmp, old) != (int)old ||
	    evbuffer_add_buffer(f->src, in) == -1 ||
	    evbuffer_add_buffer(in, f->tmp) == -1)
		f->st = FS_DROP;
	(void)frame_run(f, f->src, in);
	f->busy = 0;
}

static void
frame_close_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	frame_detach(arg);
}

/* Once evhttp made the connection: free F with it. */
static void
frame_attach_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frame		*f = arg;
	struct bufferevent	*bev = f->bev;
	bufferevent_event_cb	 ecb = NULL;
	void			*cbarg = NULL;

	(void)fd;
	(void)what;
	LIST_REMOVE(f, entry);
	f->pending = 0;
	event_free(f->attach);
	f->attach = NULL;
	/* evhttp's callbacks, with its connection; none once it freed it. */
	bufferevent_getcb(bev, NULL, NULL, &ecb, &cbarg);
	if (ecb == NULL || cbarg == NULL)
		frame_detach(f);
	else
		evhttp_connection_set_closecb(cbarg, frame_close_cb, f);
	bufferevent_decref(bev);
}

struct frames *
frames_new(size_t max_body, size_t max_head)
{
	struct frames	*fs;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	fs->max_body = max_body;
	fs->max_head = max_head;
	LIST_INIT(&fs->pending);
	return fs;
}

/*
 * evhttp's bufferevent for a new connection (as evhttp makes it) with a
 * frame on its input.  Without memory for the frame, the connection goes
 * without one.
 */
struct bufferevent *
frames_bev(struct event_base *base, void *arg)
{
	struct frames		*fs = arg;
	struct bufferevent	*bev;
	struct frame		*f;

	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL)
		return NULL;
	if ((f = frame_new(fs->max_body, fs->max_head)) == NULL)
		return bev;
	f->set = fs;
	f->bev = bev;
	if ((f->src = evbuffer_new()) == NULL ||
	    (f->tmp = evbuffer_new()) == NULL ||
	    (f->attach = event_new(base, -1, 0, frame_attach_cb, f)) ==
	    NULL || (f->ent = evbuffer_add_cb(bufferevent_get_input(bev),
	    frame_input_cb, f)) == NULL) {
		frame_free(f);
		return bev;
	}
	bufferevent_incref(bev);
	LIST_INSERT_HEAD(&fs->pending, f, entry);
	f->pending = 1;
	event_active(f->attach, EV_TIMEOUT, 1);
	return bev;
}

void
frames_free(struct frames *fs)
{
	struct frame		*f;
	struct bufferevent	*bev;

	if (fs == NULL)
		return;
	while ((f = LIST_FIRST(&fs->pending)) != NULL) {
		bev = f->bev;
		frame_detach(f);
		bufferevent_decref(bev);
	}
	free(fs);
}
