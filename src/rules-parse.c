/*
 * rules-parse: the rules file format of man 5 modgate.rules into struct
 * rule_defs, every error as "file:line:col: message", all of them in one
 * run.
 *
 *	# comment
 *	include "dir-or-file"
 *	disable ID-OR-GLOB ...
 *	rule ID {
 *		match	/PCRE2/flags
 *		on	raw | normalized | skeleton
 *		category NAME
 *		action	block | flag | rewrite "template"
 *		score	NUMBER
 *		mode	enforce | monitor
 *		unless	/PCRE2/flags
 *		check	luhn | iban | phone
 *		test	match | nomatch "text"
 *	}
 *
 * One key per line.  A pattern runs from its opening slash to the next
 * unescaped slash outside a character class and is handed to PCRE2 as
 * written.  Strings take \" \\ \n \t \r \xHH and \u{HEX}.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include "file.h"
#include "rules-internal.h"

struct lex {
	const char	*name;		/* file name for diagnostics */
	const char	*dir;		/* base of includes, NULL: none allowed */
	int		 depth;
	const char	*p, *e;
	const char	*bol;		/* start of the current line */
	int		 line;
	struct rule_defs *defs;
	struct rules_diag *diag;
	int		 errors;
};

static int	 parse_file(const char *, int, struct rule_defs *,
		    struct rules_diag *);
static int	 parse_path(const char *, int, struct rule_defs *,
		    struct rules_diag *);

void
rules_diag_add(struct rules_diag *d, const char *file, int line, int col,
    const char *fmt, ...)
{
	char	 msg[1024], *s, **nv;
	va_list	 ap;
	size_t	 ncap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && col > 0) {
		if (asprintf(&s, "%s:%d:%d: %s", file, line, col, msg) == -1)
			return;
	} else if (asprintf(&s, "%s: %s", file, msg) == -1)
		return;
	if (d->n == d->cap) {
		ncap = d->cap ? d->cap * 2 : 16;
		if ((nv = reallocarray(d->v, ncap, sizeof(*nv))) == NULL) {
			free(s);
			return;
		}
		d->v = nv;
		d->cap = ncap;
	}
	d->v[d->n++] = s;
}

void
rules_diag_free(struct rules_diag *d)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Column of P on the current line, in characters from 1. */
static int
lex_col(const struct lex *lx, const char *p)
{
	const char	*q;
	int		 col = 1;

	for (q = lx->bol; q < p; q++)
		if (((unsigned char)*q & 0xc0) != 0x80)
			col++;
	return col;
}

static void __attribute__((format(printf, 3, 4)))
lex_error(struct lex *lx, const char *at, const char *fmt, ...)
{
	char	 msg[900];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rules_diag_add(lx->diag, lx->name, lx->line, lex_col(lx, at), "%s", msg);
	lx->errors++;
}

/* Skip blanks and a comment, not the newline. */
static void
skip_blank(struct lex *lx)
{
	while (lx->p < lx->e && (*lx->p == ' ' || *lx->p == '\t' ||
	    *lx->p == '\r'))
		lx->p++;
	if (lx->p < lx->e && *lx->p == '#')
		while (lx->p < lx->e && *lx->p != '\n')
			lx->p++;
}

static int
at_eol(struct lex *lx)
{
	skip_blank(lx);
	return lx->p == lx->e || *lx->p == '\n';
}

/* Move past the end of the current line. */
static void
next_line(struct lex *lx)
{
	while (lx->p < lx->e && *lx->p != '\n')
		lx->p++;
	if (lx->p < lx->e) {
		lx->p++;
		lx->line++;
		lx->bol = lx->p;
	}
}

/* Skip blank lines and comment lines. */
static void
skip_space(struct lex *lx)
{
	for (;;) {
		skip_blank(lx);
		if (lx->p < lx->e && *lx->p == '\n')
			next_line(lx);
		else
			return;
	}
}

/* Expect the end of the line after a complete key, then go past it. */
static void
end_line(struct lex *lx)
{
	if (!at_eol(lx))
		lex_error(lx, lx->p, "unexpected text after the value");
	next_line(lx);
}

static int
word_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':';
}

