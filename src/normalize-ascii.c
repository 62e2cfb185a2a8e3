/*
 * normalize-ascii: the normalized and skeleton forms of all-ASCII text on
 * the bytes, with no unit array (see src/normalize.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "normalize-internal.h"

/* A one-character word at byte I of ASCII text T. */
static int
ascii_single(const unsigned char *t, size_t len, size_t i)
{
	return (ascii_cls[t[i]] & (C_LETTER | C_DIGIT)) &&
	    (i == 0 || !(ascii_cls[t[i - 1]] & C_WORD)) &&
	    (i + 1 == len || !(ascii_cls[t[i + 1]] & C_WORD));
}

/*
 * The number of one-character words in the chain from the one at byte I
 * of ASCII text T; *LAST is the byte of its last word.
 */
static size_t
ascii_chain(const unsigned char *t, size_t len, size_t i, size_t *last)
{
	size_t	 j, k, cnt = 1;

	*last = i;
	for (j = i + 1; ; ) {
		for (k = j; k < len && k - j < GAP_MAX + 1 &&
		    (ascii_cls[t[k]] & C_SEP); k++)
			;
		if (k == j || k - j > GAP_MAX || k == len ||
		    !ascii_single(t, len, k))
			break;
		cnt++;
		*last = k;
		j = k + 1;
	}
	return cnt;
}

/*
 * collapse() for ASCII text T: set DROP[k] for the separators of every
 * chain of one-character words.  *DROP is allocated on the first chain.
 * Returns 0, -1 on allocation failure, or 1 when T is not all ASCII.
 */
static int
ascii_collapse(const unsigned char *t, size_t len, unsigned char **drop)
{
	size_t		 i, k, cnt, last;
	unsigned	 fp, fc, fn;

	if (len == 0)
		return 0;
	/* ascii_flag: 1 word character, 2 letter or digit; 0 past the end */
	fp = 0;
	fc = ascii_flag[t[0]];
	for (i = 0; i < len; i++) {
		if (t[i] >= 0x80)
			goto nonascii;
		fn = i + 1 < len ? ascii_flag[t[i + 1]] : 0;
		/* a one-character word: rare, one predictable branch */
		if (((fc >> 1) & ~fp & ~fn & 1) == 0) {
			fp = fc;
			fc = fn;
			continue;
		}
		cnt = ascii_chain(t, len, i, &last);
		fp = fc;
		fc = fn;
		if (cnt < CHAIN_MIN)
			continue;
		if (*drop == NULL && (*drop = calloc(len, 1)) == NULL)
			return -1;
		for (k = i + 1; k < last; k++)
			if (ascii_cls[t[k]] & C_SEP)
				(*drop)[k] = 1;
		/* go on after the chain */
		for (; i < last; i++)
			if (t[i + 1] >= 0x80)
				goto nonascii;
		fp = ascii_flag[t[last]];
		fc = last + 1 < len ? ascii_flag[t[last + 1]] : 0;
	}
	return 0;
nonascii:
	free(*drop);
	*drop = NULL;
	return 1;
}

#define DROPPED(k)	(drop != NULL && drop[k])

/*
 * The same forms for all-ASCII text with no unit array: ASCII needs no
 * decomposition, and steps 2 and 3 run on the bytes (chains of
 * one-character words marked in DROP, rare and usually absent).  Returns
 * 0, -1 on allocation failure, or 1 for text with a byte outside ASCII,
 * which takes the general path.  tests/unit/test-normalize.c checks that
 * both paths agree.
 */
int
normalize_ascii(const unsigned char *t, size_t len, int skel,
    struct normtext *out, unsigned *leetp, int maps)
{
	unsigned	 leet_seen = 0;

	size_t		 i, j, k, nx, b, o = 0, rep_pos = 0, rep_second = 0;
	unsigned	 rep_cnt = 0;
	unsigned char	 c, rep_c = 0, *drop = NULL;
	uint32_t	 cls;
	int		 letter, rv = -1;
	char		 l, *os;
	size_t		*ost, *oen;

