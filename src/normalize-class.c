/*
 * normalize-class: the character classes of the normaliser: the tables of
 * ASCII bytes, the class of any code point, the ASCII confusable with a
 * code point (src/confusables.h, from UTS #39) and the leetspeak letter
 * of an ASCII character.  See include/normalize-internal.h.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <utf8proc.h>

#include "normalize-internal.h"
#include "confusables.h"

unsigned char	 ascii_cls[256];
unsigned char	 ascii_lower[256];
unsigned char	 ascii_leet[256];
unsigned char	 ascii_flag[256];
pthread_once_t	 norm_tables_once = PTHREAD_ONCE_INIT;

char
norm_leet(uint32_t cp)
{
	switch (cp) {
	case '0': return 'o';
	case '1': return 'i';
	case '3': return 'e';
	case '4': return 'a';
	case '5': return 's';
	case '6': return 'b';
	case '7': return 't';
	case '8': return 'b';
	case '9': return 'g';
	case '@': return 'a';
	case '$': return 's';
	case '!': return 'i';
	case '|': return 'l';
	case '+': return 't';
	case '(': return 'c';
	default: return 0;
	}
}

void
norm_tables_fill(void)
{
	int	 c;

	for (c = 0; c < 256; c++) {
		ascii_lower[c] = (unsigned char)c;
		if (c >= 'A' && c <= 'Z')
			ascii_lower[c] = (unsigned char)(c + 32);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			ascii_cls[c] = C_LETTER;
		else if (c >= '0' && c <= '9')
			ascii_cls[c] = C_DIGIT;
		else if (c == ' ' || (c >= '\t' && c <= '\r'))
			ascii_cls[c] = C_SPACE;
		else if (c > ' ' && c < 127)
			ascii_cls[c] = C_PUNCT;	/* 127 and up: C_OTHER */
		else
			ascii_cls[c] = C_OTHER;
	}
	for (c = 0; c < 128; c++) {
		ascii_leet[c] = (unsigned char)norm_leet((uint32_t)c);
		ascii_flag[c] = (ascii_cls[c] & C_WORD ? 1 : 0) |
		    (ascii_cls[c] & (C_LETTER | C_DIGIT) ? 2 : 0);
	}
}

uint32_t
norm_cp_class(uint32_t cp)
{
	if (cp < 128)
		return ascii_cls[cp];
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		return C_LETTER;
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return C_DIGIT;
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return C_MARK;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return C_SPACE;
	case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO:
		return C_PUNCT;
	default:
		return cp == 0x85 ? C_SPACE : C_OTHER;
	}
}

/* ASCII text confusable with CP (lowercase letters or digits), or NULL. */
const char *
norm_confusable(uint32_t cp)
{
	size_t	 lo = 0, hi = sizeof(confusables) / sizeof(confusables[0]), mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (confusables[mid].cp == cp)
			return confusables[mid].to;
		if (confusables[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
