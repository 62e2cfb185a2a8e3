/*
 * rules: compile the parsed rule set and match it (see include/rules.h).
 *
 * Every rule is a PCRE2 pattern on one text form.  Per form, the patterns
 * Hyperscan accepts are compiled into one database in prefilter mode
 * (HS_FLAG_PREFILTER | SINGLEMATCH): a scan of the form reports each rule
 * that may match, at most once.  Those candidates, and the rules Hyperscan
 * rejected (the fallback list, always candidates), are then run with
 * PCRE2 (JIT when available) under the configured match and depth limits,
 * which finds every non-overlapping match and its groups.  A hit is kept
 * unless the rule's `unless` pattern matches inside it or its `check`
 * (Luhn, IBAN) fails; its offsets are mapped back to the original text.
 *
 * The rule set is immutable once built.  Per-request state (Hyperscan
 * scratch, PCRE2 match data and match context with its JIT stack) comes
 * from a small pool in the rule set, so rules_match is safe from any
 * number of threads.  The Hyperscan databases are cached in cache_dir
 * under a hash of what was compiled, so a restart with unchanged rules
 * skips the Hyperscan compile.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <hs.h>
#include <sodium.h>

#include "log.h"
#include "normalize.h"
#include "normalize-internal.h"
#include "rules.h"
#include "rules-internal.h"

#define DEFAULT_MATCH_LIMIT	1000000
#define DEFAULT_DEPTH_LIMIT	10000
#define HEAP_LIMIT_KIB		(64 * 1024)
#define JIT_STACK_MAX		(1024 * 1024)
#define CACHE_MAGIC		"MGHSDB2\n"

struct rule {
	const struct rule_def *def;	/* id, category, template, tests */
	pcre2_code	*re;
	pcre2_code	*unless;
	uint32_t	 ncap;		/* capture groups */
	int		 in_hs;		/* in its form's Hyperscan database */
	int		 bytecase;	/* raw, caseless, scanned as bytes */
	atomic_int	 warned;	/* a limit hit was logged */
};

/* Per-request match state, pooled. */
struct mstate {
	struct mstate	*next;
	hs_scratch_t	*scratch;
	pcre2_match_data *md;
	pcre2_match_data *md2;		/* for unless patterns */
	pcre2_match_context *mctx;
	pcre2_jit_stack	*jit;
	unsigned int	*cand;		/* candidate rule indexes */
	size_t		 ncand;
	const struct ruleset *rs;	/* for on_hit_bytecase */
};

struct ruleset {
	struct rule_defs defs;
	struct rule	*v;
	size_t		 n;
	hs_database_t	*db[FORM_COUNT];
	unsigned int	*fallback[FORM_COUNT];
	size_t		 nfallback[FORM_COUNT];
	unsigned int	*bytecase;	/* rules with .bytecase set */
	size_t		 nbytecase;
	int		 used[FORM_COUNT];
	hs_scratch_t	*proto;
	uint32_t	 ovec;		/* pairs in match data */
	uint32_t	 match_limit, depth_limit;
	pthread_mutex_t	 lock;
	struct mstate	*pool;
	size_t		 nhs, cached;
	size_t		 ndisabled;	/* parsed, switched off by `disable` */
};

int
check_luhn(const char *s, size_t len)
{
	int	 d[32], n = 0, i, sum = 0, x;
	size_t	 k;

	for (k = 0; k < len; k++) {
		if (s[k] >= '0' && s[k] <= '9') {
			if (n == 32)
				return 0;
			d[n++] = s[k] - '0';
		}
	}
	if (n < 12 || n > 19)
		return 0;
	for (i = n - 1; i >= 0; i--) {
		x = d[i];
		if ((n - 1 - i) % 2 == 1) {
			x *= 2;
			if (x > 9)
				x -= 9;
		}
		sum += x;
	}
	return sum % 10 == 0;
}

int
check_iban(const char *s, size_t len)
{
	char	 c[40];
	int	 n = 0, i, rem = 0, v;
	size_t	 k;

	for (k = 0; k < len; k++) {
		if (s[k] == ' ' || s[k] == '-')
			continue;
		if (n == 34)
			return 0;
		c[n++] = s[k];
	}
	if (n < 15)
		return 0;
	for (i = 0; i < 2; i++)
		if (!((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= 'a' && c[i] <= 'z')))
			return 0;
	if (c[2] < '0' || c[2] > '9' || c[3] < '0' || c[3] > '9')
		return 0;
	for (i = 0; i < n; i++) {
		char	 ch = c[(i + 4) % n];

		if (ch >= '0' && ch <= '9')
			rem = (rem * 10 + (ch - '0')) % 97;
		else if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')) {
			v = (ch | 0x20) - 'a' + 10;
			rem = (rem * 100 + v) % 97;
		} else
			return 0;
	}
	return rem == 1;
}

/* The shape of S: digits as 'd', other bytes as themselves. */
static int
shape_is(const char *s, size_t len, const char *shape)
{
	size_t	 i;

	if (strlen(shape) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') :
		    s[i] != shape[i])
			return 0;
	return 1;
}

int
check_phone(const char *s, size_t len)
{
	size_t	 k, n = 0;

	for (k = 0; k < len; k++)
		if (s[k] >= '0' && s[k] <= '9')
			n++;
	if (n < 7 || n > 15)
		return 0;
	if (shape_is(s, len, "ddd-dd-dddd"))
		return 0;
	/* a date (YYYY-MM-DD, maybe followed by an hour) */
	if (len >= 10 && (s[4] == '-' || s[4] == '.' || s[4] == '/') &&
	    s[7] == s[4] && shape_is(s, 4, "dddd") &&
	    shape_is(s + 5, 2, "dd") && shape_is(s + 8, 2, "dd"))
		return 0;
	/* a dotted quad (an IPv4 address) */
	for (k = 0, n = 0; k < len; k++)
		if (s[k] == '.')
			n++;
		else if (s[k] < '0' || s[k] > '9')
			break;
	if (k == len && n == 3)
		return 0;
	return 1;
}