	norm_tables_init();
	if (skel)
		maps = 1;	/* only the normalized loop can leave them out */
	out->s = malloc(len + 1);
	if (maps) {
		out->start = malloc((len + 1) * sizeof(size_t));
		out->end = malloc((len + 1) * sizeof(size_t));
	}
	if (out->s == NULL || (maps && (out->start == NULL ||
	    out->end == NULL)))
		goto done;
	/* local copies: stores through them cannot alias OUT */
	os = out->s;
	ost = out->start;
	oen = out->end;
	if (!skel) {
		/*
		 * The common case, normalized without chains: one loop with
		 * rarely taken branches (a byte outside ASCII, a one-character
		 * word, a second white space, a third repeat of a letter).
		 * The first chain of one-character words found sends the text
		 * to ascii_collapse() and the loop below.
		 */
		unsigned	 sp, prev_sp = 0, isl, fp = 0, fc, fn, one;
		size_t		 last;		/* of a chain: unused here */

		fc = len > 0 ? ascii_flag[t[0]] : 0;
		for (i = 0; i < len; i++) {
			/* eight bytes of plain words at once when they allow */
			while (len - i >= 8 && ascii_block(t, len, i, fp,
			    prev_sp, rep_cnt, rep_c, os + o)) {
				for (k = 0; maps && k < 8; k++) {
					ost[o + k] = i + k;
					oen[o + k] = i + k + 1;
				}
				c = (unsigned char)os[o + 7];
				if (c == ' ') {
					rep_cnt = 0;
					rep_pos = o + 7;
				} else if (c == (unsigned char)os[o + 6]) {
					rep_cnt = 2;
					rep_pos = o + 6;
				} else {
					rep_cnt = 1;
					rep_pos = o + 7;
				}
				rep_c = c;
				prev_sp = c == ' ';
				o += 8;
				i += 8;
				fp = ascii_flag[t[i - 1]];
				fc = i < len ? ascii_flag[t[i]] : 0;
			}
			if (i == len)
				break;
			c = t[i];
			if (c >= 0x80) {
				rv = 1;
				goto done;
			}
			/* ascii_flag: 1 word character, 2 letter or digit */
			fn = i + 1 < len ? ascii_flag[t[i + 1]] : 0;
			one = (fc >> 1) & ~fp & ~fn & 1;
			fp = fc;
			fc = fn;
			if (one && ascii_chain(t, len, i, &last) >= CHAIN_MIN)
				goto chains;
			cls = ascii_cls[c];
			leet_seen |= ascii_leet[c];
			sp = cls == C_SPACE;
			if (sp & prev_sp) {
				if (maps)	/* one space for the run */
					oen[o - 1] = i + 1;
				continue;
			}
			c = ascii_lower[c];
			isl = (cls & C_LETTER) != 0;
			/* bitwise, not &&: one branch, rarely taken */
			if (isl & (rep_cnt != 0) & (c == rep_c)) {
				if (++rep_cnt >= REPEAT_MIN) {
					if (rep_cnt == REPEAT_MIN)
						o--;	/* the pair's second */
					if (maps)
						oen[rep_pos] = i + 1;
					prev_sp = 0;
					continue;
				}
			} else {
				rep_cnt = isl;
				rep_c = c;
				rep_pos = o;
			}
			os[o] = sp ? ' ' : (char)c;
			if (maps) {
				ost[o] = i;
				oen[o] = i + 1;
			}
			o++;
			prev_sp = sp;
		}
		goto finish;
	}
chains:
	if (!maps) {		/* the loop below always writes them */
		out->start = malloc((len + 1) * sizeof(size_t));
		out->end = malloc((len + 1) * sizeof(size_t));
		if (out->start == NULL || out->end == NULL)
			goto done;
		ost = out->start;
		oen = out->end;
	}
	o = 0;
	rep_cnt = 0;
	rep_c = 0;
	rep_pos = 0;
	if ((rv = ascii_collapse(t, len, &drop)) != 0)
		goto done;
	rv = -1;
	for (i = 0; i < len; ) {
		if (DROPPED(i)) {
			i++;
			continue;
		}
		cls = ascii_cls[t[i]];
		if (cls == C_SPACE) {
			for (b = i + 1, j = i + 1; j < len &&
			    (ascii_cls[t[j]] == C_SPACE || DROPPED(j)); j++)
				if (!DROPPED(j))
					b = j + 1;
			os[o] = ' ';
			ost[o] = i;
			oen[o] = b;
			o++;
			rep_cnt = 0;
			i = j;
			continue;
		}
		/* skeleton: the word (letters, digits, leet symbols) at i */
		j = i + 1;
		letter = 0;
		if (skel && ((cls & C_WORD) || ascii_leet[t[i]])) {
			for (j = i; j < len; j++) {
				if (DROPPED(j))
					continue;
				if (!((ascii_cls[t[j]] & C_WORD) || ascii_leet[t[j]]))
					break;
				if (ascii_cls[t[j]] & C_LETTER)
					letter = 1;
			}
		}
		for (k = i; k < j; k++) {
			if (DROPPED(k))
				continue;
			c = ascii_lower[t[k]];
			cls = ascii_cls[t[k]];
			if (letter && (l = (char)ascii_leet[c]) != 0) {
				nx = k + 1;
				while (nx < j && DROPPED(nx))
					nx++;
				if (!(cls & C_PUNCT) || c == '$' || c == '@' ||
				    (k != i && nx < j)) {
					c = (unsigned char)l;
					cls = C_LETTER;
				}
			}
			if ((cls & C_LETTER) && rep_cnt > 0 && c == rep_c) {
				if (++rep_cnt >= REPEAT_MIN) {
					o = rep_second;
					oen[rep_pos] = k + 1;
					continue;
				}
				rep_second = o;
			} else if (cls & C_LETTER) {
				rep_c = c;
				rep_cnt = 1;
				rep_pos = o;
			} else
				rep_cnt = 0;
			os[o] = (char)c;
			ost[o] = k;
			oen[o] = k + 1;
			o++;
		}
		i = j;
	}
finish:
	os[o] = '\0';
	out->len = o;
	rv = 0;
	if (leetp != NULL)	/* only the tight loop tracks it */
		*leetp = skel || drop != NULL || leet_seen != 0;
done:
	free(drop);
	return rv;
}

