/* SPDX-License-Identifier: MIT */
/* hsm-journal init, verify. (ack, consumers and trim will live here too.) */
#include <errno.h>
#include <string.h>
#include "cli.h"

static const char init_help[] =
	"Usage: " CLI_NAME " [--journal DIR] init\n"
	"\n"
	"Create a new, empty journal in DIR (made if missing, else it must be\n"
	"empty) with a new random journal ID, and print the ID. Put DIR on a\n"
	"different device from every tracked filesystem.\n"
	"\n"
	"  -j, --journal DIR  the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help         show this help\n";

int cmd_init(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[HSMJ_ERR_MAX] = "", id[2 * HSMJ_ID_LEN + 1];
	uint8_t raw[HSMJ_ID_LEN];
	struct hsmj *j = NULL;
	int opt, rc, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:", longopts, init_help, &code)) != -1) {
		if (opt == -2)
			return code;
		return cli_usage(c, argv[0], "unknown option");
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if (!c->journal_dir || !*c->journal_dir) {
		cli_error(c, "no journal: use --journal DIR or set " CLI_ENV_DIR);
		return CLI_EXIT_USAGE;
	}
	rc = hsmj_create(c->journal_dir, err, sizeof err);
	if (rc < 0) {
		if (*err)
			cli_error(c, "%s", err);
		else
			cli_error(c, "%s: %s", c->journal_dir, strerror(-rc));
		return CLI_EXIT_ERROR;
	}
	/* The ID is only known by opening what was just made. */
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	hsmj_get_id(j, raw);
	hsmj_close(j);
	hsmj_id_format(raw, id, sizeof id);
	fprintf(c->out, "%s\n", id);
	return cli_finish_output(c, CLI_EXIT_OK);
}

struct verify_out {
	struct cli *c;
	int err;
};

static void verify_corrupt(const char *cf, const char *key_hex, const char *why, void *arg)
{
	struct verify_out *v = arg;

	if (fprintf(v->c->out, "corrupt: %s %s: %s\n", cf, key_hex, why) < 0)
		v->err = -EIO;
}

static const char verify_help[] =
	"Usage: " CLI_NAME " [--journal DIR] verify\n"
	"\n"
	"Decode every record of the journal. Prints \"corrupt: CF KEY: why\" for\n"
	"each record that does not decode, then \"N records, M corrupt\".\n"
	"Exit status 0 when every record decodes, 1 otherwise.\n"
	"\n"
	"  -j, --journal DIR  the journal (default: $" CLI_ENV_DIR ")\n"
	"  -h, --help         show this help\n";

int cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_out v = { .c = c };
	struct hsmj_verify_stats st = { 0 };
	struct hsmj *j = NULL;
	int opt, rc, code = CLI_EXIT_OK;

	optind = 0;
	while ((opt = cli_getopt(c, argc, argv, "+:hj:", longopts, verify_help, &code)) != -1) {
		if (opt == -2)
			return code;
		return cli_usage(c, argv[0], "unknown option");
	}
	if ((code = cli_no_operands(c, argv[0], argc, argv)) != 0)
		return code;
	if ((code = cli_open(c, HSMJ_OPEN_READONLY, &j)) != 0)
		return code;
	rc = hsmj_verify(j, verify_corrupt, &v, &st);
	if (rc < 0 && rc != -EBADMSG) {
		cli_error(c, "verify: %s", *hsmj_last_error(j) ? hsmj_last_error(j) : strerror(-rc));
		hsmj_close(j);
		return CLI_EXIT_ERROR;
	}
	hsmj_close(j);
	fprintf(c->out, "%llu records, %llu corrupt\n", (unsigned long long)st.records,
		(unsigned long long)st.corrupt);
	code = cli_finish_output(c, CLI_EXIT_OK);
	if (code == 0 && (rc == -EBADMSG || st.corrupt)) {
		cli_error(c, "verify: %llu corrupt record%s", (unsigned long long)st.corrupt,
			  st.corrupt == 1 ? "" : "s");
		code = CLI_EXIT_ERROR;
	}
	return code;
}