/* Characters in the first OFF bytes of S (for error columns). */
static int
chars(const char *s, size_t off)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < off && s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static pcre2_code *
compile_re(const char *pat, uint32_t flags, const char *file, int line,
    int col, const char *what, struct rules_diag *diag)
{
	pcre2_code	*re;
	int		 err;
	PCRE2_SIZE	 off;
	PCRE2_UCHAR	 msg[256];

	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, flags, &err,
	    &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		rules_diag_add(diag, file, line, col + chars(pat, off),
		    "%s: %s", what, (char *)msg);
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);	/* else interpreted */
	return re;
}

/* Check the $N references of a rewrite template against NCAP groups. */
static int
check_template(const struct rule_def *d, uint32_t ncap,
    struct rules_diag *diag)
{
	const char	*t = d->tmpl, *p;
	unsigned long	 g;
	char		*end;

	for (p = t; *p; p++) {
		if (*p != '$')
			continue;
		if (p[1] == '$') {
			p++;
			continue;
		}
		if (p[1] >= '0' && p[1] <= '9') {
			g = (unsigned long)(p[1] - '0');
			end = (char *)p + 2;
		} else if (p[1] == '{') {
			g = strtoul(p + 2, &end, 10);
			if (end == p + 2 || *end != '}') {
				rules_diag_add(diag, d->file, d->tmpl_line,
				    d->tmpl_col + chars(t, (size_t)(p - t)),
				    "bad ${N} in template");
				return -1;
			}
			end++;
		} else {
			rules_diag_add(diag, d->file, d->tmpl_line,
			    d->tmpl_col + chars(t, (size_t)(p - t)),
			    "'$' in a template must be $N, ${N} or $$");
			return -1;
		}
		if (g > ncap) {
			rules_diag_add(diag, d->file, d->tmpl_line,
			    d->tmpl_col + chars(t, (size_t)(p - t)),
			    "template refers to group %lu; the pattern has %u",
			    g, ncap);
			return -1;
		}
		p = end - 1;
	}
	return 0;
}

/*
 * 1 when pattern P can only ever match ASCII characters one byte each, so
 * that Hyperscan may scan bytes instead of UTF-8 (much faster, and far
 * smaller automata for caseless classes): every byte of P is ASCII and it
 * has no construct that matches one character of any width ('.', a
 * negated class, \W \S \D \H \V \N \X \C \R \p \P \h \v \x).
 * Caseless byte matching misses the two non-ASCII case variants of ASCII
 * letters, KELVIN SIGN (k) and LONG S (s): when the raw text holds one,
 * rules_match() also scans a copy with them folded (other forms fold them
 * already).
 */
static int
ascii_only(const char *p)
{
	int	 cls = 0;

	for (; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			return 0;
		if (*p == '\\') {
			if (p[1] == '\0')
				return 0;
			if (strchr("WSDHVNXCRpPhvx", p[1]) != NULL)
				return 0;
			p++;
			continue;
		}
		if (cls) {
			if (*p == '[' && p[1] == ':' && p[2] == '^')
				return 0;
			if (*p == ']')
				cls = 0;
			continue;
		}
		if (*p == '.')
			return 0;
		if (*p == '[') {
			if (p[1] == '^')
				return 0;
			cls = 1;
			if (p[1] == ']')
				p++;
		}
	}
	return 1;
}

static unsigned int
hs_flags(const struct rule_def *d)
{
	unsigned int	 f = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH;

	if (!ascii_only(d->pattern) || strchr(d->flagstr, 'u'))
		f |= HS_FLAG_UTF8;
	if (strchr(d->flagstr, 'i'))
		f |= HS_FLAG_CASELESS;
	if (strchr(d->flagstr, 's'))
		f |= HS_FLAG_DOTALL;
	if (strchr(d->flagstr, 'm'))
		f |= HS_FLAG_MULTILINE;
	if (strchr(d->flagstr, 'u'))
		f |= HS_FLAG_UCP;
	return f;
}

/* Raw text holding KELVIN SIGN or LONG S (see ascii_only()). */
static int
has_case_variant(const char *text, size_t len)
{
	const char	*p, *e = text + len;

	/* memchr is fast; most texts have neither lead byte */
	for (p = text; (p = memchr(p, 0xe2, (size_t)(e - p))) != NULL; p++)
		if (e - p >= 3 && p[1] == '\x84' && p[2] == '\xaa')
			return 1;
	for (p = text; (p = memchr(p, 0xc5, (size_t)(e - p))) != NULL; p++)
		if (e - p >= 2 && p[1] == '\xbf')
			return 1;
	return 0;
}

