/*
 * fuzz-protocol: the protocol v1 request line parser on arbitrary bytes.
 * A line it accepts must hold valid UTF-8 text for a check and serialise
 * back into one JSON line echoing the id; a line it refuses must give an
 * error code and an error answer that is itself one valid JSON line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "normalize.h"
#include "protocol.h"
#include "verdict.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LINE (LEN bytes) is one JSON object ending in a single newline. */
static void
check_line(const char *line, size_t len)
{
	json_error_t	 jerr;
	json_t		*o;

	if (line == NULL)
		abort();
	if (len == 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL)
		abort();
	if ((o = json_loadb(line, len - 1, 0, &jerr)) == NULL ||
	    !json_is_object(o) || json_object_get(o, "id") == NULL)
		abort();
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request pr;
	struct proto_error err;
	struct result	 res;
	char		*line;
	size_t		 len;

	if (protocol_parse((const char *)data, size, &pr, &err) == -1) {
		if (err.code == NULL || err.message[0] == '\0')
			abort();
		line = protocol_error(err.id, err.code, err.message, &len);
		check_line(line, len);
		free(line);
		json_decref(err.id);
		return 0;
	}
	if (pr.root == NULL)
		abort();
	if (pr.op == OP_CHECK && (pr.req.text == NULL ||
	    !utf8_valid(pr.req.text, pr.req.len)))
		abort();
	result_init(&res);
	line = protocol_answer(&pr.req, &res, "sha256:0", &len);
	check_line(line, len);
	free(line);
	result_clear(&res);
	protocol_request_clear(&pr);
	return 0;
}
