/* SPDX-License-Identifier: MIT */
/* hsm-journal argument handling through cli_main(): exit codes and the one
 * error line for every usage mistake, and that errors print nothing on
 * stdout. None of these cases needs a journal to exist. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/hsm-journal/cli.h"

#define MISSING "/nonexistent-hsmj-test-dir/j"

struct result {
	int rc;
	char *out;
	char *err;
};

/* Run cli_main on a NULL-terminated list of words (argv[0] added). */
static struct result run(const char *const *words)
{
	struct result r = { 0 };
	char *argv[32];
	size_t outlen, errlen;
	FILE *out = open_memstream(&r.out, &outlen);
	FILE *err = open_memstream(&r.err, &errlen);
	int argc = 0;

	assert_non_null(out);
	assert_non_null(err);
	argv[argc++] = strdup("hsm-journal");
	for (; *words; words++)
		argv[argc++] = strdup(*words);
	argv[argc] = NULL;
	r.rc = cli_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void result_release(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* rc, exact stderr, nothing on stdout */
static void expect_error(const char *const *words, int rc, const char *err)
{
	struct result r = run(words);

	assert_int_equal(r.rc, rc);
	assert_string_equal(r.err, err);
	assert_string_equal(r.out, "");
	result_release(&r);
}

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int setup(void **state)
{
	(void)state;
	unsetenv(CLI_ENV_DIR);
	return 0;
}

static void test_version_and_help(void **state)
{
	struct result r;

	(void)state;
	r = run(W("--version"));
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "hsm-journal " CLI_VERSION "\n");
	assert_string_equal(r.err, "");
	result_release(&r);

	r = run(W("-j", MISSING, "--help", "frob"));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "Usage: hsm-journal [--journal DIR]"));
	for (const char *const *c = W("init", "status", "changes", "in-flight", "verify", "cursor", "ack",
					     "consumers", "trim"); *c; c++)
		assert_non_null(strstr(r.out, *c));
	result_release(&r);

	/* every command's --help works without a journal */
	for (const char *const *c = W("init", "status", "changes", "in-flight", "verify", "cursor",
				      "ack", "consumers", "trim"); *c; c++) {
		r = run(W(*c, "--help"));
		assert_int_equal(r.rc, 0);
		assert_true(strncmp(r.out, "Usage: hsm-journal [--journal DIR] ", 35) == 0);
		assert_non_null(strstr(r.out, *c));
		assert_string_equal(r.err, "");
		result_release(&r);
	}
}

static void test_command_errors(void **state)
{
	(void)state;
	expect_error(W("frob"), CLI_EXIT_USAGE, "hsm-journal: unknown command frob (see --help)\n");
	expect_error(W("-j", MISSING, "acknowledge"), CLI_EXIT_USAGE,
		     "hsm-journal: unknown command acknowledge (see --help)\n");
	expect_error((const char *const[]){ NULL }, CLI_EXIT_USAGE,
		     "hsm-journal: no command given (see --help)\n");
	expect_error(W("-j", MISSING), CLI_EXIT_USAGE, "hsm-journal: no command given (see --help)\n");
	assert_non_null(cli_command_find("in-flight"));
	assert_null(cli_command_find("in"));
	assert_null(cli_command_find("tri"));
	assert_non_null(cli_command_find("trim"));
}

