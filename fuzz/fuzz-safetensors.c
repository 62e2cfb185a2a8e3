/*
 * fuzz-safetensors: the weights-file parser on arbitrary bytes.  A file it
 * accepts must describe tensors that lie inside the buffer it kept.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct safetensors st;
	const struct st_tensor *t;
	volatile float sink = 0;
	size_t	 i, j;

	if (safetensors_parse(&st, data, size, "fuzz") == -1)
		return 0;
	for (i = 0; i < st.n; i++) {
		t = &st.t[i];
		if ((const uint8_t *)t->data < st.buf ||
		    (const uint8_t *)(t->data + t->nelem) > st.buf + st.len)
			abort();
		for (j = 0; j < t->nelem; j++)
			sink += t->data[j];
		if (safetensors_find(&st, t->name) != t)
			abort();
	}
	(void)sink;
	safetensors_close(&st);
	return 0;
}
