/*
 * fuzz-tokenizer: WordPiece on arbitrary bytes, with a small built-in
 * vocabulary (pieces, "##" continuations, multi-byte entries); the output
 * must be in bounds, in order and never longer than the input.  The input
 * is also tried as a vocabulary file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n"
    "a\nb\nc\nt\nh\ne\nthe\n##e\n##s\n##a\n##b\n##he\n##ing\nun\n##able\n"
    "!\n.\n,\n?\n\xc3\xa9\n##\xc3\xa9\ncaf\n\xe6\x97\xa5\n\xe6\x97\xa5\xe6\x9c\xac\n"
    "\xf0\x9f\x98\x80\n1\n##2\n12\n#\n##\n###\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tokenizer *tk;
	struct tokenizer *t2;
	struct token	 out[64];
	size_t		 n, i, prev = 0;

	if (tk == NULL && (tk = tokenizer_new(vocab, sizeof(vocab) - 1, 8,
	    "fuzz")) == NULL)
		abort();
	n = tokenizer_encode(tk, (const char *)data, size, out, 64);
	if (n > size)
		abort();
	for (i = 0; i < n && i < 64; i++) {
		if (out[i].start < prev || out[i].start >= out[i].end ||
		    out[i].end > size || out[i].id >= tokenizer_size(tk))
			abort();
		prev = out[i].end;
	}
	/* the same text with no room: same count */
	if (tokenizer_encode(tk, (const char *)data, size, NULL, 0) != n)
		abort();
	if ((t2 = tokenizer_new((const char *)data, size, 16, "fuzz")) != NULL) {
		n = tokenizer_encode(t2, (const char *)data, size, out, 64);
		if (n > size)
			abort();
		tokenizer_free(t2);
	}
	return 0;
}