/* The end of the group opening at P (after its ')'), or NULL. */
static const char *
skip_group(const char *p)
{
	int	 depth = 0, cls = 0;

	for (; *p; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (cls) {
			if (*p == ']')
				cls = 0;
			continue;
		}
		if (*p == '[') {
			cls = 1;
			if (p[1] == '^')
				p++;
			if (p[1] == ']')
				p++;
		} else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return NULL;
}

/*
 * A looser copy of PCRE2 pattern P for the Hyperscan prefilter, matching a
 * superset of what P matches, so the prefilter stays sound (PCRE2 still
 * confirms with the real pattern):
 *  - a counted repeat {m,n} or {m} with a bound of RELAX_MAX or more
 *    becomes {min(m, RELAX_MAX),}, sparing Hyperscan the large automata of
 *    very wide bounded repeats (smaller bounds stay: an unbounded gap such
 *    as [^.]* keeps automaton states alive and scans slower, and the
 *    compile time it saves is paid once and then cached);
 *  - \b, \B and lookarounds are dropped (a lookaround followed by a
 *    quantifier becomes an empty group): each word boundary costs
 *    Hyperscan more at compile time than the rest of a word pattern;
 *  - \K, which Hyperscan rejects, is dropped: it only moves the start of
 *    the match PCRE2 reports;
 *  - but a negative look-behind of one class opening the pattern, as in
 *    the lexicon packs' (?<![a-z0-9])word, becomes (?:^|[^a-z0-9]): the
 *    character before the word is then part of the prefilter's match
 *    (still a superset: where the look-behind holds, the text starts
 *    there or the character before is outside the class).  Hyperscan
 *    scans the lexicon rules about a fifth faster with it, and it lets
 *    fewer words inside longer words through to PCRE2.
 */
#define RELAX_MAX	100

/*
 * When P opens with a negative look-behind of one plain class,
 * "(?<![BODY])" (BODY not negated, without nested classes), followed by
 * a letter, maybe inside groups "(?:": the end of that look-behind; else
 * NULL.
 */
static const char *
lead_lookbehind(const char *p)
{
	const char	*q, *r;

	if (strncmp(p, "(?<![", 5) != 0 || p[5] == '^' || p[5] == ']')
		return NULL;
	for (q = p + 5; *q != ']'; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		else if (*q == '[' || *q == '\0')
			return NULL;
	}
	if (q[1] != ')')
		return NULL;
	q += 2;
	/* a word follows (digits and classes scan slower with it) */
	for (r = q; strncmp(r, "(?:", 3) == 0; r += 3)
		;
	return (*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') ? q : NULL;
}

static char *
hs_relax(const char *p)
{
	char		*out, *o;
	const char	*q;
	unsigned long	 m, n;
	char		*end;
	int		 cls = 0;

	if ((out = malloc(strlen(p) * 2 + 16)) == NULL)
		return NULL;
	o = out;
	if ((q = lead_lookbehind(p)) != NULL) {
		/* "(?<![" BODY "])" -> "(?:^|[^" BODY "])" */
		o += sprintf(o, "(?:^|[^%.*s])", (int)(q - 2 - (p + 5)), p + 5);
		p = q;
	}
	for (; *p; ) {
		if (!cls && *p == '\\' && (p[1] == 'b' || p[1] == 'B') &&
		    (p[2] == '\0' || strchr("*+?{", p[2]) == NULL)) {
			p += 2;		/* \b, \B: zero-width conditions */
			continue;
		}
		if (!cls && *p == '\\' && p[1] == 'K') {
			p += 2;		/* \K only moves the reported start */
			continue;
		}
		if (*p == '\\' && p[1] != '\0') {
			*o++ = *p++;
			*o++ = *p++;
			continue;
		}
		if (cls) {
			if (*p == ']')
				cls = 0;
			*o++ = *p++;
			continue;
		}
		if (*p == '[') {
			cls = 1;
			*o++ = *p++;
			if (*p == '^')
				*o++ = *p++;
			if (*p == ']')
				*o++ = *p++;
			continue;
		}
		/* lookarounds: zero-width conditions, an empty group instead */
		if (*p == '(' && p[1] == '?' && (p[2] == '=' || p[2] == '!' ||
		    (p[2] == '<' && (p[3] == '=' || p[3] == '!')))) {
			if ((q = skip_group(p)) != NULL) {
				/* an empty group only where a quantifier follows */
				if (*q != '\0' && strchr("*+?{", *q) != NULL)
					o += sprintf(o, "(?:)");
				p = q;
				continue;
			}
		}
		if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
			m = strtoul(p + 1, &end, 10);
			q = end;
			n = m;
			if (*q == ',') {
				q++;
				if (*q == '}')
					n = ULONG_MAX;
				else {
					n = strtoul(q, &end, 10);
					if (end == q)
						n = 0;	/* not a repeat */
					q = end;
				}
			}
			if (*q == '}' && n >= RELAX_MAX && n >= m) {
				o += sprintf(o, "{%lu,}", m < RELAX_MAX ?
				    m : RELAX_MAX);
				p = q + 1;
				continue;
			}
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/* Hash of what the database of FORM is compiled from, as hex. */
static void
cache_key(const struct ruleset *rs, enum norm_form form, char hex[65])
{
	crypto_hash_sha256_state st;
	unsigned char	 h[32];
	unsigned int	 f;
	uint32_t	 i32;
	size_t		 i;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)CACHE_MAGIC, 8);
	crypto_hash_sha256_update(&st, (const unsigned char *)hs_version(),
	    strlen(hs_version()) + 1);
	i32 = (uint32_t)form;
	crypto_hash_sha256_update(&st, (unsigned char *)&i32, sizeof(i32));
	for (i = 0; i < rs->n; i++) {
		if (rs->v[i].def->form != form)
			continue;
		i32 = (uint32_t)i;
		f = hs_flags(rs->v[i].def);
		crypto_hash_sha256_update(&st, (unsigned char *)&i32, sizeof(i32));
		crypto_hash_sha256_update(&st, (unsigned char *)&f, sizeof(f));
		crypto_hash_sha256_update(&st,
		    (const unsigned char *)rs->v[i].def->pattern,
		    strlen(rs->v[i].def->pattern) + 1);
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

/*
 * Cache file: CACHE_MAGIC, u32 count of rules left out of the database,
 * their u32 indexes, then the serialized database.
 */
static int
cache_read(struct ruleset *rs, enum norm_form form, const char *path)
{
	struct stat	 sb;
	char		*buf = NULL;
	uint32_t	 nout, idx, k;
	size_t		 off, got = 0;
	ssize_t		 r;
	int		 fd, rv = -1;
	hs_database_t	*db = NULL;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || sb.st_size < 12 ||
	    sb.st_size > 1024L * 1024 * 1024 ||
	    (buf = malloc((size_t)sb.st_size)) == NULL)
		goto done;
	while (got < (size_t)sb.st_size) {
		if ((r = read(fd, buf + got, (size_t)sb.st_size - got)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			goto done;
		}
		got += (size_t)r;
	}
	if (memcmp(buf, CACHE_MAGIC, 8) != 0)
		goto done;
	memcpy(&nout, buf + 8, 4);
	if (nout > rs->n || 12 + (size_t)nout * 4 > got)
		goto done;
	off = 12 + (size_t)nout * 4;
	if (hs_deserialize_database(buf + off, got - off, &db) != HS_SUCCESS)
		goto done;
	for (k = 0; k < nout; k++) {
		memcpy(&idx, buf + 12 + k * 4, 4);
		if (idx >= rs->n || rs->v[idx].def->form != form)
			goto done;
	}
	/* every rule of the form is in the database unless listed */
	for (k = 0; k < rs->n; k++)
		if (rs->v[k].def->form == form)
			rs->v[k].in_hs = 1;
	for (k = 0; k < nout; k++) {
		memcpy(&idx, buf + 12 + k * 4, 4);
		rs->v[idx].in_hs = 0;
	}
	rs->db[form] = db;
	db = NULL;
	rv = 0;
done:
	if (db != NULL)
		hs_free_database(db);
	free(buf);
	close(fd);
	return rv;
}

static void
cache_write(const struct ruleset *rs, enum norm_form form, const char *path)
{
	char		*bytes = NULL, *tmp = NULL;
	size_t		 blen, i;
	uint32_t	 nout = 0, idx;
	FILE		*fp = NULL;
	int		 fd;

	if (hs_serialize_database(rs->db[form], &bytes, &blen) != HS_SUCCESS)
		return;
	for (i = 0; i < rs->n; i++)
		if (rs->v[i].def->form == form && !rs->v[i].in_hs)
			nout++;
	/* the directory may not exist yet: make it (only one level) */
	{
		char	*dir = strdup(path), *slash;

		if (dir != NULL && (slash = strrchr(dir, '/')) != NULL &&
		    slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0700) == -1 && errno != EEXIST)
				log_warn("rules cache %s", dir);
		}
		free(dir);
	}
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) == -1) {
		tmp = NULL;
		goto done;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		log_warn("rules cache %s", tmp);
		goto done;
	}
	fwrite(CACHE_MAGIC, 1, 8, fp);
	fwrite(&nout, 4, 1, fp);
	for (i = 0; i < rs->n; i++)
		if (rs->v[i].def->form == form && !rs->v[i].in_hs) {
			idx = (uint32_t)i;
			fwrite(&idx, 4, 1, fp);
		}
	fwrite(bytes, 1, blen, fp);
	if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) == -1) {
		log_warn("rules cache %s", tmp);
		unlink(tmp);
	} else if (rename(tmp, path) == -1) {
		log_warn("rules cache rename %s", path);
		unlink(tmp);
	}
