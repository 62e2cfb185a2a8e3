/*
 * fuzz-http: the parsers of the HTTP front.  The first byte picks one:
 * even, the rest is a bearer tokens file (http_tokens_load): what it
 * accepts has 1 to 256 tokens with names; odd, the rest is the JSON of
 * an OpenAI request body, or of its "input" alone (openai_inputs): what it
 * accepts is 1 to 8 strings without NUL, which outlive the body's
 * reference only through A's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "http-internal.h"
#include "log.h"
#include "openai.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

static char	 file[64];

static void
cleanup(void)
{
	unlink(file);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 fd;

	snprintf(file, sizeof(file), "/tmp/fuzz-http.XXXXXX");
	if ((fd = mkstemp(file)) == -1)
		abort();
	close(fd);
	atexit(cleanup);
	log_init("fuzz-http", 1, 0);
	return 0;
}

static void
tokens(const uint8_t *data, size_t size)
{
	struct http	 h;
	FILE		*f;
	size_t		 i;

	if ((f = fopen(file, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	memset(&h, 0, sizeof(h));
	if ((h.tokens = calloc(HTTP_MAX_TOKENS, sizeof(*h.tokens))) == NULL)
		abort();
	if (http_tokens_load(&h, file) == 0) {
		if (h.ntokens > HTTP_MAX_TOKENS)
			abort();
		for (i = 0; i < h.ntokens; i++)
			if (h.tokens[i].name[0] == '\0' ||
			    strlen(h.tokens[i].name) >= HTTP_NAME_MAX)
				abort();
	}
	free(h.tokens);
}

static void
inputs(const uint8_t *data, size_t size)
{
	json_t	*in, *root, *a;
	char	 msg[256];
	size_t	 i;

	in = json_loadb((const char *)data, size, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, NULL);
	if (in == NULL)
		return;
	root = json_is_object(in) ? json_incref(in) : json_pack("{s:O}",
	    "input", in);
	json_decref(in);
	if (root == NULL || (a = json_array()) == NULL)
		abort();
	msg[0] = '\0';
	if (openai_inputs(root, a, 8, msg, sizeof(msg)) == 0) {
		json_decref(root);
		root = NULL;
		if (json_array_size(a) < 1 || json_array_size(a) > 8)
			abort();
		for (i = 0; i < json_array_size(a); i++)
			if (!json_is_string(json_array_get(a, i)) ||
			    memchr(json_string_value(json_array_get(a, i)),
			    '\0', json_string_length(json_array_get(a, i))) !=
			    NULL)
				abort();
	} else if (msg[0] == '\0')
		abort();
	json_decref(a);
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 65536)
		return 0;
	if (data[0] % 2 == 0)
		tokens(data + 1, size - 1);
	else
		inputs(data + 1, size - 1);
	return 0;
}