/* A word ([A-Za-z0-9_.:-]+), malloc'd, or NULL with *lx->p unchanged. */
static char *
read_word(struct lex *lx)
{
	const char	*s = lx->p;

	while (lx->p < lx->e && word_char((unsigned char)*lx->p))
		lx->p++;
	if (lx->p == s)
		return NULL;
	return strndup(s, (size_t)(lx->p - s));
}

static int
word_is(const char *w, const char *s)
{
	return w != NULL && strcmp(w, s) == 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A double-quoted string on this line, unescaped into a malloc'd buffer
 * (length in *LEN), or NULL after an error.  It must be valid UTF-8
 * without NUL.
 */
static char *
read_string(struct lex *lx, size_t *lenp)
{
	const char	*start = lx->p, *esc;
	char		*out;
	size_t		 o = 0;
	unsigned long	 cp;
	int		 h, k;

	if (lx->p == lx->e || *lx->p != '"') {
		lex_error(lx, lx->p, "expected a \"string\"");
		return NULL;
	}
	lx->p++;
	/* unescaped text is never longer than the rest of the line */
	if ((esc = memchr(lx->p, '\n', (size_t)(lx->e - lx->p))) == NULL)
		esc = lx->e;
	if ((out = malloc((size_t)(esc - lx->p) + 1)) == NULL)
		return NULL;
	for (;;) {
		if (lx->p == lx->e || *lx->p == '\n') {
			lex_error(lx, start, "unterminated string");
			goto fail;
		}
		if (*lx->p == '"') {
			lx->p++;
			break;
		}
		if (*lx->p != '\\') {
			out[o++] = *lx->p++;
			continue;
		}
		esc = lx->p++;
		if (lx->p == lx->e)
			continue;
		switch (*lx->p++) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'x':
			if (lx->e - lx->p < 2 || (h = hexval(lx->p[0])) < 0 ||
			    hexval(lx->p[1]) < 0) {
				lex_error(lx, esc, "\\x needs two hex digits");
				goto fail;
			}
			out[o++] = (char)(h * 16 + hexval(lx->p[1]));
			lx->p += 2;
			break;
		case 'u':
			if (lx->p == lx->e || *lx->p != '{') {
				lex_error(lx, esc, "\\u needs {HEX}");
				goto fail;
			}
			lx->p++;
			for (cp = 0, k = 0; lx->p < lx->e &&
			    (h = hexval(*lx->p)) >= 0 && k < 7; lx->p++, k++)
				cp = cp * 16 + (unsigned long)h;
			if (k == 0 || k > 6 || lx->p == lx->e || *lx->p != '}' ||
			    cp == 0 || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff)) {
				lex_error(lx, esc, "bad \\u{HEX} code point");
				goto fail;
			}
			lx->p++;
			o += (size_t)utf8proc_encode_char((utf8proc_int32_t)cp,
			    (utf8proc_uint8_t *)out + o);
			break;
		default:
			lex_error(lx, esc, "unknown escape \\%c", lx->p[-1]);
			goto fail;
		}
	}
	out[o] = '\0';
	if (!utf8_valid(out, o)) {
		lex_error(lx, start, "string is not valid UTF-8 or holds NUL");
		goto fail;
	}
	*lenp = o;
	return out;
fail:
	free(out);
	return NULL;
}

/*
 * A /pattern/flags on this line: the pattern as written (malloc'd), its
 * PCRE2 options in *FLAGS and the flag letters in FLAGSTR.  NULL after an
 * error.
 */