done:
	if (fp != NULL)
		fclose(fp);
	free(tmp);
	free(bytes);
}

/* Build the Hyperscan database of FORM; rules it rejects fall back. */
static int
build_db(struct ruleset *rs, enum norm_form form, const char *cache_dir)
{
	const char	**exprs = NULL;
	unsigned int	*flags = NULL, *ids = NULL;
	size_t		 i, m = 0;
	hs_compile_error_t *cerr = NULL;
	hs_database_t	*db = NULL;
	char		 hex[65], *path = NULL;
	int		 rv = -1;

	if (cache_dir != NULL && cache_dir[0] != '\0') {
		cache_key(rs, form, hex);
		if (asprintf(&path, "%s/%s.%s.hsdb", cache_dir, hex,
		    norm_form_name(form)) == -1)
			path = NULL;
		if (path != NULL && cache_read(rs, form, path) == 0) {
			rs->cached++;
			free(path);
			return 0;
		}
	}
	exprs = calloc(rs->n + 1, sizeof(*exprs));
	flags = calloc(rs->n, sizeof(*flags));
	ids = calloc(rs->n, sizeof(*ids));
	if (exprs == NULL || flags == NULL || ids == NULL)
		goto done;
	for (i = 0; i < rs->n; i++) {
		if (rs->v[i].def->form != form)
			continue;
		/* x (extended) has no Hyperscan equivalent */
		if (strchr(rs->v[i].def->flagstr, 'x') != NULL)
			continue;
		if ((exprs[m] = hs_relax(rs->v[i].def->pattern)) == NULL)
			goto done;
		flags[m] = hs_flags(rs->v[i].def);
		ids[m] = (unsigned int)i;
		m++;
	}
	while (m > 0) {
		if (hs_compile_multi(exprs, flags, ids, (unsigned int)m,
		    HS_MODE_BLOCK, NULL, &db, &cerr) == HS_SUCCESS)
			break;
		if (cerr->expression < 0 || (size_t)cerr->expression >= m) {
			log_warnx("rules: Hyperscan cannot compile the %s "
			    "rules (%s); PCRE2 alone matches them",
			    norm_form_name(form), cerr->message);
			hs_free_compile_error(cerr);
			for (i = 0; i < m; i++)
				free((char *)exprs[i]);
			m = 0;
			break;
		}
		log_debug("rules: %s: Hyperscan rejects it (%s), PCRE2 alone "
		    "matches it", rs->v[ids[cerr->expression]].def->id,
		    cerr->message);
		/* drop the rejected expression and retry */
		i = (size_t)cerr->expression;
		free((char *)exprs[i]);
		memmove(&exprs[i], &exprs[i + 1], (m - i - 1) * sizeof(*exprs));
		memmove(&flags[i], &flags[i + 1], (m - i - 1) * sizeof(*flags));
		memmove(&ids[i], &ids[i + 1], (m - i - 1) * sizeof(*ids));
		m--;
		hs_free_compile_error(cerr);
		cerr = NULL;
	}
	for (i = 0; i < m; i++)
		rs->v[ids[i]].in_hs = 1;
	rs->db[form] = db;
	if (db != NULL && path != NULL)
		cache_write(rs, form, path);
	rv = 0;
done:
	free(path);
	for (i = 0; exprs != NULL && i < m; i++)
		free((char *)exprs[i]);
	free(exprs);
	free(flags);
	free(ids);
	return rv;
}

