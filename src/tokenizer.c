/* tokenizer: see include/tokenizer.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "file.h"
#include "log.h"
#include "tokenizer.h"

#define TOKENIZER_MAX_FILE	(64u << 20)

struct vocab_entry {
	uint32_t	 off;		/* into pool; UINT32_MAX = empty slot */
	uint32_t	 len;
	uint32_t	 id;
};

struct tokenizer {
	char		*pool;		/* every token, NUL-terminated */
	uint32_t	*offs;		/* [n] offset of token id in pool */
	size_t		 n;
	struct vocab_entry *tab;	/* [mask + 1] open addressing */
	size_t		 mask;
	size_t		 max_piece;	/* longest entry, bytes */
	int		 max_word_chars;
};

static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

int64_t
tokenizer_lookup(const struct tokenizer *tk, const char *s, size_t len)
{
	size_t		 i;
	const struct vocab_entry *e;

	if (len > tk->max_piece)
		return -1;
	i = hash_bytes(s, len) & tk->mask;
	for (;;) {
		e = &tk->tab[i];
		if (e->off == UINT32_MAX)
			return -1;
		if (e->len == len && memcmp(tk->pool + e->off, s, len) == 0)
			return e->id;
		i = (i + 1) & tk->mask;
	}
}

size_t
tokenizer_next_cp(const char *s, size_t len, int32_t *cp)
{
	utf8proc_ssize_t n;

	n = utf8proc_iterate((const utf8proc_uint8_t *)s,
	    len > 4 ? 4 : (utf8proc_ssize_t)len, cp);
	if (n <= 0) {
		*cp = -1;
		return 1;
	}
	return (size_t)n;
}

int
tokenizer_is_space(int32_t cp)
{
	utf8proc_category_t c;

	if (cp >= 0x09 && cp <= 0x0d)
		return 1;
	if (cp < 0)
		return 0;
	c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL ||
	    c == UTF8PROC_CATEGORY_ZP;
}

int
tokenizer_is_word(int32_t cp)
{
	if (cp < 0)
		return 0;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return 1;
	default:
		return 0;
	}
}

/* Check one vocabulary line.  0 or -1 after logging. */
static int
line_check(const char *name, size_t lineno, const char *s, size_t len)
{
	size_t		 i, k;
	int32_t		 cp;

	if (len == 0) {
		log_warnx("%s:%zu: empty token", name, lineno);
		return -1;
	}
	if (len > TOKENIZER_MAX_PIECE) {
		log_warnx("%s:%zu: token longer than %u bytes", name, lineno,
		    TOKENIZER_MAX_PIECE);
		return -1;
	}
	for (i = 0; i < len; i += k) {
		k = tokenizer_next_cp(s + i, len - i, &cp);
		if (cp < 0 || cp == 0) {
			log_warnx("%s:%zu: invalid UTF-8", name, lineno);
			return -1;
		}
		if (tokenizer_is_space(cp)) {
			log_warnx("%s:%zu: white space inside a token", name,
			    lineno);
			return -1;
		}
	}
	return 0;
}