static char *
read_regex(struct lex *lx, uint32_t *flags, char flagstr[8], int *line,
    int *col)
{
	const char	*start = lx->p, *s;
	int		 cls = 0, nf = 0;
	char		*pat;

	if (lx->p == lx->e || *lx->p != '/') {
		lex_error(lx, lx->p, "expected /pattern/");
		return NULL;
	}
	s = ++lx->p;
	for (;;) {
		if (lx->p == lx->e || *lx->p == '\n') {
			lex_error(lx, start, "unterminated /pattern/");
			return NULL;
		}
		if (*lx->p == '\\' && lx->p + 1 < lx->e && lx->p[1] != '\n') {
			lx->p += 2;
			continue;
		}
		if (cls) {
			if (*lx->p == ']' && lx->p - 1 > s &&
			    !(lx->p[-1] == '[' || (lx->p[-1] == '^' &&
			    lx->p - 2 >= s && lx->p[-2] == '[')))
				cls = 0;
		} else if (*lx->p == '[')
			cls = 1;
		else if (*lx->p == '/')
			break;
		lx->p++;
	}
	if (lx->p == s) {
		lex_error(lx, start, "empty pattern");
		lx->p++;
		return NULL;
	}
	if ((pat = strndup(s, (size_t)(lx->p - s))) == NULL)
		return NULL;
	if (!utf8_valid(pat, strlen(pat))) {
		lex_error(lx, s, "pattern is not valid UTF-8");
		free(pat);
		return NULL;
	}
	*line = lx->line;
	*col = lex_col(lx, s);
	lx->p++;
	*flags = PCRE2_UTF;
	for (; lx->p < lx->e && isalpha((unsigned char)*lx->p); lx->p++) {
		switch (*lx->p) {
		case 'i': *flags |= PCRE2_CASELESS; break;
		case 'm': *flags |= PCRE2_MULTILINE; break;
		case 's': *flags |= PCRE2_DOTALL; break;
		case 'x': *flags |= PCRE2_EXTENDED; break;
		case 'u': *flags |= PCRE2_UCP; break;
		default:
			lex_error(lx, lx->p, "unknown pattern flag '%c' "
			    "(i, m, s, x, u)", *lx->p);
			free(pat);
			return NULL;
		}
		if (strchr(flagstr, *lx->p) == NULL && nf < 7) {
			flagstr[nf++] = *lx->p;
			flagstr[nf] = '\0';
		}
	}
	return pat;
}

static int
valid_id(const char *id)
{
	const char	*p;

	if (!isalnum((unsigned char)id[0]))
		return 0;
	for (p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' &&
		    *p != '.')
			return 0;
	return 1;
}

static struct rule_def *
defs_add(struct rule_defs *defs)
{
	struct rule_def	*nv;
	size_t		 ncap;

	if (defs->n == defs->cap) {
		ncap = defs->cap ? defs->cap * 2 : 64;
		if ((nv = reallocarray(defs->v, ncap, sizeof(*nv))) == NULL)
			return NULL;
		defs->v = nv;
		defs->cap = ncap;
	}
	memset(&defs->v[defs->n], 0, sizeof(defs->v[0]));
	return &defs->v[defs->n++];
}

static void
def_clear(struct rule_def *r)
{
	size_t	 i;

	free(r->id);
	free(r->pattern);
	free(r->unless);
	free(r->category);
	free(r->tmpl);
	for (i = 0; i < r->ntests; i++)
		free(r->tests[i].text);
	free(r->tests);
	memset(r, 0, sizeof(*r));
}

void
rule_defs_free(struct rule_defs *defs)
{
	size_t	 i;

	if (defs == NULL)
		return;
	for (i = 0; i < defs->n; i++)
		def_clear(&defs->v[i]);
	free(defs->v);
	for (i = 0; i < defs->nfiles; i++) {
		free(defs->files[i].path);
		free(defs->files[i].text);
	}
	free(defs->files);
	memset(defs, 0, sizeof(*defs));
}

/* Complain about a key given twice in one rule. */
static int
once(struct lex *lx, const char *at, const char *key, int seen)
{
	if (seen) {
		lex_error(lx, at, "'%s' given twice in this rule", key);
		return 0;
	}
	return 1;
}

