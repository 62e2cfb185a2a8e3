/*
 * test-http-frame: what the request framing lets evhttp read, for a body
 * limit of 16 bytes: requests within the limit as sent (lines ending
 * "\r\n", chunked bodies de-chunked), bodies over it dropped behind a
 * marked header block, malformed chunked bodies refused and the rest
 * dropped, a header block evhttp refuses refused the same way, what the
 * frame does not follow passed untouched; the same whether
 * the bytes come at once or one at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "http-frame.h"

#define MAX_BODY	16
#define MAX_HEAD	512

struct fcase {
	const char	*name;
	const char	*in;
	const char	*out;
};

#define POST	"POST /v1/moderations HTTP/1.1\r\n"
#define MARK(why) "Content-Length: 0\r\nModgate-Body: " why "\r\n\r\n"

static const struct fcase cases[] = {
	{ "no body", "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
	  "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ "bare LF lines", "GET /healthz HTTP/1.1\nHost: a\n\n",
	  "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ "length within, then another",
	  POST "Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
	  POST "Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n" },
	{ "length at the limit", POST "Content-Length: 16\r\n\r\n"
	  "0123456789abcdef", POST "Content-Length: 16\r\n\r\n"
	  "0123456789abcdef" },
	{ "length over: dropped, the next request read",
	  POST "Content-Length: 17\r\nA: b\r\n\r\n0123456789abcdefg"
	  "GET / HTTP/1.1\r\n\r\n",
	  POST "A: b\r\n" MARK("too_large") "GET / HTTP/1.1\r\n\r\n" },
	{ "length far over", POST "Content-Length: 99999999999999999999\r\n"
	  "\r\n" "0123", POST MARK("too_large") },
	{ "chunked within, extensions and trailers",
	  POST "Transfer-Encoding: chunked\r\nA: b\r\n\r\n"
	  "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	  POST "A: b\r\nContent-Length: 5\r\n\r\nabcdeGET / HTTP/1.1\r\n\r\n" },
	{ "chunked over: dropped, the next request read",
	  POST "Transfer-Encoding: chunked\r\n\r\n"
	  "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n"
	  "GET / HTTP/1.1\r\n\r\n",
	  POST MARK("too_large") "GET / HTTP/1.1\r\n\r\n" },
	{ "one chunk over", POST "Transfer-Encoding: chunked\r\n\r\n"
	  "ffffffffffffffffffff\r\n0123",
	  POST MARK("too_large") },
	{ "chunked, not a size", POST "Transfer-Encoding: chunked\r\n\r\n"
	  "zz\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	  POST MARK("bad_request") },
	{ "chunked, no end of data", POST "Transfer-Encoding: chunked\r\n\r\n"
	  "3\r\nabcXY\r\n0\r\n\r\n", POST MARK("bad_request") },
	{ "chunked with Expect: evhttp's", POST "Transfer-Encoding: chunked\r\n"
	  "Expect: 100-continue\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	  POST "Transfer-Encoding: chunked\r\n"
	  "Expect: 100-continue\r\n\r\n3\r\nabc\r\n0\r\n\r\n" },
	{ "a client's mark dropped", POST "Modgate-Body: too_large\r\n"
	  "Content-Length: 1\r\n\r\nx", POST "Content-Length: 1\r\n\r\nx" },
	{ "the first Content-Length counts", POST "Content-Length: 2\r\n"
	  "Content-Length: 99\r\n\r\nab",
	  POST "Content-Length: 2\r\nContent-Length: 99\r\n\r\nab" },
	{ "a continued value, as evhttp joins it",
	  POST "Transfer-Encoding:\r\n chunked\r\nContent-Length: 2\r\n\r\nab",
	  POST "Transfer-Encoding:\r\n chunked\r\nContent-Length: 2\r\n\r\nab" },
	{ "a name with a space is another name",
	  POST "Content-Length : 40\r\n\r\n",
	  POST "Content-Length : 40\r\n\r\n" },
	{ "no body without a method for one",
	  "GET /x HTTP/1.1\r\nContent-Length: 50\r\n\r\nGET /y HTTP/1.1\r\n\r\n",
	  "GET /x HTTP/1.1\r\nContent-Length: 50\r\n\r\nGET /y HTTP/1.1\r\n\r\n" },
	{ "a bad length: refused, the rest dropped",
	  POST "Authorization: x\r\nContent-Length: 4x\r\n\r\n"
	  "GET / HTTP/1.1\r\n\r\n", POST MARK("bad_request") },
	{ "keep-alive without a length: refused",
	  POST "Connection: keep-alive\r\n\r\nzz", POST MARK("bad_request") },
	{ "a header line without a colon: refused",
	  "GET /x HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	  "GET /x HTTP/1.1\r\n" MARK("bad_request") },
	{ "a continuation first: refused",
	  "GET /x HTTP/1.1\r\n a\r\n\r\n", "GET /x HTTP/1.1\r\n"
	  MARK("bad_request") },
	{ "a line with CR passes", POST "A: b\rc\r\n\r\n",
	  POST "A: b\rc\r\n\r\n" },
	{ "a bad request line passes", "POST  /x HTTP/1.1\r\n"
	  "Content-Length: 90\r\n\r\n", "POST  /x HTTP/1.1\r\n"
	  "Content-Length: 90\r\n\r\n" },
};

/* What the frame lets through of IN fed STEP bytes at a time. */
static char *
run(const char *in, size_t step, size_t *outlen)
{
	struct frame	*f = frame_new(MAX_BODY, MAX_HEAD);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	size_t		 len = strlen(in), i, k;
	char		*out;

	assert_non_null(f);
	for (i = 0; i < len; i += k) {
		k = len - i < step ? len - i : step;
		assert_int_equal(evbuffer_add(src, in + i, k), 0);
		assert_int_equal(frame_run(f, src, dst), 0);
	}
	*outlen = evbuffer_get_length(dst);
	out = calloc(1, *outlen + 1);
	assert_non_null(out);
	evbuffer_remove(dst, out, *outlen);
	evbuffer_free(src);
	evbuffer_free(dst);
	frame_free(f);
	return out;
}

static void
test_cases(void **state)
{
	size_t	 i, n, steps[] = { 100000, 1, 7 }, s;
	char	*out;
	int	 bad = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			out = run(cases[i].in, steps[s], &n);
			if (n != strlen(cases[i].out) ||
			    memcmp(out, cases[i].out, n) != 0) {
				fprintf(stderr, "%s (step %zu): got\n%s\n",
				    cases[i].name, steps[s], out);
				bad++;
			}
			free(out);
		}
	assert_int_equal(bad, 0);
}

static void
test_long_head(void **state)
{
	char	*in, *out;
	size_t	 n;

	/* A header block over the limit passes untouched: evhttp refuses it. */
	in = calloc(1, 2 * MAX_HEAD);
	assert_non_null(in);
	strcpy(in, POST "X: ");
	memset(in + strlen(in), 'a', MAX_HEAD);
	out = run(in, 100000, &n);
	assert_int_equal(n, strlen(in));
	assert_memory_equal(out, in, n);
	free(out);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_long_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