static void
mstate_free(struct mstate *st)
{
	if (st == NULL)
		return;
	if (st->scratch != NULL)
		hs_free_scratch(st->scratch);
	pcre2_match_data_free(st->md);
	pcre2_match_data_free(st->md2);
	pcre2_match_context_free(st->mctx);
	pcre2_jit_stack_free(st->jit);
	free(st->cand);
	free(st);
}

static struct mstate *
mstate_get(struct ruleset *rs)
{
	struct mstate	*st;

	pthread_mutex_lock(&rs->lock);
	if ((st = rs->pool) != NULL)
		rs->pool = st->next;
	pthread_mutex_unlock(&rs->lock);
	if (st != NULL)
		return st;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if (rs->proto != NULL &&
	    hs_clone_scratch(rs->proto, &st->scratch) != HS_SUCCESS)
		goto fail;
	if ((st->md = pcre2_match_data_create(rs->ovec, NULL)) == NULL ||
	    (st->md2 = pcre2_match_data_create(rs->ovec, NULL)) == NULL ||
	    (st->mctx = pcre2_match_context_create(NULL)) == NULL ||
	    (st->cand = calloc(2 * rs->n + 1, sizeof(*st->cand))) == NULL)
		goto fail;
	pcre2_set_match_limit(st->mctx, rs->match_limit);
	pcre2_set_depth_limit(st->mctx, rs->depth_limit);
	pcre2_set_heap_limit(st->mctx, HEAP_LIMIT_KIB);
	if ((st->jit = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX,
	    NULL)) != NULL)
		pcre2_jit_stack_assign(st->mctx, NULL, st->jit);
	return st;
fail:
	mstate_free(st);
	return NULL;
}

static void
mstate_put(struct ruleset *rs, struct mstate *st)
{
	pthread_mutex_lock(&rs->lock);
	st->next = rs->pool;
	rs->pool = st;
	pthread_mutex_unlock(&rs->lock);
}

static int
on_hit(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *arg)
{
	struct mstate	*st = arg;

	st->cand[st->ncand++] = id;
	return 0;
}