/* One key line of a rule body; the lexer is at the key. */
static void
parse_key(struct lex *lx, struct rule_def *r, unsigned *seen)
{
	const char	*at = lx->p, *vat;
	char		*key, *w = NULL, *s;
	size_t		 len;
	struct rule_test *nt;
	double		 d;
	char		*end;

	if ((key = read_word(lx)) == NULL) {
		lex_error(lx, at, "expected a key or '}'");
		next_line(lx);
		return;
	}
	skip_blank(lx);
	vat = lx->p;
	if (word_is(key, "match") || word_is(key, "unless")) {
		int	 m = key[0] == 'm';
		int	 line, col;
		uint32_t f;
		char	 fs[8] = "";

		if (!once(lx, at, key, *seen & (m ? 1 : 2)))
			goto skip;
		*seen |= m ? 1 : 2;
		if ((s = read_regex(lx, &f, fs, &line, &col)) == NULL)
			goto skip;
		if (m) {
			r->pattern = s;
			r->flags = f;
			memcpy(r->flagstr, fs, sizeof(fs));
			r->pat_line = line;
			r->pat_col = col;
		} else {
			r->unless = s;
			r->unless_flags = f;
			r->unl_line = line;
			r->unl_col = col;
		}
	} else if (word_is(key, "on")) {
		if (!once(lx, at, key, *seen & 4))
			goto skip;
		*seen |= 4;
		w = read_word(lx);
		if (word_is(w, "raw"))
			r->form = FORM_RAW;
		else if (word_is(w, "normalized") || word_is(w, "normalised"))
			r->form = FORM_NORMALIZED;
		else if (word_is(w, "skeleton"))
			r->form = FORM_SKELETON;
		else {
			lex_error(lx, vat, "'on' takes raw, normalized or "
			    "skeleton");
			goto skip;
		}
	} else if (word_is(key, "category")) {
		if (!once(lx, at, key, *seen & 8))
			goto skip;
		*seen |= 8;
		if ((w = read_word(lx)) == NULL) {
			lex_error(lx, vat, "'category' takes a name");
			goto skip;
		}
		free(r->category);
		r->category = w;
		w = NULL;
	} else if (word_is(key, "action")) {
		if (!once(lx, at, key, *seen & 16))
			goto skip;
		*seen |= 16;
		w = read_word(lx);
		if (word_is(w, "block"))
			r->action = ACTION_BLOCK;
		else if (word_is(w, "flag"))
			r->action = ACTION_FLAG;
		else if (word_is(w, "rewrite")) {
			skip_blank(lx);
			r->tmpl_line = lx->line;
			r->tmpl_col = lex_col(lx, lx->p) + 1;
			if ((r->tmpl = read_string(lx, &len)) == NULL)
				goto skip;
			r->action = ACTION_REWRITE;
		} else {
			lex_error(lx, vat, "'action' takes block, flag or "
			    "rewrite \"template\"");
			goto skip;
		}
	} else if (word_is(key, "score")) {
		if (!once(lx, at, key, *seen & 32))
			goto skip;
		*seen |= 32;
		errno = 0;
		d = strtod(lx->p, &end);
		if (end == lx->p || errno != 0 || !isfinite(d) || d < 0 ||
		    d > 1000) {
			lex_error(lx, vat, "'score' takes a number from 0 to "
			    "1000");
			goto skip;
		}
		lx->p = end;
		r->score = d;
	} else if (word_is(key, "mode")) {
		if (!once(lx, at, key, *seen & 64))
			goto skip;
		*seen |= 64;
		w = read_word(lx);
		if (word_is(w, "enforce"))
			r->monitor = 0;
		else if (word_is(w, "monitor"))
			r->monitor = 1;
		else {
			lex_error(lx, vat, "'mode' takes enforce or monitor");
			goto skip;
		}
	} else if (word_is(key, "check")) {
		if (!once(lx, at, key, *seen & 128))
			goto skip;
		*seen |= 128;
		w = read_word(lx);
		if (word_is(w, "luhn"))
			r->check = CHECK_LUHN;
		else if (word_is(w, "iban"))
			r->check = CHECK_IBAN;
		else if (word_is(w, "phone"))
			r->check = CHECK_PHONE;
		else {
			lex_error(lx, vat, "'check' takes luhn, iban or phone");
			goto skip;
		}
	} else if (word_is(key, "test")) {
		int	 expect;

		w = read_word(lx);
		if (word_is(w, "match"))
			expect = 1;
		else if (word_is(w, "nomatch"))
			expect = 0;
		else {
			lex_error(lx, vat, "'test' takes match or nomatch, "
			    "then a \"string\"");
			goto skip;
		}
		skip_blank(lx);
		vat = lx->p;
		if ((s = read_string(lx, &len)) == NULL)
			goto skip;
		nt = reallocarray(r->tests, r->ntests + 1, sizeof(*nt));
		if (nt == NULL) {
			free(s);
			goto skip;
		}
		r->tests = nt;
		nt[r->ntests].expect = expect;
		nt[r->ntests].text = s;
		nt[r->ntests].len = len;
		nt[r->ntests].line = lx->line;
		nt[r->ntests].col = lex_col(lx, vat);
		r->ntests++;
	} else {
		lex_error(lx, at, "unknown key '%s'", key);
		goto skip;
	}
	free(key);
	free(w);
	end_line(lx);
	return;
skip:
	free(key);
	free(w);
	next_line(lx);
}

