/* SPDX-License-Identifier: MIT */
#ifndef HSMT_LOG_H
#define HSMT_LOG_H
/*
 * Levelled logging to stderr for the programs (libraries never print).
 * One line per message: "hsm-tracker: <level>: <text>". Under systemd the
 * line also carries the sd-daemon priority prefix ("<3>") so journald files
 * it at the right level.
 *
 * Calling sequence:
 *   log_init("hsm-tracker", LOG_LEVEL_INFO);   // once, in main()
 *   log_msg(LOG_LEVEL_ERR, "cannot open %s: %s", dir, strerror(-r));
 */
#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

void log_init(const char *program, enum log_level max_level);
void log_set_level(enum log_level max_level);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
