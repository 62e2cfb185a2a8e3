/*
 * tokenizer: the WordPiece tokenizer of modgate-encoder-v1
 * (train/FORMAT.md): ASCII lowercasing, words split on Unicode general
 * categories, greedy longest match against the vocabulary, and the byte
 * span of every piece in the original text.
 */
#ifndef MODGATE_TOKENIZER_H
#define MODGATE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_PAD	0
#define TOKEN_UNK	1
#define TOKEN_CLS	2
#define TOKEN_SEP	3

#define TOKENIZER_MAX_WORD_CHARS 256	/* largest max_word_chars accepted */
#define TOKENIZER_MAX_PIECE	1024	/* bytes of one vocabulary line */
#define TOKENIZER_MAX_VOCAB	(1u << 22)
#define TOKENIZER_MAX_TEXT	UINT32_MAX	/* bytes a text may have */

struct tokenizer;

struct token {
	uint32_t	 id;
	uint32_t	 start, end;	/* [start, end) bytes of the text */
};

/*
 * The vocabulary in LEN bytes at BUF (one token per line, UTF-8, the line
 * number is the id; lines 0-3 are [PAD] [UNK] [CLS] [SEP]).  Empty lines,
 * duplicates, invalid UTF-8, white space inside a token and lines over
 * TOKENIZER_MAX_PIECE bytes are errors.  NAME is used in messages.
 * Returns NULL after logging why.
 */
struct tokenizer *tokenizer_new(const char *buf, size_t len,
		    int max_word_chars, const char *name);
/* The same, reading the file PATH. */
struct tokenizer *tokenizer_load(const char *path, int max_word_chars);
void		 tokenizer_free(struct tokenizer *);

/* Vocabulary size. */
size_t		 tokenizer_size(const struct tokenizer *);
/* The text of token ID, or NULL when out of range. */
const char	*tokenizer_piece(const struct tokenizer *, uint32_t id);
/* The id of the exact vocabulary entry S (LEN bytes), or -1. */
int64_t		 tokenizer_lookup(const struct tokenizer *, const char *s,
		    size_t len);

/*
 * Tokenize LEN bytes of TEXT (no [CLS]).  Stores at most MAX tokens in
 * OUT and returns how many the whole text has, so a return above MAX
 * means OUT was too small.  A text of LEN bytes never has more than LEN
 * tokens.  Invalid UTF-8 bytes are taken one at a time as words of their
 * own (they become [UNK]).  Bytes past TOKENIZER_MAX_TEXT are not looked
 * at (callers refuse such texts).  Never allocates.
 */
size_t		 tokenizer_encode(const struct tokenizer *, const char *text,
		    size_t len, struct token *out, size_t max);

/*
 * The pre-tokenizer's character classes (train/FORMAT.md step 2), shared
 * with the n-gram head: decode one code point at S[0..LEN) and return its
 * length (*CP = -1 for an invalid byte, taken alone); white space; word
 * characters (letters, marks, numbers).
 */
size_t		 tokenizer_next_cp(const char *s, size_t len, int32_t *cp);
int		 tokenizer_is_space(int32_t cp);
int		 tokenizer_is_word(int32_t cp);

#endif