/* `rule ID {` ... `}`; the lexer is after the word "rule". */
static void
parse_rule(struct lex *lx, const char *file)
{
	struct rule_def	*r, tmp;
	const char	*idat;
	int		 line, errs = lx->errors;
	unsigned	 seen = 0;
	char		*dot;

	memset(&tmp, 0, sizeof(tmp));
	r = &tmp;
	skip_blank(lx);
	idat = lx->p;
	line = lx->line;
	r->file = file;
	r->line = line;
	r->col = lex_col(lx, idat);
	r->form = FORM_NORMALIZED;
	r->action = ACTION_FLAG;
	r->score = 1.0;
	while (lx->p < lx->e && !isspace((unsigned char)*lx->p) &&
	    *lx->p != '{' && *lx->p != '#')
		lx->p++;
	r->id = lx->p > idat ? strndup(idat, (size_t)(lx->p - idat)) : NULL;
	if (r->id == NULL || !valid_id(r->id)) {
		lex_error(lx, idat, "expected a rule id ([A-Za-z0-9_.-], "
		    "starting with a letter or digit)");
		free(r->id);
		r->id = NULL;
	}
	skip_blank(lx);
	if (lx->p == lx->e || *lx->p != '{') {
		lex_error(lx, lx->p, "expected '{' after the rule id");
		next_line(lx);	/* then read the body as usual */
	} else {
		lx->p++;
		end_line(lx);
	}
	for (;;) {
		skip_space(lx);
		if (lx->p == lx->e) {
			rules_diag_add(lx->diag, lx->name, line, r->col,
			    "rule %s: missing '}' before the end of the file",
			    r->id ? r->id : "?");
			lx->errors++;
			break;
		}
		if (*lx->p == '}') {
			lx->p++;
			end_line(lx);
			break;
		}
		if (strncmp(lx->p, "rule", 4) == 0 && lx->e - lx->p > 4 &&
		    (lx->p[4] == ' ' || lx->p[4] == '\t')) {
			lex_error(lx, lx->p, "'rule' inside rule %s: missing "
			    "'}'?", r->id ? r->id : "?");
			break;
		}
		parse_key(lx, r, &seen);
	}
	if (r->id != NULL && !(seen & 1)) {
		rules_diag_add(lx->diag, lx->name, line, r->col,
		    "rule %s has no 'match'", r->id);
		lx->errors++;
	}
	if (r->id != NULL && r->category == NULL) {
		/* default category: the id up to its first dot */
		r->category = strdup(r->id);
		if (r->category != NULL && (dot = strchr(r->category, '.')))
			*dot = '\0';
	}
	/*
	 * A rule with errors in other keys is kept when it has an id and a
	 * pattern, so that compiling it reports its other errors too (the
	 * load fails anyway).
	 */
	(void)errs;
	if (r->id == NULL || r->pattern == NULL || r->category == NULL ||
	    (r = defs_add(lx->defs)) == NULL) {
		def_clear(&tmp);
		return;
	}
	*r = tmp;
}

/*
 * `disable ID-OR-GLOB ...`: the lexer is after the word.  Switches off
 * every rule loaded so far whose id matches one of the words (fnmatch(3));
 * a word that matches none is an error, so that a typo or a rule gone from
 * a shipped file is seen rather than ignored.
 */
static void
parse_disable(struct lex *lx)
{
	const char	*at;
	char		*w;
	size_t		 i, hits;
	int		 nwords = 0;

	for (;;) {
		skip_blank(lx);
		if (lx->p == lx->e || *lx->p == '\n')
			break;
		at = lx->p;
		while (lx->p < lx->e && !isspace((unsigned char)*lx->p) &&
		    *lx->p != '#')
			lx->p++;
		if ((w = strndup(at, (size_t)(lx->p - at))) == NULL)
			break;
		nwords++;
		for (i = 0, hits = 0; i < lx->defs->n; i++)
			if (!lx->defs->v[i].disabled &&
			    fnmatch(w, lx->defs->v[i].id, 0) == 0) {
				lx->defs->v[i].disabled = 1;
				hits++;
			}
		if (hits == 0)
			lex_error(lx, at, "disable %s: no rule loaded before "
			    "this line has this id", w);
		free(w);
	}
	if (nwords == 0)
		lex_error(lx, lx->p, "expected a rule id or glob after "
		    "'disable'");
	next_line(lx);
}

