/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_program = "hsm";
static enum log_level log_max = LOG_LEVEL_INFO;
static int log_prefix_priority; /* stderr goes to journald: add "<N>" */

void log_init(const char *program, enum log_level max_level)
{
	const char *stream = getenv("JOURNAL_STREAM");

	log_program = program;
	log_max = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to journald;
	 * the "<N>" prefix then becomes the entry's priority. */
	log_prefix_priority = stream != NULL && *stream != '\0';
}

void log_set_level(enum log_level max_level)
{
	log_max = max_level;
}

int log_enabled(enum log_level level)
{
	return level <= log_max;
}

static const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR: return "error";
	case LOG_LEVEL_WARN: return "warning";
	case LOG_LEVEL_NOTICE: return "notice";
	case LOG_LEVEL_INFO: return "info";
	case LOG_LEVEL_DEBUG: return "debug";
	}
	return "log";
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap); /* truncation is acceptable for a log line */
	va_end(ap);
	if (log_prefix_priority)
		fprintf(stderr, "<%d>%s: %s: %s\n", (int)level, log_program,
			log_level_name(level), text);
	else
		fprintf(stderr, "%s: %s: %s\n", log_program, log_level_name(level), text);
}
