/* SPDX-License-Identifier: MIT */
/* Aligned text columns. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "table.h"

#define TABLE_GAP 2 /* spaces between columns */

struct table {
	size_t ncols;
	size_t nrows; /* not counting the header */
	size_t cap;   /* rows allocated */
	char **cells; /* (nrows + 1) * ncols; row 0 is the header */
	size_t *width;
	bool *right;
};

static void table_free_cells(char **cells, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cells[i]);
		cells[i] = NULL;
	}
}

/* Store a copy of cells as row (0: the header, rows follow). */
static int table_put_row(struct table *t, size_t row, const char *const *cells)
{
	size_t i;

	if (row >= t->cap) {
		/* grow by doubling */
		size_t ncap = t->cap ? 2 * t->cap : 16;
		char **n = reallocarray(t->cells, ncap * t->ncols, sizeof *n);

		if (!n)
			return -ENOMEM;
		/* Zeroed so a partly filled row frees cleanly. */
		memset(n + t->cap * t->ncols, 0, (ncap - t->cap) * t->ncols * sizeof *n);
		t->cells = n;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "-");

		if (!s) {
			table_free_cells(&t->cells[row * t->ncols], i);
			return -ENOMEM;
		}
		t->cells[row * t->ncols + i] = s;
	}
	for (i = 0; i < t->ncols; i++) {
		size_t len = strlen(t->cells[row * t->ncols + i]);

		if (len > t->width[i])
			t->width[i] = len;
	}
	return 0;
}

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof *t);

	if (!t || ncols == 0)
		goto fail;
	t->ncols = ncols;
	t->width = calloc(ncols, sizeof *t->width);
	t->right = calloc(ncols, sizeof *t->right);
	if (!t->width || !t->right)
		goto fail;
	if (table_put_row(t, 0, headers) < 0)
		goto fail;
	return t;
fail:
	table_free(t);
	return NULL;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	if (t->cells && t->cap)
		table_free_cells(t->cells, (t->nrows + 1) * t->ncols);
	free(t->cells);
	free(t->width);
	free(t->right);
	free(t);
}

void table_align_right(struct table *t, size_t col)
{
	if (col < t->ncols)
		t->right[col] = true;
}

int table_add(struct table *t, const char *const *cells)
{
	int rc = table_put_row(t, t->nrows + 1, cells);

	if (rc == 0)
		t->nrows++;
	return rc;
}

size_t table_rows(const struct table *t)
{
	return t->nrows;
}

int table_print(const struct table *t, FILE *f)
{
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			int w = (int)t->width[i];
			bool last = i + 1 == t->ncols;
			int n;

			if (t->right[i])
				n = fprintf(f, "%*s", w, s);
			else if (last)
				n = fprintf(f, "%s", s);
			else
				n = fprintf(f, "%-*s", w, s);
			if (n < 0 || fprintf(f, "%*s", last ? 0 : TABLE_GAP, "") < 0)
				return -EIO;
		}
		if (fputc('\n', f) == EOF)
			return -EIO;
	}
	return 0;
}