/* `include "path"`: the lexer is after the word. */
static void
parse_include(struct lex *lx)
{
	const char	*at;
	char		*s, *path = NULL;
	size_t		 len;

	skip_blank(lx);
	at = lx->p;
	if ((s = read_string(lx, &len)) == NULL) {
		next_line(lx);
		return;
	}
	if (lx->dir == NULL)
		lex_error(lx, at, "include is not allowed here");
	else if (lx->depth >= RULES_INCLUDE_DEPTH)
		lex_error(lx, at, "includes nested more than %d deep (a "
		    "cycle?)", RULES_INCLUDE_DEPTH);
	else if (s[0] != '/' && asprintf(&path, "%s/%s", lx->dir, s) == -1)
		path = NULL;
	else {
		struct stat sb;

		if (s[0] == '/')
			path = strdup(s);
		if (path != NULL && strpbrk(path, "*?[") == NULL &&
		    stat(path, &sb) == -1) {
			lex_error(lx, at, "cannot include \"%s\": %s", s,
			    strerror(errno));
			free(path);
			path = NULL;
		}
		if (path != NULL) {
			int n0 = (int)lx->diag->n;

			if (parse_path(path, lx->depth + 1, lx->defs,
			    lx->diag) == -1 && (int)lx->diag->n == n0)
				lex_error(lx, at, "cannot include \"%s\"", s);
			if ((int)lx->diag->n != n0)
				lx->errors++;
		}
	}
	free(path);
	free(s);
	end_line(lx);
}

static int
parse_text(const char *name, const char *dir, int depth, const char *buf,
    size_t len, struct rule_defs *defs, struct rules_diag *diag)
{
	struct lex	 lx;
	const char	*at;
	char		*w;

	memset(&lx, 0, sizeof(lx));
	lx.name = name;
	lx.dir = dir;
	lx.depth = depth;
	lx.p = lx.bol = buf;
	lx.e = buf + len;
	lx.line = 1;
	lx.defs = defs;
	lx.diag = diag;
	if (memchr(buf, '\0', len) != NULL) {
		rules_diag_add(diag, name, 0, 0, "file holds a NUL byte");
		return -1;
	}
	for (;;) {
		skip_space(&lx);
		if (lx.p == lx.e)
			break;
		at = lx.p;
		w = read_word(&lx);
		if (word_is(w, "rule") && lx.p < lx.e && (*lx.p == ' ' ||
		    *lx.p == '\t'))
			parse_rule(&lx, name);
		else if (word_is(w, "include"))
			parse_include(&lx);
		else if (word_is(w, "disable"))
			parse_disable(&lx);
		else {
			lex_error(&lx, at, "expected 'rule ID {', 'include' or "
			    "'disable'");
			next_line(&lx);
			/* skip a broken stanza's body up to its '}' line */
		}
		free(w);
	}
	return lx.errors ? -1 : 0;
}

/* Record PATH and its text in DEFS; returns the stored name. */
static const char *
defs_file(struct rule_defs *defs, const char *path, char *text, size_t len)
{
	struct rule_file *nf;
	size_t		 ncap;
	char		*p;

	if (defs->nfiles == defs->filescap) {
		ncap = defs->filescap ? defs->filescap * 2 : 8;
		if ((nf = reallocarray(defs->files, ncap, sizeof(*nf))) == NULL)
			return NULL;
		defs->files = nf;
		defs->filescap = ncap;
	}
	if ((p = strdup(path)) == NULL)
		return NULL;
	defs->files[defs->nfiles].path = p;
	defs->files[defs->nfiles].text = text;
	defs->files[defs->nfiles].len = len;
	defs->nfiles++;
	return p;
}

static int
parse_file(const char *path, int depth, struct rule_defs *defs,
    struct rules_diag *diag)
{
	char		*buf = NULL, *dir = NULL, err[256];
	const char	*name, *slash;
	size_t		 got;
	int		 rv = -1;