struct tokenizer *
tokenizer_new(const char *buf, size_t len, int max_word_chars,
    const char *name)
{
	static const char *const specials[] = { "[PAD]", "[UNK]", "[CLS]",
	    "[SEP]" };
	struct tokenizer *tk;
	const char	*p, *end, *nl;
	size_t		 n, i, cap, l, h;
	struct vocab_entry *e;

	if (max_word_chars < 1 || max_word_chars > TOKENIZER_MAX_WORD_CHARS) {
		log_warnx("%s: max_word_chars %d outside [1, %d]", name,
		    max_word_chars, TOKENIZER_MAX_WORD_CHARS);
		return NULL;
	}
	if (len > TOKENIZER_MAX_FILE) {
		log_warnx("%s: vocabulary file too large", name);
		return NULL;
	}
	if ((tk = calloc(1, sizeof(*tk))) == NULL) {
		log_warn("%s", name);
		return NULL;
	}
	tk->max_word_chars = max_word_chars;
	/* Lines: a final newline is optional. */
	for (n = 0, p = buf, end = buf + len; p < end; n++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	if (n < 4 || n > TOKENIZER_MAX_VOCAB) {
		log_warnx("%s: %zu tokens (want 4 to %u)", name, n,
		    TOKENIZER_MAX_VOCAB);
		goto fail;
	}
	for (cap = 16; cap < 2 * n; cap *= 2)
		;
	tk->mask = cap - 1;
	if ((tk->pool = malloc(len + 1)) == NULL ||
	    (tk->offs = calloc(n, sizeof(*tk->offs))) == NULL ||
	    (tk->tab = calloc(cap, sizeof(*tk->tab))) == NULL) {
		log_warn("%s", name);
		goto fail;
	}
	for (i = 0; i < cap; i++)
		tk->tab[i].off = UINT32_MAX;
	for (i = 0, p = buf; i < n; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		l = (size_t)((nl ? nl : end) - p);
		if (line_check(name, i + 1, p, l) == -1)
			goto fail;
		if (i < 4 && (l != 5 || memcmp(p, specials[i], 5) != 0)) {
			log_warnx("%s:%zu: want %s", name, i + 1, specials[i]);
			goto fail;
		}
		if (tokenizer_lookup(tk, p, l) != -1) {
			log_warnx("%s:%zu: duplicate token \"%.*s\"", name,
			    i + 1, (int)(l > 40 ? 40 : l), p);
			goto fail;
		}
		tk->offs[i] = (uint32_t)(p - buf);
		memcpy(tk->pool + tk->offs[i], p, l);
		tk->pool[tk->offs[i] + l] = '\0';
		h = hash_bytes(p, l) & tk->mask;
		while (tk->tab[h].off != UINT32_MAX)
			h = (h + 1) & tk->mask;
		e = &tk->tab[h];
		e->off = tk->offs[i];
		e->len = (uint32_t)l;
		e->id = (uint32_t)i;
		tk->n = i + 1;
		/* tokenizer_lookup skips entries longer than max_piece */
		if (l > tk->max_piece)
			tk->max_piece = l;
		p = nl ? nl + 1 : end;
	}
	return tk;
fail:
	tokenizer_free(tk);
	return NULL;
}

struct tokenizer *
tokenizer_load(const char *path, int max_word_chars)
{
	struct tokenizer *tk;
	char		*buf, err[256];
	size_t		 len;

	if (file_read(path, TOKENIZER_MAX_FILE, &buf, &len, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s", path, err);
		return NULL;
	}
	tk = tokenizer_new(buf, len, max_word_chars, path);
	free(buf);
	return tk;
}

void
tokenizer_free(struct tokenizer *tk)
{
	if (tk == NULL)
		return;
	free(tk->pool);
	free(tk->offs);
	free(tk->tab);
	free(tk);
}

size_t
tokenizer_size(const struct tokenizer *tk)
{
	return tk->n;
}

const char *
tokenizer_piece(const struct tokenizer *tk, uint32_t id)
{
	if (id >= tk->n)
		return NULL;
	return tk->pool + tk->offs[id];
}

/*
 * Split one word of NCP code points, bytes [WSTART, WEND) of TEXT, into
 * pieces appended to OUT from index *N.  OFFS[0..NCP] are the byte offsets
 * of its code points and its end, needed only when NCP <= max_word_chars.
 */
static void
word_split(const struct tokenizer *tk, const char *text, const size_t *offs,
    size_t ncp, size_t wstart, size_t wend, struct token *out, size_t max,
    size_t *n)
{
	/* "##" room, then the lowercased word (at most 4 bytes a code point) */
	char		 buf[2 + 4 * TOKENIZER_MAX_WORD_CHARS];
	char		*key;
	size_t		 first = *n, pos, end, plen, i, wl;
	int64_t		 id;

	if (ncp > (size_t)tk->max_word_chars)
		goto unk;
	wl = wend - wstart;
	for (i = 0; i < wl; i++) {
		char c = text[wstart + i];
		buf[2 + i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	for (pos = 0; pos < ncp; pos = end) {
		/* Later pieces: "##" written over the consumed bytes. */
		key = buf + 2 + (offs[pos] - wstart);
		plen = 0;
		if (pos > 0) {
			key -= 2;
			key[0] = key[1] = '#';
			plen = 2;
		}
		id = -1;
		for (end = ncp; end > pos; end--) {
			if (plen + offs[end] - offs[pos] > tk->max_piece)
				continue;
			id = tokenizer_lookup(tk, key,
			    plen + offs[end] - offs[pos]);
			if (id != -1)
				break;
		}
		if (id == -1)
			goto unk;
		if (*n < max) {
			out[*n].id = (uint32_t)id;
			out[*n].start = (uint32_t)offs[pos];
			out[*n].end = (uint32_t)offs[end];
		}
		(*n)++;
	}
	return;
unk:
	*n = first;
	if (*n < max) {
		out[*n].id = TOKEN_UNK;
		out[*n].start = (uint32_t)wstart;
		out[*n].end = (uint32_t)wend;
	}
	(*n)++;
}

size_t
tokenizer_encode(const struct tokenizer *tk, const char *text, size_t len,
    struct token *out, size_t max)
{
	size_t		 offs[TOKENIZER_MAX_WORD_CHARS + 2];
	size_t		 i = 0, k, ncp = 0, n = 0, wstart = 0, wend = 0;
	int32_t		 cp;
	int		 inword = 0;

	if (len > TOKENIZER_MAX_TEXT)
		len = TOKENIZER_MAX_TEXT;
	while (i < len) {
		k = tokenizer_next_cp(text + i, len - i, &cp);
		if (tokenizer_is_word(cp)) {
			if (!inword) {
				inword = 1;
				ncp = 0;
				wstart = i;
			}
			/* Past max_word_chars only the end matters. */
			if (ncp <= (size_t)tk->max_word_chars)
				offs[ncp] = i;
			ncp++;
			wend = i + k;
			i += k;
			continue;
		}
		if (inword) {
			inword = 0;
			if (ncp <= (size_t)tk->max_word_chars)
				offs[ncp] = wend;
			word_split(tk, text, offs, ncp, wstart, wend, out, max,
			    &n);
		}
		if (!tokenizer_is_space(cp)) {
			offs[0] = i;
			offs[1] = i + k;
			word_split(tk, text, offs, 1, i, i + k, out, max, &n);
		}
		i += k;
	}
	if (inword) {
		if (ncp <= (size_t)tk->max_word_chars)
			offs[ncp] = wend;
		word_split(tk, text, offs, ncp, wstart, wend, out, max, &n);
	}
	return n;
}