static int
cmp_uint(const void *a, const void *b)
{
	unsigned int	 x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* Map [A, B) of form text NT (NULL: raw) to the original text. */
static void
map_span(const struct normtext *nt, size_t a, size_t b, size_t *oa,
    size_t *ob)
{
	if (nt == NULL) {
		*oa = a;
		*ob = b;
	} else if (a >= b) {
		*oa = *ob = a < nt->len ? nt->start[a] :
		    (nt->len ? nt->end[nt->len - 1] : 0);
	} else {
		*oa = nt->start[a];
		*ob = nt->end[b - 1];
	}
}

/* Expand rule template T with groups OV (form offsets) into a new string. */
static char *
expand(const char *t, const PCRE2_SIZE *ov, uint32_t npairs,
    const struct normtext *nt, const char *orig)
{
	char		*out, *nout;
	size_t		 o = 0, cap = strlen(t) + 64, glen, oa, ob;
	unsigned long	 g;
	const char	*p, *src;
	char		*end;

	if ((out = malloc(cap)) == NULL)
		return NULL;
	for (p = t; *p; p++) {
		src = p;
		glen = 1;
		if (*p == '$' && p[1] == '$')
			p++;
		else if (*p == '$' && (p[1] == '{' ||
		    (p[1] >= '0' && p[1] <= '9'))) {
			if (p[1] == '{') {
				g = strtoul(p + 2, &end, 10);
				p = end;	/* at '}' (checked at load) */
			} else {
				g = (unsigned long)(p[1] - '0');
				p++;
			}
			glen = 0;
			if (g < npairs && ov[2 * g] != PCRE2_UNSET &&
			    ov[2 * g + 1] > ov[2 * g]) {
				map_span(nt, ov[2 * g], ov[2 * g + 1], &oa, &ob);
				src = orig + oa;
				glen = ob - oa;
			}
		}
		if (o + glen + 1 > cap) {
			cap = (o + glen + 1) * 2;
			if ((nout = realloc(out, cap)) == NULL) {
				free(out);
				return NULL;
			}
			out = nout;
		}
		memcpy(out + o, src, glen);
		o += glen;
	}
	out[o] = '\0';
	return out;
}

static int
limit_error(int rc)
{
	return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

/*
 * Run rule R over form text S (NT maps it; NULL for raw) and push its hits.
 * Returns 0, or -1 when a limit was hit or memory ran out.
 */
static int
confirm(const struct ruleset *rs, struct rule *r, const char *s,
    size_t len, const struct normtext *nt, const char *orig,
    struct mstate *st, struct match_list *out)
{
	PCRE2_SIZE	*ov;
	PCRE2_SIZE	 off = 0, a, b;
	struct match	 m;
	int		 rc, rc2, rv = 0;

	ov = pcre2_get_ovector_pointer(st->md);
	while (off <= len) {
		rc = pcre2_match(r->re, (PCRE2_SPTR)s, len, off,
		    PCRE2_NO_UTF_CHECK, st->md, st->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			/* logged once per rule set, not per request */
			if (limit_error(rc) && atomic_exchange(&r->warned, 1) == 0)
				log_warnx("rules: %s: PCRE2 %s limit hit; the "
				    "stage is degraded (logged once)", r->def->id,
				    rc == PCRE2_ERROR_JIT_STACKLIMIT ? "JIT stack" :
				    rc == PCRE2_ERROR_HEAPLIMIT ? "heap" :
				    rc == PCRE2_ERROR_DEPTHLIMIT ? "depth" : "match");
			return -1;
		}
		a = ov[0];
		b = ov[1];
		if (b <= a) {		/* skip empty matches */
			off = a + 1;
			while (off < len && ((unsigned char)s[off] & 0xc0) == 0x80)
				off++;
			continue;
		}
		off = b;
		if (r->unless != NULL) {
			rc2 = pcre2_match(r->unless, (PCRE2_SPTR)s + a, b - a,
			    0, PCRE2_NO_UTF_CHECK, st->md2, st->mctx);
			if (rc2 >= 0)
				continue;
			if (rc2 != PCRE2_ERROR_NOMATCH) {
				rv = -1;	/* a limit: drop the hit */
				continue;
			}
		}
		if (r->def->check == CHECK_LUHN && !check_luhn(s + a, b - a))
			continue;
		if (r->def->check == CHECK_IBAN && !check_iban(s + a, b - a))
			continue;
		if (r->def->check == CHECK_PHONE && !check_phone(s + a, b - a))
			continue;
		memset(&m, 0, sizeof(m));
		m.rule = r->def->id;
		m.category = r->def->category;
		m.action = r->def->action;
		m.monitor = r->def->monitor;
		m.score = r->def->score;
		map_span(nt, a, b, &m.start, &m.end);
		if (r->def->action == ACTION_REWRITE && (m.replacement =
		    expand(r->def->tmpl ? r->def->tmpl : "", ov, (uint32_t)rc,
		    nt, orig)) == NULL)
			return -1;
		if (match_list_push(out, &m) == -1) {
			free(m.replacement);
			return -1;
		}
	}
	return rv;
}

static int
on_hit_bytecase(unsigned int id, unsigned long long from,
    unsigned long long to, unsigned int flags, void *arg)
{
	struct mstate	*st = arg;

	if (st->rs->v[id].bytecase)
		st->cand[st->ncand++] = id;
	return 0;
}

/*
 * Raw text with KELVIN SIGN or LONG S: scan a copy with them folded to k
 * and s, and add the byte-mode caseless rules it hits (ascii_only()).
 */
static int
scan_folded(const struct ruleset *rs, const char *text, size_t len,
    struct mstate *st)
{
	char		*c;
	size_t		 i, o = 0;
	int		 rv = 0;

	if ((c = malloc(len)) == NULL)
		return -1;
	for (i = 0; i < len; ) {
		if (i + 2 < len && memcmp(text + i, "\xe2\x84\xaa", 3) == 0) {
			c[o++] = 'k';
			i += 3;
		} else if (i + 1 < len && memcmp(text + i, "\xc5\xbf", 2) == 0) {
			c[o++] = 's';
			i += 2;
		} else
			c[o++] = text[i++];
	}
	st->rs = rs;
	if (hs_scan(rs->db[FORM_RAW], c, (unsigned int)o, 0, st->scratch,
	    on_hit_bytecase, st) != HS_SUCCESS)
		rv = -1;
	free(c);
	return rv;
}

int
rules_match(const struct ruleset *crs, const char *text, size_t len,
    struct match_list *out)
{
	struct ruleset	*rs = (struct ruleset *)crs;	/* only the pool */
	struct mstate	*st;
	struct normtext	 nt[FORM_COUNT], *cur;
	const char	*s;
	size_t		 i, slen;
	int		 f, rv = 0, same = 0, cform = FORM_RAW;
	unsigned	 nflags = 0;

	if (rs == NULL || rs->n == 0)
		return 0;
	if (!utf8_valid(text, len)) {
		errno = EILSEQ;
		return -1;
	}
	if ((st = mstate_get(rs)) == NULL)
		return -1;
	memset(nt, 0, sizeof(nt));
	for (f = 0; f < FORM_COUNT; f++) {
		if (!rs->used[f])
			continue;
		cur = &nt[f];
		if (f == FORM_RAW) {
			s = text;
			slen = len;
			cur = NULL;
		} else {
			/*
			 * ASCII text with nothing for leetspeak to fold: the
			 * skeleton is the normalized form (computed already
			 * when normalized rules exist).
			 */
			if (f == FORM_SKELETON) {
				if (nt[FORM_NORMALIZED].s == NULL)
					same = normalize_skeleton_same(text, len);
				else if ((nflags & (NORM_ASCII | NORM_LEET)) ==
				    NORM_ASCII)
					same = 1;
				else
					same = (nflags & NORM_ASCII) &&
					    normalize_skeleton_same(text, len);
			}
			/*
			 * A form without its offset maps unless a rule always
			 * runs on it (a fallback): they are computed below
			 * only when a rule is to be confirmed.  That costs a
			 * second normalisation then, but the prefilter lets
			 * a rule through on few messages (the lexicon packs'
			 * look-arounds are dropped from it, so a word inside
			 * a longer one does), and the maps cost about an
			 * eighth of the stage on every message.
			 */
			cform = f == FORM_SKELETON && same ? FORM_NORMALIZED : f;
			if (f == FORM_SKELETON && same && nt[FORM_NORMALIZED].s)
				cur = &nt[FORM_NORMALIZED];
			else if (normalize_maps(text, len, cform, cur,
			    f == FORM_NORMALIZED ? &nflags : NULL,
			    rs->nfallback[f] > 0) == -1) {
				rv = -1;
				continue;
			}
			s = cur->s;
			slen = cur->len;
		}
		st->ncand = 0;
		if (rs->db[f] != NULL && hs_scan(rs->db[f], s,
		    (unsigned int)slen, 0, st->scratch, on_hit, st) !=
		    HS_SUCCESS) {
			/* cannot prefilter: every rule of the form is a candidate */
			st->ncand = 0;
			for (i = 0; i < rs->n; i++)
				if ((int)rs->v[i].def->form == f && rs->v[i].in_hs)
					st->cand[st->ncand++] = (unsigned int)i;
		}
		for (i = 0; i < rs->nfallback[f]; i++)
			st->cand[st->ncand++] = rs->fallback[f][i];
		if (f == FORM_RAW && rs->nbytecase > 0 && rs->db[f] != NULL &&
		    has_case_variant(text, len) &&
		    scan_folded(rs, text, len, st) == -1) {
			rv = -1;
			continue;
		}
		if (st->ncand > 0 && cur != NULL && cur->start == NULL) {
			/* the same form again, now with its maps */
			normtext_clear(cur);
			if (normalize_maps(text, len, cform, cur, NULL, 1) == -1) {
				rv = -1;
				continue;
			}
			s = cur->s;
			slen = cur->len;
		}
		if (st->ncand > 1) {
			size_t	 k, m = 1;

			qsort(st->cand, st->ncand, sizeof(*st->cand), cmp_uint);
			for (k = 1; k < st->ncand; k++)	/* each rule once */
				if (st->cand[k] != st->cand[m - 1])
					st->cand[m++] = st->cand[k];
			st->ncand = m;
		}
		for (i = 0; i < st->ncand; i++)
			if (confirm(rs, &rs->v[st->cand[i]], s, slen, cur, text,
			    st, out) == -1)
				rv = -1;
	}
	for (f = 0; f < FORM_COUNT; f++)
		normtext_clear(&nt[f]);
	mstate_put(rs, st);
	return rv;
}

/* Run every test line of every rule; failures go to DIAG. */
static int
run_tests(struct ruleset *rs, struct rules_diag *diag)
{
	struct match_list ml;
	const struct rule_def *d;
	const struct rule_test *t;
	size_t		 i, k, j;
	int		 hit, rc, bad = 0;

	for (i = 0; i < rs->n; i++) {
		d = rs->v[i].def;
		for (k = 0; k < d->ntests; k++) {
			t = &d->tests[k];
			memset(&ml, 0, sizeof(ml));
			rc = rules_match(rs, t->text, t->len, &ml);
			for (hit = -1, j = 0; j < ml.n; j++)
				if (ml.v[j].rule == d->id) {
					hit = (int)j;
					break;
				}
			if (rc == -1) {
				rules_diag_add(diag, d->file, t->line, t->col,
				    "test of rule %s: a PCRE2 limit was hit",
				    d->id);
				bad++;
			} else if (t->expect && hit < 0) {
				rules_diag_add(diag, d->file, t->line, t->col,
				    "test match failed: rule %s does not match "
				    "this text", d->id);
				bad++;
			} else if (!t->expect && hit >= 0) {
				rules_diag_add(diag, d->file, t->line, t->col,
				    "test nomatch failed: rule %s matches "
				    "\"%.*s\"", d->id,
				    (int)(ml.v[hit].end - ml.v[hit].start),
				    t->text + ml.v[hit].start);
				bad++;
			}
			match_list_clear(&ml);
		}
	}
	return bad ? -1 : 0;
}

static int
cmp_id(const void *a, const void *b)
{
	const struct rule_def *x = *(const struct rule_def *const *)a;
	const struct rule_def *y = *(const struct rule_def *const *)b;
	int	 c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

/*
 * Duplicate ids among the rules in force: the later definition is the
 * error (a rule switched off by `disable` may be defined again).
 */
static int
check_dups(const struct rule_defs *defs, struct rules_diag *diag)
{
	const struct rule_def **v;
	size_t		 i, n;
	int		 bad = 0;

	if (defs->n < 2)
		return 0;
	if ((v = calloc(defs->n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0, n = 0; i < defs->n; i++)
		if (!defs->v[i].disabled)
			v[n++] = &defs->v[i];
	qsort(v, n, sizeof(*v), cmp_id);
	for (i = 1; i < n; i++)
		if (strcmp(v[i]->id, v[i - 1]->id) == 0) {
			const struct rule_def *first = v[i - 1];
			size_t	 k = i;

			/* report each later one against the first */
			while (k > 0 && strcmp(v[k - 1]->id, v[i]->id) == 0)
				k--;
			first = v[k];
			rules_diag_add(diag, v[i]->file, v[i]->line, v[i]->col,
			    "duplicate rule id %s (first defined at %s:%d)",
			    v[i]->id, first->file, first->line);
			bad++;
		}
	free(v);
	return bad ? -1 : 0;
}

void
rules_free(struct ruleset *rs)
{
	struct mstate	*st;
	size_t		 i;
	int		 f;

	if (rs == NULL)
		return;
	while ((st = rs->pool) != NULL) {
		rs->pool = st->next;
		mstate_free(st);
	}
	for (i = 0; i < rs->n; i++) {
		pcre2_code_free(rs->v[i].re);
		pcre2_code_free(rs->v[i].unless);
	}
	free(rs->v);
	for (f = 0; f < FORM_COUNT; f++) {
		if (rs->db[f] != NULL)
			hs_free_database(rs->db[f]);
		free(rs->fallback[f]);
	}
	if (rs->proto != NULL)
		hs_free_scratch(rs->proto);
	free(rs->bytecase);
	pthread_mutex_destroy(&rs->lock);
	rule_defs_free(&rs->defs);
	free(rs);
}

struct ruleset *
rules_compile(struct rule_defs *defs, const struct rules_conf *conf,
    struct rules_diag *diag)
{
	struct ruleset	*rs;
	struct rule	*r;
	const struct rule_def *d;
	size_t		 i, n0 = diag->n;
	uint32_t	 nc;
	int		 f;

	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		rule_defs_free(defs);
		return NULL;
	}
	pthread_mutex_init(&rs->lock, NULL);
	rs->defs = *defs;
	memset(defs, 0, sizeof(*defs));
	rs->match_limit = conf != NULL && conf->match_limit > 0 ?
	    (uint32_t)conf->match_limit : DEFAULT_MATCH_LIMIT;
	rs->depth_limit = conf != NULL && conf->depth_limit > 0 ?
	    (uint32_t)conf->depth_limit : DEFAULT_DEPTH_LIMIT;
	rs->ovec = 1;
	(void)check_dups(&rs->defs, diag);
	if (rs->defs.n > 0 && (rs->v = calloc(rs->defs.n,
	    sizeof(*rs->v))) == NULL)
		goto fail;
	for (i = 0; i < rs->defs.n; i++) {
		d = &rs->defs.v[i];
		if (d->disabled) {
			rs->ndisabled++;
			continue;
		}
		r = &rs->v[rs->n];
		r->def = d;
		r->re = compile_re(d->pattern, d->flags, d->file, d->pat_line,
		    d->pat_col, "bad pattern", diag);
		if (d->unless != NULL)
			r->unless = compile_re(d->unless, d->unless_flags,
			    d->file, d->unl_line, d->unl_col,
			    "bad unless pattern", diag);
		if (r->re == NULL || (d->unless != NULL && r->unless == NULL)) {
			pcre2_code_free(r->re);
			pcre2_code_free(r->unless);
			r->re = r->unless = NULL;
			continue;
		}
		pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &nc);
		r->ncap = nc;
		if (nc + 1 > rs->ovec)
			rs->ovec = nc + 1;
		if (r->unless != NULL) {
			pcre2_pattern_info(r->unless, PCRE2_INFO_CAPTURECOUNT,
			    &nc);
			if (nc + 1 > rs->ovec)
				rs->ovec = nc + 1;
		}
		if (d->tmpl != NULL && check_template(d, r->ncap, diag) == -1) {
			pcre2_code_free(r->re);
			pcre2_code_free(r->unless);
			r->re = r->unless = NULL;
			continue;
		}
		rs->used[d->form] = 1;
		rs->n++;
	}
	/* go on with the rules that compiled: their tests are checked too */
	for (f = 0; f < FORM_COUNT; f++) {
		if (!rs->used[f])
			continue;
		if (build_db(rs, f, conf != NULL ? conf->cache_dir : NULL) == -1)
			goto fail;
		if (rs->db[f] != NULL && hs_alloc_scratch(rs->db[f],
		    &rs->proto) != HS_SUCCESS)
			goto fail;
	}
	for (i = 0; i < rs->n; i++) {
		f = rs->v[i].def->form;
		if (rs->v[i].in_hs) {
			rs->nhs++;
			if (f == FORM_RAW && (hs_flags(rs->v[i].def) &
			    (HS_FLAG_UTF8 | HS_FLAG_CASELESS)) ==
			    HS_FLAG_CASELESS) {
				if (rs->bytecase == NULL && (rs->bytecase =
				    calloc(rs->n, sizeof(unsigned int))) == NULL)
					goto fail;
				rs->v[i].bytecase = 1;
				rs->bytecase[rs->nbytecase++] = (unsigned int)i;
			}
			continue;
		}
		if (rs->fallback[f] == NULL && (rs->fallback[f] =
		    calloc(rs->n, sizeof(unsigned int))) == NULL)
			goto fail;
		rs->fallback[f][rs->nfallback[f]++] = (unsigned int)i;
	}
	if (run_tests(rs, diag) == -1 || diag->n != n0)
		goto fail;
	return rs;
fail:
	if (diag->n == n0)
		rules_diag_add(diag, "rules", 0, 0, "out of memory");
	rules_free(rs);
	return NULL;
}

struct ruleset *
rules_load_diag(const struct rules_conf *conf, const char *base_dir,
    struct rules_diag *diag)
{
	struct rule_defs defs;
	struct ruleset	*rs;
	size_t		 n0 = diag->n;

	memset(&defs, 0, sizeof(defs));
	(void)rules_parse_paths(conf->paths, conf->n_paths, base_dir,
	    conf->allow_empty, &defs, diag);
	/* a rules stage that loads nothing would pass everything silently */
	if (!conf->allow_empty && conf->n_paths > 0 && defs.n == 0 &&
	    diag->n == n0)
		rules_diag_add(diag, conf->paths[0], 0, 0, "no rules in %s "
		    "(rules.allow_empty = true runs without)",
		    conf->n_paths == 1 ? "this path" : "any of rules.paths");
	/* compile what parsed too, so that one run reports every error */
	rs = rules_compile(&defs, conf, diag);
	if (rs != NULL && diag->n != n0) {
		rules_free(rs);
		rs = NULL;
	}
	return rs;
}

struct ruleset *
rules_load(const struct rules_conf *conf, const char *base_dir)
{
	struct rules_diag diag;
	struct ruleset	*rs;
	size_t		 i;

	memset(&diag, 0, sizeof(diag));
	rs = rules_load_diag(conf, base_dir, &diag);
	for (i = 0; i < diag.n; i++)
		log_warnx("%s", diag.v[i]);
	if (rs == NULL && diag.n == 0)
		log_warnx("rules: cannot load the rule set");
	rules_diag_free(&diag);
	return rs;
}

void
rules_info(const struct ruleset *rs, struct rules_info *info)
{
	size_t	 i, sz;
	int	 f;

	memset(info, 0, sizeof(*info));
	if (rs == NULL)
		return;
	info->rules = rs->n;
	info->hyperscan = rs->nhs;
	info->fallback = rs->n - rs->nhs;
	info->cached = rs->cached;
	info->disabled = rs->ndisabled;
	for (i = 0; i < rs->n; i++) {
		info->per_form[rs->v[i].def->form]++;
		info->tests += rs->v[i].def->ntests;
	}
	for (f = 0; f < FORM_COUNT; f++)
		if (rs->db[f] != NULL &&
		    hs_database_size(rs->db[f], &sz) == HS_SUCCESS)
			info->db_bytes += sz;
}

size_t
rules_count(const struct ruleset *rs)
{
	return rs != NULL ? rs->n : 0;
}

void
rules_digest(const struct ruleset *rs, void *ctx)
{
	crypto_hash_sha256_state *st = ctx;
	uint64_t	 len;
	size_t		 i;

	crypto_hash_sha256_update(st, (const unsigned char *)"rules", 6);
	if (rs == NULL)
		return;
	for (i = 0; i < rs->defs.nfiles; i++) {
		len = rs->defs.files[i].len;
		crypto_hash_sha256_update(st, (unsigned char *)&len,
		    sizeof(len));
		crypto_hash_sha256_update(st,
		    (const unsigned char *)rs->defs.files[i].text,
		    rs->defs.files[i].len);
	}
}