static void test_option_errors(void **state)
{
	(void)state;
	expect_error(W("--bogus", "status"), CLI_EXIT_USAGE,
		     "hsm-journal: unknown option --bogus (see --help)\n");
	expect_error(W("-x", "status"), CLI_EXIT_USAGE,
		     "hsm-journal: unknown option -x (see --help)\n");
	expect_error(W("--journal"), CLI_EXIT_USAGE,
		     "hsm-journal: option --journal needs an argument (see --help)\n");
	expect_error(W("-j"), CLI_EXIT_USAGE,
		     "hsm-journal: option -j needs an argument (see --help)\n");
	expect_error(W("-j", MISSING, "changes", "--frobnicate"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: unknown option --frobnicate (see --help)\n");
	expect_error(W("-j", MISSING, "changes", "-sx"), CLI_EXIT_USAGE,
		     "hsm-journal: invalid cursor 'x' (expected hsmj1:<journal id>:<jsn>)\n");
	expect_error(W("-j", MISSING, "changes", "-qs"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: unknown option -q (see --help)\n");
	expect_error(W("-j", MISSING, "changes", "--since"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: option --since needs an argument (see --help)\n");
	expect_error(W("-j", MISSING, "changes", "--format", "xml"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: unknown format 'xml' (see --help)\n");
	expect_error(W("-j", MISSING, "in-flight", "--format=json"), CLI_EXIT_USAGE,
		     "hsm-journal: in-flight: unknown format 'json' (see --help)\n");
	expect_error(W("-j", MISSING, "status", "now"), CLI_EXIT_USAGE,
		     "hsm-journal: status: unexpected argument 'now' (see --help)\n");
	/* consumers, ack, trim, cursor: checked before the journal is opened */
	expect_error(W("-j", MISSING, "changes", "--since", "hsmj1:0123456789abcdef0011223344556677:5",
		       "--consumer", "x"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: --since and --consumer exclude each other (see --help)\n");
	expect_error(W("-j", MISSING, "changes", "--consumer", ".hidden"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: invalid consumer name '.hidden' (1-64 of A-Z a-z 0-9 . _ -, "
		     "not starting with '.') (see --help)\n");
	expect_error(W("-j", MISSING, "changes", "--under", "rel/dir"), CLI_EXIT_USAGE,
		     "hsm-journal: changes: --under wants an absolute path, not 'rel/dir' (see --help)\n");
	expect_error(W("-j", MISSING, "ack", "hsmj1:0123456789abcdef0011223344556677:5"), CLI_EXIT_USAGE,
		     "hsm-journal: ack: --consumer NAME is required (see --help)\n");
	expect_error(W("-j", MISSING, "ack", "--consumer", "nightly"), CLI_EXIT_USAGE,
		     "hsm-journal: ack: CURSOR is required (see --help)\n");
	expect_error(W("-j", MISSING, "ack", "--consumer", "a/b", "x"), CLI_EXIT_USAGE,
		     "hsm-journal: ack: invalid consumer name 'a/b' (1-64 of A-Z a-z 0-9 . _ -, "
		     "not starting with '.') (see --help)\n");
	expect_error(W("-j", MISSING, "ack", "--consumer", "n", "bogus"), CLI_EXIT_USAGE,
		     "hsm-journal: invalid cursor 'bogus' (expected hsmj1:<journal id>:<jsn>)\n");
	expect_error(W("-j", MISSING, "ack", "--consumer", "n", "hsmj1:0123456789abcdef0011223344556677:5",
		       "extra"), CLI_EXIT_USAGE,
		     "hsm-journal: ack: unexpected argument 'extra' (see --help)\n");
	expect_error(W("-j", MISSING, "consumers", "remove"), CLI_EXIT_USAGE,
		     "hsm-journal: consumers: remove needs a consumer NAME (see --help)\n");
	expect_error(W("-j", MISSING, "consumers", "frob"), CLI_EXIT_USAGE,
		     "hsm-journal: consumers: unexpected argument 'frob' (see --help)\n");
	expect_error(W("-j", MISSING, "trim", "--keep", "7"), CLI_EXIT_USAGE,
		     "hsm-journal: trim: invalid duration '7' for --keep (see --help)\n");
	expect_error(W("-j", MISSING, "trim", "--max-age", "1y"), CLI_EXIT_USAGE,
		     "hsm-journal: trim: invalid duration '1y' for --max-age (see --help)\n");
	expect_error(W("-j", MISSING, "trim", "--max-records", "-1"), CLI_EXIT_USAGE,
		     "hsm-journal: trim: invalid number '-1' for --max-records (see --help)\n");
	expect_error(W("-j", MISSING, "cursor", "--at", "yesterday"), CLI_EXIT_USAGE,
		     "hsm-journal: cursor: invalid time 'yesterday' (RFC 3339 such as "
		     "2026-11-22T02:00:00Z, or @UNIX-SECONDS) (see --help)\n");
	/* options of one command are unknown to another */
	expect_error(W("-j", MISSING, "status", "--since", "x"), CLI_EXIT_USAGE,
		     "hsm-journal: status: unknown option --since (see --help)\n");
}

static void test_invalid_cursor(void **state)
{
	static const char *const bad[] = {
		"", "bogus", "hsmj1:0123456789abcdef0011223344556677:", "hsmj1:0123:5",
		"hsmj1:0123456789ABCDEF0011223344556677:5", "hsmj1:0123456789abcdef0011223344556677:05",
		"hsmj2:0123456789abcdef0011223344556677:5", " hsmj1:0123456789abcdef0011223344556677:5",
	};

	(void)state;
	/* refused before the journal is opened: the journal does not exist */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct result r = run(W("-j", MISSING, "changes", "--since", bad[i]));

		assert_int_equal(r.rc, CLI_EXIT_USAGE);
		assert_non_null(strstr(r.err, "hsm-journal: invalid cursor '"));
		assert_string_equal(r.out, "");
		result_release(&r);
	}
}

static void test_journal_dir(void **state)
{
	struct result r;

	(void)state;
	/* no --journal and no environment: the error names both */
	for (const char *const *c = W("init", "status", "changes", "in-flight", "verify", "cursor",
				      "consumers", "trim"); *c; c++)
		expect_error(W(*c), CLI_EXIT_USAGE,
			     "hsm-journal: no journal: use --journal DIR or set HSM_JOURNAL_DIR\n");
	/* an empty environment variable is no journal either */
	setenv(CLI_ENV_DIR, "", 1);
	expect_error(W("status"), CLI_EXIT_USAGE,
		     "hsm-journal: no journal: use --journal DIR or set HSM_JOURNAL_DIR\n");
	/* the environment is used; --journal before or after the command wins */
	setenv(CLI_ENV_DIR, MISSING "-env", 1);
	r = run(W("status"));
	assert_int_equal(r.rc, CLI_EXIT_ERROR);
	assert_true(strncmp(r.err, "hsm-journal: " MISSING "-env", strlen("hsm-journal: " MISSING "-env")) == 0);
	assert_int_equal(count_lines(r.err), 1);
	assert_string_equal(r.out, "");
	result_release(&r);
	r = run(W("--journal", MISSING "-opt", "changes"));
	assert_int_equal(r.rc, CLI_EXIT_ERROR);
	assert_non_null(strstr(r.err, MISSING "-opt"));
	assert_int_equal(count_lines(r.err), 1);
	result_release(&r);
	r = run(W("in-flight", "--journal=" MISSING "-late"));
	assert_int_equal(r.rc, CLI_EXIT_ERROR);
	assert_non_null(strstr(r.err, MISSING "-late"));
	result_release(&r);
	unsetenv(CLI_ENV_DIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_version_and_help, setup),
		cmocka_unit_test_setup(test_command_errors, setup),
		cmocka_unit_test_setup(test_option_errors, setup),
		cmocka_unit_test_setup(test_invalid_cursor, setup),
		cmocka_unit_test_setup(test_journal_dir, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
