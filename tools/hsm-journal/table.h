/* SPDX-License-Identifier: MIT */
#ifndef HSMJ_CLI_TABLE_H
#define HSMJ_CLI_TABLE_H
/*
 * Aligned text columns for people. Rows are kept until the table is printed
 * so every column gets the width of its widest cell; the last column is not
 * padded. Cells are copied. Widths count bytes (paths are escaped to ASCII
 * control-free text by the caller; UTF-8 names may look a little off).
 *
 * Calling sequence:
 *   struct table *t = table_new(3, (const char *[]){"JSN", "TIME", "PATH"});
 *   table_add(t, (const char *[]){"12", "2026-...", "/a"});
 *   table_print(t, stdout); table_free(t);
 */
#include <stddef.h>
#include <stdio.h>

struct table;

/* NULL on allocation failure. headers: ncols strings. */
struct table *table_new(size_t ncols, const char *const *headers);
void table_free(struct table *t);
/* Columns whose cells are right-aligned (numbers). */
void table_align_right(struct table *t, size_t col);
/* 0 or -ENOMEM. cells: ncols strings (NULL prints "-"). */
int table_add(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* Header line, then the rows. 0 or -EIO. */
int table_print(const struct table *t, FILE *f);

#endif
