/* SPDX-License-Identifier: MIT */
/* hsm-journal: global options, the command table, shared helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* The command table (--help lists it in this order). */
static const struct cli_command commands[] = {
	{ "init", "create a new journal in DIR and print its ID", cmd_init },
	{ "status", "show the journal's state", cmd_status },
	{ "changes", "print the change feed after a cursor, then the new cursor", cmd_changes },
	{ "cursor", "print the cursor for now, or for a point in time (--at)", cmd_cursor },
	{ "ack", "record that a consumer has handled the feed up to a cursor", cmd_ack },
	{ "consumers", "list consumers with their lag; remove one", cmd_consumers },
	{ "trim", "delete feed records that retention no longer needs", cmd_trim },
	{ "in-flight", "print the intents that have no post record yet", cmd_in_flight },
	{ "verify", "decode every record and report the corrupt ones", cmd_verify },
};

const struct cli_command *cli_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_error(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_NAME ": ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	fflush(c->err);
}

int cli_usage(struct cli *c, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_NAME ": ", c->err);
	if (cmd)
		fprintf(c->err, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", c->err);
	fflush(c->err);
	return CLI_EXIT_USAGE;
}

int cli_no_operands(struct cli *c, const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage(c, cmd, "unexpected argument '%s'", argv[optind]);
	return CLI_EXIT_OK;
}

/* Turn getopt's '?' and ':' into one usage line. */
static int getopt_failure(struct cli *c, const char *cmd, int opt, char **argv)
{
	const char *what = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, 0 };

	/* glibc: optopt is 0 for an unknown long option (then argv[optind - 1]
	 * is it), the option's value for a long option missing its argument,
	 * and the letter for a short option, which may sit inside a cluster
	 * ("-xq") where argv[optind - 1] is some other word. */
	if (optopt != 0 && !(opt == ':' && strncmp(what, "--", 2) == 0))
		what = shortopt;
	if (opt == ':')
		return cli_usage(c, cmd, "option %s needs an argument", what);
	return cli_usage(c, cmd, "unknown option %s", what);
}

int cli_getopt(struct cli *c, int argc, char **argv, const char *optstring,
	       const struct option *longopts, const char *help_text, int *exit_code)
{
	int opt;

	opterr = 0;
	opt = getopt_long(argc, argv, optstring, longopts, NULL);
	switch (opt) {
	case 'h':
		fputs(help_text, c->out);
		*exit_code = cli_finish_output(c, CLI_EXIT_OK);
		return -2;
	case 'j':
		c->journal_dir = optarg;
		return cli_getopt(c, argc, argv, optstring, longopts, help_text, exit_code);
	case '?':
	case ':':
		*exit_code = getopt_failure(c, argv[0], opt, argv);
		return -2;
	default:
		return opt;
	}
}

int cli_open(struct cli *c, enum hsmj_open_flags flags, struct hsmj **out)
{
	char err[HSMJ_ERR_MAX] = "";
	int rc;

	if (!c->journal_dir || !*c->journal_dir) {
		cli_error(c, "no journal: use --journal DIR or set " CLI_ENV_DIR);
		return CLI_EXIT_USAGE;
	}
	rc = hsmj_open(c->journal_dir, flags, out, err, sizeof err);
	if (rc < 0) {
		if (*err)
			cli_error(c, "%s", err);
		else
			cli_error(c, "%s: %s", c->journal_dir, strerror(-rc));
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

int cli_finish_output(struct cli *c, int exit_code)
{
	/* A full disk or a closed pipe must not pass for a complete listing. */
	if (fflush(c->out) != 0 || ferror(c->out)) {
		cli_error(c, "writing output: %s", strerror(errno ? errno : EIO));
		return CLI_EXIT_ERROR;
	}
	return exit_code;
}

static void print_help(FILE *f)
{
	fputs("Usage: " CLI_NAME " [--journal DIR] [--help] [--version] COMMAND [options]\n"
	      "\n"
	      "Query an hsm-journal change journal.\n"
	      "\n"
	      "Options:\n"
	      "  -j, --journal DIR  the journal directory (default: $" CLI_ENV_DIR ")\n"
	      "  -h, --help         show this help (COMMAND --help: that command's)\n"
	      "  -V, --version      show the version\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Exit status: 0 ok, 1 error, 2 usage error, 3 full backup needed\n"
	      "(journal reset or cursor expired), 4 rescan needed (path formats).\n"
	      "See hsm-journal(1).\n", f);
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { .out = out, .err = err };
	const struct cli_command *cmd;
	const char *env = getenv(CLI_ENV_DIR);
	int opt;

	if (env && *env)
		c.journal_dir = env;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:j:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			c.journal_dir = optarg;
			break;
		case 'h':
			print_help(c.out);
			return cli_finish_output(&c, CLI_EXIT_OK);
		case 'V':
			fputs(CLI_NAME " " CLI_VERSION "\n", c.out);
			return cli_finish_output(&c, CLI_EXIT_OK);
		default:
			return getopt_failure(&c, NULL, opt, argv);
		}
	}
	if (optind >= argc)
		return cli_usage(&c, NULL, "no command given");
	cmd = cli_command_find(argv[optind]);
	if (!cmd)
		return cli_usage(&c, NULL, "unknown command %s", argv[optind]);
	return cmd->run(&c, argc - optind, argv + optind);
}
