/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CLI_H
#define HSMJ_CLI_H
/*
 * hsm-journal: the query CLI. This header is the contract between the
 * dispatcher (cli.c) and the commands (cmd_*.c).
 *
 * Calling sequence:
 *   main() -> cli_main(argc, argv, stdout, stderr) -> exit code
 *   cli_main parses the global options (--journal, --help, --version) up to
 *   the command word, then calls that command's run(c, argc, argv) with
 *   argv[0] == the command name. A command parses its own options with
 *   cli_getopt(), opens the journal with cli_open() and returns an exit code.
 *   Errors are printed once, by whoever returns the non-zero code, as one
 *   line "hsm-journal: <cause>" through cli_error().
 */
#include <getopt.h>
#include <stdio.h>
#include <json-c/json.h>
#include "consumer.h"
#include "journal.h"

#define CLI_NAME "hsm-journal"
#define CLI_VERSION "0.1.0"
#define CLI_ENV_DIR "HSM_JOURNAL_DIR"

/* Exit codes: the contract of DESIGN.md, "Command-line contract". */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,  /* anything not listed below */
	CLI_EXIT_USAGE = 2,  /* bad option, command or argument */
	CLI_EXIT_RESET = 3,  /* the cursor cannot be served: full backup needed */
	CLI_EXIT_RESCAN = 4, /* path output is incomplete: a rescan marker is in range */
};

struct cli {
	const char *journal_dir; /* --journal, else $HSM_JOURNAL_DIR, else NULL */
	FILE *out;               /* program output */
	FILE *err;               /* diagnostics, the cursor line of path formats */
};

struct cli_command {
	const char *name;
	const char *summary; /* one line for the global --help */
	int (*run)(struct cli *c, int argc, char **argv);
};

/* The whole program; returns the exit code. Does not call exit(). */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

/* Command table lookup; NULL when there is no such command. */
const struct cli_command *cli_command_find(const char *name);

/* "hsm-journal: <fmt>\n" on c->err. */
void cli_error(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * getopt_long for commands: resets getopt, never lets getopt print, and
 * handles the options every command takes (--help prints help_text on c->out,
 * --journal DIR or -j DIR, which longopts must map to 'j'). Returns the option value like getopt_long, -1 at the end of
 * options, or -2 after it printed help (exit 0) or a usage error (the caller
 * returns *exit_code). optstring must start with "+:" and hold "hj:".
 */
int cli_getopt(struct cli *c, int argc, char **argv, const char *optstring,
	       const struct option *longopts, const char *help_text, int *exit_code);
/* Usage error: prints "<cmd>: <msg> (see --help)" and returns CLI_EXIT_USAGE. */
int cli_usage(struct cli *c, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Rejects leftover operands after the options. */
int cli_no_operands(struct cli *c, const char *cmd, int argc, char **argv);

/* Open c->journal_dir; prints the error itself. Returns 0 or an exit code. */
int cli_open(struct cli *c, enum hsmj_open_flags flags, struct hsmj **out);
/* Flush c->out and report a write error (EPIPE, ENOSPC) as exit 1. */
int cli_finish_output(struct cli *c, int exit_code);

/* Commands (cmd_*.c). */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_changes(struct cli *c, int argc, char **argv);
int cmd_in_flight(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_ack(struct cli *c, int argc, char **argv);
int cmd_consumers(struct cli *c, int argc, char **argv);
int cmd_trim(struct cli *c, int argc, char **argv);
int cmd_cursor(struct cli *c, int argc, char **argv);

/* Consumers with their lag (cmd_consumers.c; status uses them too). */
enum consumer_state {
	CONSUMER_OK,      /* its cursor can be served */
	CONSUMER_EXPIRED, /* records after its cursor were trimmed */
	CONSUMER_RESET,   /* its cursor is from another journal */
	CONSUMER_AHEAD,   /* beyond this handle's end (acked meanwhile) */
};
struct consumer_row {
	struct hsmj_consumer c;
	enum consumer_state state;
	uint64_t lag;             /* feed records after its cursor */
	int64_t oldest_unread_ns; /* time of the first of them (0: none) */
};
/* Every consumer of j in name order; *rows is malloc'ed. Prints nothing;
 * returns 0 or a negative errno (-EBADMSG: a state file is corrupt). */
int consumer_rows(struct hsmj *j, struct consumer_row **rows, size_t *n);
const char *consumer_state_name(enum consumer_state s);
/* The JSON object of one row (NULL on allocation failure). */
struct json_object *consumer_row_json(const struct consumer_row *r, int64_t now_ns);

#endif
