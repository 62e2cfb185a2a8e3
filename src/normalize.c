/* normalize: see include/normalize.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"

int
utf8_valid(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *e = p + len;
	unsigned char	 c;

	while (p < e) {
		c = *p;
		if (c >= 0x01 && c < 0x80) {
			p++;
			continue;
		}
		if (c == 0x00)
			return 0;
		if (c >= 0xc2 && c <= 0xdf) {
			if (e - p < 2 || (p[1] & 0xc0) != 0x80)
				return 0;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (e - p < 3 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80)
				return 0;
			if (c == 0xe0 && p[1] < 0xa0)		/* overlong */
				return 0;
			if (c == 0xed && p[1] >= 0xa0)		/* surrogate */
				return 0;
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (e - p < 4 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
				return 0;
			if (c == 0xf0 && p[1] < 0x90)		/* overlong */
				return 0;
			if (c == 0xf4 && p[1] >= 0x90)		/* > U+10FFFF */
				return 0;
			p += 4;
		} else
			return 0;	/* continuation, C0/C1 overlong, F5+ */
	}
	return 1;
}

static const char *const norm_form_names[FORM_COUNT] = {
	"raw", "normalized", "skeleton"
};

const char *
norm_form_name(enum norm_form f)
{
	if ((unsigned)f >= FORM_COUNT)
		return "?";
	return norm_form_names[f];
}

void
normtext_clear(struct normtext *nt)
{
	if (nt == NULL)
		return;
	free(nt->s);
	free(nt->start);
	free(nt->end);
	memset(nt, 0, sizeof(*nt));
}

int
normalize(const char *text, size_t len, enum norm_form form,
    struct normtext *out)
{
	size_t	 i;

	memset(out, 0, sizeof(*out));
	if (form != FORM_RAW) {
		errno = ENOSYS;	/* normalized and skeleton forms: next commit */
		return -1;
	}
	out->s = malloc(len + 1);
	out->start = calloc(len + 1, sizeof(size_t));
	out->end = calloc(len + 1, sizeof(size_t));
	if (out->s == NULL || out->start == NULL || out->end == NULL) {
		normtext_clear(out);
		return -1;
	}
	if (len > 0)
		memcpy(out->s, text, len);
	out->s[len] = '\0';
	for (i = 0; i < len; i++) {
		out->start[i] = i;
		out->end[i] = i + 1;
	}
	out->len = len;
	return 0;
}
