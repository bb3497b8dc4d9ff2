/* SPDX-License-Identifier: MIT */
#include "coverage.h"

#include <errno.h>
#include <stdlib.h>

struct coverage {
	size_t capacity, count;
	size_t nbuckets; /* power of two */
	struct cov_entry **buckets;
	struct cov_entry *oldest, *newest;
};

static size_t cov_bucket(const struct coverage *c, uint64_t dev, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (dev + 0x632be59bd9b4e019ull);

	h ^= h >> 29;
	return (size_t)(h & (c->nbuckets - 1));
}

int coverage_new(size_t capacity, struct coverage **out)
{
	struct coverage *c;
	size_t nb = 16;

	if (capacity == 0)
		return -EINVAL;
	while (nb < capacity && nb < ((size_t)1 << 30))
		nb <<= 1;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->buckets = calloc(nb, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	c->capacity = capacity;
	c->nbuckets = nb;
	*out = c;
	return 0;
}

void coverage_free(struct coverage *c)
{
	struct cov_entry *e, *n;

	if (!c)
		return;
	for (e = c->oldest; e; e = n) {
		n = e->next;
		free(e);
	}
	free(c->buckets);
	free(c);
}

size_t coverage_count(const struct coverage *c)
{
	return c->count;
}

size_t coverage_capacity(const struct coverage *c)
{
	return c->capacity;
}

struct cov_entry *coverage_find(const struct coverage *c, uint64_t dev, uint64_t ino)
{
	struct cov_entry *e;

	for (e = c->buckets[cov_bucket(c, dev, ino)]; e; e = e->hnext)
		if (e->dev == dev && e->ino == ino)
			return e;
	return NULL;
}

struct cov_entry *coverage_add(struct coverage *c, uint64_t dev, uint64_t ino)
{
	struct cov_entry *e;
	size_t b;

	if (c->count >= c->capacity)
		return NULL;
	e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->dev = dev;
	e->ino = ino;
	e->fd = -1;
	b = cov_bucket(c, dev, ino);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	e->prev = c->newest;
	if (c->newest)
		c->newest->next = e;
	else
		c->oldest = e;
	c->newest = e;
	c->count++;
	return e;
}

void coverage_remove(struct coverage *c, struct cov_entry *e)
{
	struct cov_entry **pp = &c->buckets[cov_bucket(c, e->dev, e->ino)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		c->oldest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->newest = e->prev;
	c->count--;
	free(e);
}

struct cov_entry *coverage_oldest(const struct coverage *c)
{
	return c->oldest;
}

struct cov_entry *coverage_next(const struct cov_entry *e)
{
	return e->next;
}