#define TOKEN_CHAR(c)	((ascii_cls[c] & C_WORD) || ascii_leet[c])

int
normalize_skeleton_same(const char *text, size_t len)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t		 i, l, r, k;
	int		 letter;

	norm_tables_init();
	for (i = 0; i < len; i++) {
		/* most bytes: two predictable tests */
		if (t[i] >= 0x80)
			return 0;
		if (ascii_leet[t[i]] == 0 && !(ascii_cls[t[i]] & C_DIGIT))
			continue;
		/* a digit alone may join a chain of one-character words */
		if ((ascii_cls[t[i]] & C_DIGIT) &&
		    (i == 0 || !(ascii_cls[t[i - 1]] & C_WORD)) &&
		    (i + 1 == len || !(ascii_cls[t[i + 1]] & C_WORD)))
			return 0;
		if (ascii_leet[t[i]] == 0)
			continue;	/* 2: never folded */
		/* the word around it (letters, digits, leet symbols) */
		for (l = i; l > 0 && TOKEN_CHAR(t[l - 1]); l--)
			;
		for (r = i + 1; r < len && TOKEN_CHAR(t[r]); r++)
			;
		if ((ascii_cls[t[i]] & C_PUNCT) && t[i] != '$' && t[i] != '@' &&
		    (i == l || i + 1 == r))
			continue;	/* '!' '|' '+' '(' at a word's edge */
		for (letter = 0, k = l; k < r && !letter; k++)
			letter = (ascii_cls[t[k]] & C_LETTER) != 0;
		if (letter)
			return 0;
	}
	return 1;
}
