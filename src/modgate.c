/*
 * modgate: the command-line tool (man 1 modgate).  One subcommand per
 * src/cmd-NAME.c; this file only dispatches, and answers -h and --help
 * (for the tool and for every subcommand: usage on stdout, exit 0).
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cmd.h"
#include "log.h"

static const struct subcommand {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} subcommands[] = {
	{ "audit",	cmd_audit,	"audit verify|show|query|keygen ... (modgate audit -h)" },
	{ "check",	cmd_check,	"check [-j] [-i id] [-p policy] [-s socket] [text | -]" },
	{ "eval",	cmd_eval,	"eval [-j] [-m model] [-c config] [-p policy] file.jsonl" },
	{ "lint",	cmd_lint,	"lint [-q] [-c config | file-or-dir ...]" },
	{ "logits",	cmd_logits,	"logits [-t] [-m model] [-w window] [-s stride] [-b batch] < file.jsonl" },
	{ "reload",	cmd_reload,	"reload [-s socket]" },
	{ "replay",	cmd_replay,	"replay [-jq] [-p policy] -c current -n candidate file ..." },
	{ "scan",	cmd_scan,	"scan [-q] [-w] [-c config] [-p policy] [-R rules ...] file | -" },
	{ "stats",	cmd_stats,	"stats [-j | --prometheus] [-s socket]" },
};

#define NSUBCOMMANDS	(sizeof(subcommands) / sizeof(subcommands[0]))

/* Prints the usage to FP; returns STATUS. */
static int
usage(FILE *fp, int status)
{
	size_t	 i;

	fprintf(fp, "usage:");
	for (i = 0; i < NSUBCOMMANDS; i++)
		fprintf(fp, "%s modgate %s\n", i == 0 ? "" : "      ",
		    subcommands[i].usage);
	fprintf(fp, "       modgate -V | --version | -h | --help\n"
	    "       modgate SUBCOMMAND -h | --help\n");
	return status;
}

static int
is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* 1 when an option of ARGV (up to "--") asks for help. */
static int
wants_help(int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (is_help(argv[i]))
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	const struct subcommand *c;
	size_t	 i;

	log_init("modgate", 1, 0);
	if (argc < 2)
		return usage(stderr, EX_USAGE);
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0)
		return usage(stdout, 0);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("modgate %s\n", MODGATE_VERSION);
		return 0;
	}
	for (i = 0; i < NSUBCOMMANDS; i++) {
		c = &subcommands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (!wants_help(argc - 1, argv + 1))
			return c->fn(argc - 1, argv + 1);
		if (c->fn == cmd_audit)
			cmd_audit_usage(stdout);
		else
			printf("usage: modgate %s\n", c->usage);
		return 0;
	}
	fprintf(stderr, "modgate: unknown command %s\n", argv[1]);
	return usage(stderr, EX_USAGE);
}
