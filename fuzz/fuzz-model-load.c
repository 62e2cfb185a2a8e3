/*
 * fuzz-model-load: the model directory loader (config.json, the WordPiece
 * vocabulary, model.safetensors and the checks between them) on arbitrary
 * bytes.  The input holds the three files separated by lines "%%%%":
 *
 *	config.json \n%%%%\n tokenizer.txt \n%%%%\n model.safetensors
 *
 * written to a scratch directory.  A model it accepts must score a text
 * (the forward pass over every window) without a fault.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classifier.h"
#include "config.h"
#include "log.h"
#include "model.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#define SEP	"\n%%%%\n"

static const char *const names[] = { "config.json", "tokenizer.txt",
    "model.safetensors" };
static char	 dir[64];

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
cleanup(void)
{
	char	 p[128];
	size_t	 i;

	for (i = 0; i < 3; i++) {
		path_of(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/fuzz-model.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	log_init("fuzz-model-load", 1, 0);
	return 0;
}

static void
write_file(const char *name, const uint8_t *p, size_t n)
{
	char	 path[128];
	FILE	*f;

	path_of(path, sizeof(path), name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (n > 0 && fwrite(p, 1, n, f) != n)
		abort();
	if (fclose(f) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char text[] = "Sure! Here is a short answer, with "
	    "numbers 1234 and \xc3\xa9t\xc3\xa9 words, repeated: answer answer "
	    "answer answer answer answer answer answer answer answer.";
	struct classifier_conf conf = { .enabled = 1, .window = 16,
	    .stride = 8, .batch_max = 4, .threads = 1 };
	struct classifier_out out;
	struct model	*m;
	const uint8_t	*p = data, *end = data + size, *q;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		q = i < 2 ? memmem(p, (size_t)(end - p), SEP, strlen(SEP)) :
		    NULL;
		if (q == NULL)
			q = end;
		write_file(names[i], p, (size_t)(q - p));
		p = q < end ? q + strlen(SEP) : end;
	}
	if ((m = model_load(dir)) == NULL)
		return 0;
	if (classifier_score(m, &conf, text, sizeof(text) - 1, &out) == 0 &&
	    (out.span_start > out.span_end || out.span_end > sizeof(text) - 1))
		abort();
	model_free(m);
	return 0;
}
