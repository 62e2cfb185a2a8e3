/*
 * fuzz-http-frame: the request framing in front of evhttp on arbitrary
 * bytes, with a body limit of 64 and a header limit of 1024.  The first
 * byte is a step (1 to 256): the rest is fed to one frame at once and to
 * another STEP bytes at a time; what both let through must be the same,
 * and never more than twice the input (a bare "\n" becomes "\r\n") and
 * the header lines a frame adds to a block it rewrites (at most 128 bytes
 * a block, one block a 4 input bytes at the most).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http-frame.h"

#define MAX_BODY	64
#define MAX_HEAD	1024

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a frame lets through of DATA fed STEP bytes at a time, in OUT. */
static void
feed(const uint8_t *data, size_t size, size_t step, struct evbuffer *out)
{
	struct frame	*f = frame_new(MAX_BODY, MAX_HEAD);
	struct evbuffer	*src = evbuffer_new();
	size_t		 i, k;

	if (f == NULL || src == NULL)
		abort();
	for (i = 0; i < size; i += k) {
		k = size - i < step ? size - i : step;
		if (evbuffer_add(src, data + i, k) == -1 ||
		    frame_run(f, src, out) == -1)
			abort();
	}
	evbuffer_free(src);
	frame_free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer	*a, *b;
	size_t		 step, n;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	data++;
	size--;
	if ((a = evbuffer_new()) == NULL || (b = evbuffer_new()) == NULL)
		abort();
	feed(data, size, size + 1, a);
	feed(data, size, step, b);
	n = evbuffer_get_length(a);
	if (n != evbuffer_get_length(b) ||
	    (n > 0 && memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1),
	    n) != 0))
		abort();
	if (n > 2 * size + 128 * (size / 4 + 1))
		abort();
	evbuffer_free(a);
	evbuffer_free(b);
	return 0;
}
