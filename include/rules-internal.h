/*
 * rules-internal: the parsed form of rules files (rules-parse.c) and the
 * diagnostics list shared by the parser, the compiler (rules.c), the unit
 * tests, `modgate lint` and the fuzz target.  Not for other modules.
 */
#ifndef MODGATE_RULES_INTERNAL_H
#define MODGATE_RULES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "normalize.h"
#include "verdict.h"

struct ruleset;

#define RULES_INCLUDE_DEPTH	16	/* nested include limit */
#define RULES_MAX_FILE		(16 * 1024 * 1024)

/* Extra validation of a hit in C, where a regex cannot do it. */
enum rule_check { CHECK_NONE, CHECK_LUHN, CHECK_IBAN, CHECK_PHONE };

struct rule_test {
	int		 expect;	/* 1: test match, 0: test nomatch */
	char		*text;		/* unescaped, valid UTF-8 */
	size_t		 len;
	int		 line, col;
};

/* One `rule ID { ... }` stanza as written. */
struct rule_def {
	char		*id;
	const char	*file;		/* owned by rule_defs.files */
	int		 line, col;	/* of the id */
	char		*pattern;	/* match: PCRE2 source */
	uint32_t	 flags;		/* PCRE2 compile options */
	char		 flagstr[8];	/* as written, for Hyperscan */
	int		 pat_line, pat_col;	/* first byte of the pattern */
	char		*unless;	/* NULL when absent */
	uint32_t	 unless_flags;
	int		 unl_line, unl_col;
	enum norm_form	 form;
	char		*category;
	enum rule_action action;
	char		*tmpl;		/* rewrite template, NULL otherwise */
	int		 tmpl_line, tmpl_col;
	double		 score;
	int		 monitor;
	enum rule_check	 check;
	struct rule_test *tests;
	size_t		 ntests;
	int		 disabled;	/* by a later `disable` line */
};

struct rule_file {
	char		*path;
	char		*text;		/* contents, for the digest */
	size_t		 len;
};

struct rule_defs {
	struct rule_def	*v;
	size_t		 n, cap;
	struct rule_file *files;
	size_t		 nfiles, filescap;
};

/* Diagnostics, each "file:line:col: message". */
struct rules_diag {
	char		**v;
	size_t		 n, cap;
};

void	 rules_diag_add(struct rules_diag *, const char *file, int line,
	    int col, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	 rules_diag_free(struct rules_diag *);

/*
 * Parse the rules file PATH (and what it includes) into DEFS.  Errors go to
 * DIAG; parsing goes on after them.  Returns 0 when DIAG got nothing new.
 */
int	 rules_parse_file(const char *path, struct rule_defs *defs,
	    struct rules_diag *diag);
/* The same for a buffer named NAME; includes are relative to DIR. */
int	 rules_parse_buf(const char *name, const char *buf, size_t len,
	    const char *dir, struct rule_defs *defs, struct rules_diag *diag);
/*
 * Parse every file, directory (its *.rules, sorted) or glob of PATHS.  A
 * path that yields no file (an empty glob or directory) is an error unless
 * ALLOW_EMPTY.
 */
int	 rules_parse_paths(char *const *paths, size_t n, const char *base_dir,
	    int allow_empty, struct rule_defs *defs, struct rules_diag *diag);
void	 rule_defs_free(struct rule_defs *);

/*
 * Compile DEFS (taken over: freed by the rule set or on error) under CONF's
 * limits and cache, run every test line, and return the rule set; NULL
 * with every error in DIAG.
 */
struct ruleset	*rules_compile(struct rule_defs *defs,
		    const struct rules_conf *conf, struct rules_diag *diag);
/* Like rules_load, but errors go to DIAG instead of the log. */
struct ruleset	*rules_load_diag(const struct rules_conf *conf,
		    const char *base_dir, struct rules_diag *diag);

/* What a compiled rule set holds, for lint, tests and benchmarks. */
struct rules_info {
	size_t		 rules;		/* compiled rules */
	size_t		 hyperscan;	/* of them prefiltered by Hyperscan */
	size_t		 fallback;	/* of them matched by PCRE2 alone */
	size_t		 cached;	/* databases read from cache_dir */
	size_t		 per_form[FORM_COUNT];
	size_t		 db_bytes;	/* Hyperscan database sizes */
	size_t		 tests;		/* test lines run */
	size_t		 disabled;	/* rules switched off by `disable` */
};
void	 rules_info(const struct ruleset *, struct rules_info *);

/* 1 when the digits of [S, S+LEN) pass the Luhn (mod 10) check. */
int	 check_luhn(const char *s, size_t len);
/* 1 when [S, S+LEN) (spaces ignored) is an IBAN with a valid mod-97. */
int	 check_iban(const char *s, size_t len);
/*
 * 1 when [S, S+LEN) can be a phone number: 7 to 15 digits (E.164), and
 * not shaped like an ISO date (YYYY-MM-DD...), an IPv4 address or a US SSN
 * (NNN-NN-NNNN).
 */
int	 check_phone(const char *s, size_t len);

#endif