	if (file_read(path, RULES_MAX_FILE, &buf, &got, err,
	    sizeof(err)) == -1) {
		rules_diag_add(diag, path, 0, 0, "%s", err);
		return -1;
	}
	if ((slash = strrchr(path, '/')) == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		goto done;
	if ((name = defs_file(defs, path, buf, got)) == NULL)
		goto done;
	rv = parse_text(name, dir, depth, buf, got, defs, diag);
	buf = NULL;		/* owned by defs now */
done:
	free(buf);
	free(dir);
	return rv;
}

static int
rules_suffix(const struct dirent *d)
{
	size_t	 n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 6 &&
	    strcmp(d->d_name + n - 6, ".rules") == 0;
}

/* glob(3): a directory that cannot be read stops it; a missing one not. */
static int
glob_error(const char *path, int err)
{
	return err != ENOENT && err != ENOTDIR;
}

/* Byte order of names, whatever the locale. */
static int
name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A file, a directory (its *.rules) or a glob, the files of the last two
 * in the byte order of their paths (the load order of man 5
 * modgate.rules).
 */
static int
parse_path(const char *path, int depth, struct rule_defs *defs,
    struct rules_diag *diag)
{
	struct stat	 st;
	struct dirent	**ents = NULL;
	glob_t		 g;
	char		*sub;
	int		 i, n, rv = 0;
	size_t		 k;

	if (strpbrk(path, "*?[") != NULL) {
		memset(&g, 0, sizeof(g));
		if ((i = glob(path, GLOB_NOSORT, glob_error, &g)) != 0) {
			globfree(&g);
			if (i == GLOB_NOMATCH)
				return 0;	/* the caller counts files */
			rules_diag_add(diag, path, 0, 0, "%s", i == GLOB_ABORTED ?
			    "cannot read a directory of the pattern" :
			    "out of memory");
			return -1;
		}
		qsort(g.gl_pathv, g.gl_pathc, sizeof(*g.gl_pathv), path_cmp);
		for (k = 0; k < g.gl_pathc; k++)
			if (parse_path(g.gl_pathv[k], depth, defs, diag) == -1)
				rv = -1;
		globfree(&g);
		return rv;
	}
	if (stat(path, &st) == -1) {
		rules_diag_add(diag, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return parse_file(path, depth, defs, diag);
	if ((n = scandir(path, &ents, rules_suffix, name_cmp)) == -1) {
		rules_diag_add(diag, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (asprintf(&sub, "%s/%s", path, ents[i]->d_name) == -1)
			rv = -1;
		else {
			if (parse_file(sub, depth, defs, diag) == -1)
				rv = -1;
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
	return rv;
}

int
rules_parse_file(const char *path, struct rule_defs *defs,
    struct rules_diag *diag)
{
	return parse_path(path, 0, defs, diag);
}

int
rules_parse_buf(const char *name, const char *buf, size_t len,
    const char *dir, struct rule_defs *defs, struct rules_diag *diag)
{
	char		*copy;
	const char	*stored;

	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	if (len > 0)
		memcpy(copy, buf, len);
	copy[len] = '\0';
	if ((stored = defs_file(defs, name, copy, len)) == NULL) {
		free(copy);
		return -1;
	}
	return parse_text(stored, dir, 0, copy, len, defs, diag);
}

int
rules_parse_paths(char *const *paths, size_t n, const char *base_dir,
    int allow_empty, struct rule_defs *defs, struct rules_diag *diag)
{
	size_t	 i, nfiles;
	char	*p;
	int	 rv = 0;

	for (i = 0; i < n; i++) {
		nfiles = defs->nfiles;
		if (paths[i][0] == '/' || base_dir == NULL ||
		    base_dir[0] == '\0')
			p = strdup(paths[i]);
		else if (asprintf(&p, "%s/%s", base_dir, paths[i]) == -1)
			p = NULL;
		if (p == NULL)
			return -1;
		if (parse_path(p, 0, defs, diag) == -1)
			rv = -1;
		else if (!allow_empty && defs->nfiles == nfiles) {
			rules_diag_add(diag, p, 0, 0, "matches no rules file "
			    "(rules.allow_empty = true runs without)");
			rv = -1;
		}
		free(p);
	}
	return rv;
}
