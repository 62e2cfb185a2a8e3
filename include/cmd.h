/*
 * cmd: the subcommands of modgate(1), one src/cmd-NAME.c each, listed in
 * the dispatch table of src/modgate.c.  Each gets ARGV without "modgate"
 * (ARGV[0] is the subcommand name) and returns the exit status.
 */
#ifndef MODGATE_CMD_H
#define MODGATE_CMD_H

#include <stdio.h>

/* Exit statuses of modgate check (see modgate(1)). */
#define CHECK_EXIT_ALLOW	0
#define CHECK_EXIT_REWRITE	2
#define CHECK_EXIT_BLOCK	3

int	cmd_audit(int argc, char **argv);
/* The usage of modgate audit and its subcommands, to FP. */
void	cmd_audit_usage(FILE *fp);
int	cmd_check(int argc, char **argv);
int	cmd_eval(int argc, char **argv);
int	cmd_lint(int argc, char **argv);
int	cmd_logits(int argc, char **argv);
int	cmd_stats(int argc, char **argv);
int	cmd_reload(int argc, char **argv);
int	cmd_replay(int argc, char **argv);
int	cmd_scan(int argc, char **argv);

#endif
