/* SPDX-License-Identifier: MIT */
/*
 * Record encoding (see docs/FORMAT.md for the byte layout):
 *   u8 version, u8 kind, { u8 tag, u16le length, value }*, u32le CRC32C.
 * The encoder writes fields in ascending tag order and omits zero/empty
 * ones; the decoder checks every length against the buffer before reading
 * and rejects anything the encoder could not have produced for this
 * version, so a corrupt value is reported rather than misread.
 */
#include "record.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field tags of format version 1. Never renumber: they are on disk. */
enum field_tag {
	TAG_FLAGS = 1,     /* u32 */
	TAG_REASONS = 2,   /* u32 */
	TAG_CAUSE = 3,     /* u32 */
	TAG_TIME = 4,      /* i64 */
	TAG_REF_JSN = 5,   /* u64 */
	TAG_EPOCH_JSN = 6, /* u64 */
	TAG_SINCE = 7,     /* i64 */
	TAG_UNTIL = 8,     /* i64 */
	TAG_PID = 9,       /* i32 */
	TAG_UID = 10,      /* u32 */
	TAG_FHANDLE = 11,  /* u64 fsid, i32 type, handle bytes */
	TAG_PATH = 12,     /* string, no NUL */
	TAG_PATH2 = 13,    /* string, no NUL */
	TAG_PRE_STAT = 14, /* stat block */
	TAG_POST_STAT = 15,/* stat block */
	TAG_RANGES = 16,   /* n * (u64 offset, u64 length) */
};
#define TAG_MAX TAG_RANGES

#define HEADER_SIZE 2   /* version, kind */
#define FIELD_HEAD 3    /* tag, u16 length */
#define CRC_SIZE 4
#define FH_FIXED 12     /* fsid + type */
#define STAT_SIZE 56    /* valid mode ino size mtime ctime gen uid gid nlink */
#define RANGE_SIZE 16
#define RECORD_MAX 65536 /* above any valid record */

#define FLAGS_ALL (HSMJ_FLAG_DIR | HSMJ_FLAG_SYMLINK)
#define STAT_VALID_ALL ((uint32_t)HSMJ_STAT_NLINK * 2 - 1)

/* ---- little-endian helpers ---- */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Standard CRC-32C (Castagnoli): isa-l's crc32_iscsi works on the
 * non-inverted register, so invert on the way in and out. */
static uint32_t crc32c(const uint8_t *p, size_t len)
{
	return ~crc32_iscsi((unsigned char *)p, (int)len, 0xffffffffu);
}

/* ---- lifecycle ---- */

void hsmj_record_init(struct hsmj_record *r, enum hsmj_kind kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
}

void hsmj_record_release(struct hsmj_record *r)
{
	enum hsmj_kind kind = r->kind;

	free(r->path);
	free(r->path2);
	hsmj_record_init(r, kind);
}

int hsmj_record_copy(struct hsmj_record *dst, const struct hsmj_record *src)
{
	char *p = NULL, *p2 = NULL;

	if (src->path && !(p = strdup(src->path)))
		return -ENOMEM;
	if (src->path2 && !(p2 = strdup(src->path2))) {
		free(p);
		return -ENOMEM;
	}
	*dst = *src;
	dst->path = p;
	dst->path2 = p2;
	return 0;
}

static int set_string(char **slot, const char *s)
{
	char *copy = NULL;

	if (s) {
		if (strnlen(s, HSMJ_PATH_MAX) >= HSMJ_PATH_MAX)
			return -EINVAL;
		copy = strdup(s);
		if (!copy)
			return -ENOMEM;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

int hsmj_record_set_path(struct hsmj_record *r, const char *s)
{
	return set_string(&r->path, s);
}

int hsmj_record_set_path2(struct hsmj_record *r, const char *s)
{
	return set_string(&r->path2, s);
}

/* ---- ranges ---- */

/* Exclusive end of a range; UINT64_MAX stands for "to end of file". */
static uint64_t range_end(const struct hsmj_range *g)
{
	if (g->length == 0 || g->offset > UINT64_MAX - g->length)
		return UINT64_MAX;
	return g->offset + g->length;
}

static void range_set(struct hsmj_range *g, uint64_t offset, uint64_t end)
{
	g->offset = offset;
	g->length = end == UINT64_MAX ? 0 : end - offset;
}

void hsmj_record_add_range(struct hsmj_record *r, uint64_t offset, uint64_t length)
{
	struct hsmj_range add = { offset, length };
	uint64_t lo = offset, hi = range_end(&add);
	uint32_t n = r->nranges > HSMJ_MAX_RANGES ? HSMJ_MAX_RANGES : r->nranges;
	uint32_t i, out = 0, pos;

	/* Absorb every range that overlaps or touches [lo, hi). */
	for (i = 0; i < n; i++) {
		struct hsmj_range *g = &r->ranges[i];
		uint64_t glo = g->offset, ghi = range_end(g);

		if (ghi >= lo && glo <= hi) {
			lo = glo < lo ? glo : lo;
			hi = ghi > hi ? ghi : hi;
			continue;
		}
		r->ranges[out++] = *g;
	}
	n = out;
	if (n == HSMJ_MAX_RANGES) {
		/* Full: one covering range keeps the record bounded. */
		for (i = 0; i < n; i++) {
			uint64_t ghi = range_end(&r->ranges[i]);
			lo = r->ranges[i].offset < lo ? r->ranges[i].offset : lo;
			hi = ghi > hi ? ghi : hi;
		}
		range_set(&r->ranges[0], lo, hi);
		r->nranges = 1;
		return;
	}
	/* Keep the table sorted by offset. */
	for (pos = 0; pos < n && r->ranges[pos].offset < lo; pos++)
		;
	memmove(&r->ranges[pos + 1], &r->ranges[pos], (n - pos) * sizeof(r->ranges[0]));
	range_set(&r->ranges[pos], lo, hi);
	r->nranges = n + 1;
}

/* ---- validation shared by encoder and decoder ---- */

static bool fh_present(const struct hsmj_fhandle *fh)
{
	return fh->len || fh->fsid || fh->type;
}

static bool stat_present(const struct hsmj_stat *s)
{
	static const struct hsmj_stat zero;
	return memcmp(s, &zero, sizeof(zero)) != 0;
}

static bool has_str(const char *s)
{
	return s && s[0];
}

/* Field values and per-kind requirements; the same rule both ways keeps
 * every encodable record decodable. */
static bool record_valid(const struct hsmj_record *r)
{
	if (r->kind < HSMJ_KIND_INTENT || r->kind > HSMJ_KIND_MAX)
		return false;
	if ((r->flags & ~FLAGS_ALL) || (r->reasons & ~HSMJ_REASON_ALL))
		return false;
	if (r->cause > HSMJ_CAUSE_MAX)
		return false;
	if (r->fh.len > HSMJ_FH_MAX || r->nranges > HSMJ_MAX_RANGES)
		return false;
	if ((r->pre.valid & ~STAT_VALID_ALL) || (r->post.valid & ~STAT_VALID_ALL))
		return false;
	if (r->path && strnlen(r->path, HSMJ_PATH_MAX) >= HSMJ_PATH_MAX)
		return false;
	if (r->path2 && strnlen(r->path2, HSMJ_PATH_MAX) >= HSMJ_PATH_MAX)
		return false;

	switch (r->kind) {
	case HSMJ_KIND_INTENT:
		return has_str(r->path) || r->fh.len > 0;
	case HSMJ_KIND_CHANGE:
		return has_str(r->path) && r->reasons != 0;
	case HSMJ_KIND_RESCAN:
		return has_str(r->path) && r->cause >= 1;
	case HSMJ_KIND_POST:
	case HSMJ_KIND_RESCAN_DONE:
	case HSMJ_KIND_CLEAN_STOP:
		return r->ref_jsn != 0;
	case HSMJ_KIND_EPOCH_START:
	case HSMJ_KIND_HEARTBEAT:
		return true;
	}
	return false;
}

/* ---- encoder ---- */

struct writer {
	uint8_t *p;
	size_t off;
};

static uint8_t *field(struct writer *w, enum field_tag tag, size_t len)
{
	uint8_t *v;

	w->p[w->off] = (uint8_t)tag;
	put_u16(w->p + w->off + 1, (uint16_t)len);
	v = w->p + w->off + FIELD_HEAD;
	w->off += FIELD_HEAD + len;
	return v;
}

static void field_u32(struct writer *w, enum field_tag tag, uint32_t v)
{
	if (v)
		put_u32(field(w, tag, 4), v);
}

static void field_u64(struct writer *w, enum field_tag tag, uint64_t v)
{
	if (v)
		put_u64(field(w, tag, 8), v);
}

static void field_str(struct writer *w, enum field_tag tag, const char *s)
{
	size_t n;

	if (!has_str(s))
		return;
	n = strlen(s);
	memcpy(field(w, tag, n), s, n);
}

static void field_stat(struct writer *w, enum field_tag tag, const struct hsmj_stat *s)
{
	uint8_t *v;

	if (!stat_present(s))
		return;
	v = field(w, tag, STAT_SIZE);
	put_u32(v + 0, s->valid);
	put_u32(v + 4, s->mode);
	put_u64(v + 8, s->ino);
	put_u64(v + 16, s->size);
	put_u64(v + 24, (uint64_t)s->mtime_ns);
	put_u64(v + 32, (uint64_t)s->ctime_ns);
	put_u32(v + 40, s->generation);
	put_u32(v + 44, s->uid);
	put_u32(v + 48, s->gid);
	put_u32(v + 52, s->nlink);
}

/* Bytes of all fields the encoder will write (must match encode). */
static size_t fields_size(const struct hsmj_record *r)
{
	size_t n = 0;

#define ADD_IF(cond, len) do { if (cond) n += FIELD_HEAD + (len); } while (0)
	ADD_IF(r->flags, 4);
	ADD_IF(r->reasons, 4);
	ADD_IF(r->cause, 4);
	ADD_IF(r->time_ns, 8);
	ADD_IF(r->ref_jsn, 8);
	ADD_IF(r->epoch_jsn, 8);
	ADD_IF(r->since_ns, 8);
	ADD_IF(r->until_ns, 8);
	ADD_IF(r->pid, 4);
	ADD_IF(r->uid, 4);
	ADD_IF(fh_present(&r->fh), FH_FIXED + (r->fh.len > HSMJ_FH_MAX ? HSMJ_FH_MAX : r->fh.len));
	ADD_IF(has_str(r->path), has_str(r->path) ? strnlen(r->path, HSMJ_PATH_MAX) : 0);
	ADD_IF(has_str(r->path2), has_str(r->path2) ? strnlen(r->path2, HSMJ_PATH_MAX) : 0);
	ADD_IF(stat_present(&r->pre), STAT_SIZE);
	ADD_IF(stat_present(&r->post), STAT_SIZE);
	ADD_IF(r->nranges, RANGE_SIZE * (r->nranges > HSMJ_MAX_RANGES ? HSMJ_MAX_RANGES : r->nranges));
#undef ADD_IF
	return n;
}

size_t hsmj_record_encoded_size(const struct hsmj_record *r)
{
	return HEADER_SIZE + fields_size(r) + CRC_SIZE;
}

long hsmj_record_encode(const struct hsmj_record *r, void *buf, size_t cap)
{
	struct writer w = { buf, 0 };
	size_t need;
	uint8_t *v;

	if (!record_valid(r))
		return -EINVAL;
	need = hsmj_record_encoded_size(r);
	if (cap < need)
		return -ENOSPC;

	w.p[0] = HSMJ_RECORD_VERSION;
	w.p[1] = (uint8_t)r->kind;
	w.off = HEADER_SIZE;
	field_u32(&w, TAG_FLAGS, r->flags);
	field_u32(&w, TAG_REASONS, r->reasons);
	field_u32(&w, TAG_CAUSE, r->cause);
	field_u64(&w, TAG_TIME, (uint64_t)r->time_ns);
	field_u64(&w, TAG_REF_JSN, r->ref_jsn);
	field_u64(&w, TAG_EPOCH_JSN, r->epoch_jsn);
	field_u64(&w, TAG_SINCE, (uint64_t)r->since_ns);
	field_u64(&w, TAG_UNTIL, (uint64_t)r->until_ns);
	field_u32(&w, TAG_PID, (uint32_t)r->pid);
	field_u32(&w, TAG_UID, r->uid);
	if (fh_present(&r->fh)) {
		v = field(&w, TAG_FHANDLE, FH_FIXED + r->fh.len);
		put_u64(v, r->fh.fsid);
		put_u32(v + 8, (uint32_t)r->fh.type);
		memcpy(v + FH_FIXED, r->fh.bytes, r->fh.len);
	}
	field_str(&w, TAG_PATH, r->path);
	field_str(&w, TAG_PATH2, r->path2);
	field_stat(&w, TAG_PRE_STAT, &r->pre);
	field_stat(&w, TAG_POST_STAT, &r->post);
	if (r->nranges) {
		v = field(&w, TAG_RANGES, RANGE_SIZE * r->nranges);
		for (uint32_t i = 0; i < r->nranges; i++) {
			put_u64(v + RANGE_SIZE * i, r->ranges[i].offset);
			put_u64(v + RANGE_SIZE * i + 8, r->ranges[i].length);
		}
	}
	put_u32(w.p + w.off, crc32c(w.p, w.off));
	w.off += CRC_SIZE;
	return (long)w.off;
}

/* ---- decoder ---- */

static void read_stat(const uint8_t *v, struct hsmj_stat *s)
{
	s->valid = get_u32(v + 0);
	s->mode = get_u32(v + 4);
	s->ino = get_u64(v + 8);
	s->size = get_u64(v + 16);
	s->mtime_ns = (int64_t)get_u64(v + 24);
	s->ctime_ns = (int64_t)get_u64(v + 32);
	s->generation = get_u32(v + 40);
	s->uid = get_u32(v + 44);
	s->gid = get_u32(v + 48);
	s->nlink = get_u32(v + 52);
}

/* A string field: 1..HSMJ_PATH_MAX-1 bytes, no NUL inside. */
static int read_string(const uint8_t *v, size_t len, char **out)
{
	char *s;

	if (len == 0 || len >= HSMJ_PATH_MAX || memchr(v, 0, len))
		return -EBADMSG;
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, v, len);
	s[len] = 0;
	*out = s;
	return 0;
}

/* The value size a fixed-size tag must have, 0 for variable-size tags. */
static size_t fixed_size(unsigned tag)
{
	switch (tag) {
	case TAG_FLAGS:
	case TAG_REASONS:
	case TAG_CAUSE:
	case TAG_PID:
	case TAG_UID:
		return 4;
	case TAG_TIME:
	case TAG_REF_JSN:
	case TAG_EPOCH_JSN:
	case TAG_SINCE:
	case TAG_UNTIL:
		return 8;
	case TAG_PRE_STAT:
	case TAG_POST_STAT:
		return STAT_SIZE;
	default:
		return 0;
	}
}

static int decode_field(struct hsmj_record *r, unsigned tag, const uint8_t *v, size_t len)
{
	size_t want = fixed_size(tag);

	if (want && len != want)
		return -EBADMSG;
	switch (tag) {
	case TAG_FLAGS: r->flags = get_u32(v); break;
	case TAG_REASONS: r->reasons = get_u32(v); break;
	case TAG_CAUSE: r->cause = get_u32(v); break;
	case TAG_TIME: r->time_ns = (int64_t)get_u64(v); break;
	case TAG_REF_JSN: r->ref_jsn = get_u64(v); break;
	case TAG_EPOCH_JSN: r->epoch_jsn = get_u64(v); break;
	case TAG_SINCE: r->since_ns = (int64_t)get_u64(v); break;
	case TAG_UNTIL: r->until_ns = (int64_t)get_u64(v); break;
	case TAG_PID: r->pid = (int32_t)get_u32(v); break;
	case TAG_UID: r->uid = get_u32(v); break;
	case TAG_PRE_STAT: read_stat(v, &r->pre); break;
	case TAG_POST_STAT: read_stat(v, &r->post); break;
	case TAG_FHANDLE:
		if (len < FH_FIXED || len - FH_FIXED > HSMJ_FH_MAX)
			return -EBADMSG;
		r->fh.fsid = get_u64(v);
		r->fh.type = (int32_t)get_u32(v + 8);
		r->fh.len = (uint32_t)(len - FH_FIXED);
		memcpy(r->fh.bytes, v + FH_FIXED, r->fh.len);
		break;
	case TAG_PATH:
		return read_string(v, len, &r->path);
	case TAG_PATH2:
		return read_string(v, len, &r->path2);
	case TAG_RANGES:
		if (len == 0 || len % RANGE_SIZE || len / RANGE_SIZE > HSMJ_MAX_RANGES)
			return -EBADMSG;
		r->nranges = (uint32_t)(len / RANGE_SIZE);
		for (uint32_t i = 0; i < r->nranges; i++) {
			r->ranges[i].offset = get_u64(v + RANGE_SIZE * i);
			r->ranges[i].length = get_u64(v + RANGE_SIZE * i + 8);
		}
		break;
	default:
		return -EBADMSG; /* version 1 knows all its tags */
	}
	return 0;
}

int hsmj_record_decode(const void *buf, size_t len, struct hsmj_record *out)
{
	const uint8_t *p = buf;
	struct hsmj_record r;
	uint32_t seen = 0;
	size_t off, end;
	int rc;

	/* The largest valid record is under 9 KiB (two 4095-byte paths); the
	 * bound also keeps the length within the CRC routine's int. */
	if (!p || len < HEADER_SIZE + CRC_SIZE || len > RECORD_MAX)
		return -EBADMSG;
	end = len - CRC_SIZE;
	if (get_u32(p + end) != crc32c(p, end))
		return -EBADMSG;
	if (p[0] != HSMJ_RECORD_VERSION || p[1] < HSMJ_KIND_INTENT || p[1] > HSMJ_KIND_MAX)
		return -EBADMSG;

	hsmj_record_init(&r, (enum hsmj_kind)p[1]);
	for (off = HEADER_SIZE; off < end;) {
		unsigned tag;
		size_t flen;

		if (end - off < FIELD_HEAD) {
			rc = -EBADMSG;
			goto fail;
		}
		tag = p[off];
		flen = get_u16(p + off + 1);
		off += FIELD_HEAD;
		if (flen > end - off || tag == 0 || tag > TAG_MAX || (seen & (1u << tag))) {
			rc = -EBADMSG;
			goto fail;
		}
		seen |= 1u << tag;
		rc = decode_field(&r, tag, p + off, flen);
		if (rc < 0)
			goto fail;
		off += flen;
	}
	if (!record_valid(&r)) {
		rc = -EBADMSG;
		goto fail;
	}
	*out = r;
	return 0;
fail:
	hsmj_record_release(&r);
	return rc;
}

/* ---- names ---- */

static const char *const kind_names[] = {
	[HSMJ_KIND_INTENT] = "intent",
	[HSMJ_KIND_POST] = "post",
	[HSMJ_KIND_CHANGE] = "change",
	[HSMJ_KIND_RESCAN] = "rescan",
	[HSMJ_KIND_RESCAN_DONE] = "rescan-done",
	[HSMJ_KIND_EPOCH_START] = "epoch-start",
	[HSMJ_KIND_HEARTBEAT] = "heartbeat",
	[HSMJ_KIND_CLEAN_STOP] = "clean-stop",
};

static const char *const cause_names[] = {
	[HSMJ_CAUSE_OVERFLOW] = "overflow",
	[HSMJ_CAUSE_UNCLEAN_STOP] = "unclean-stop",
	[HSMJ_CAUSE_DOWNTIME] = "downtime",
	[HSMJ_CAUSE_FAIL_OPEN] = "fail-open",
	[HSMJ_CAUSE_MANUAL] = "manual",
	[HSMJ_CAUSE_UNRESOLVED] = "unresolved",
};

/* Indexed by bit number. */
static const char *const reason_names[] = {
	"data", "create", "delete", "rename-from", "rename-to", "attrib",
	"xattr", "link", "still-open", "recovered", "rescan",
};

const char *hsmj_kind_name(enum hsmj_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return NULL;
	return kind_names[kind];
}

const char *hsmj_cause_name(enum hsmj_rescan_cause cause)
{
	if ((unsigned)cause >= sizeof(cause_names) / sizeof(cause_names[0]))
		return NULL;
	return cause_names[cause];
}

const char *hsmj_reason_name(enum hsmj_reason single_bit)
{
	unsigned v = (unsigned)single_bit;

	if (v == 0 || (v & (v - 1)) || v > (unsigned)HSMJ_REASON_ALL)
		return NULL;
	return reason_names[__builtin_ctz(v)];
}

/* Append "," (unless first) and s; false when it does not fit (the
 * buffer then holds what fitted, NUL-terminated). */
static bool append_item(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t need = (*len ? 1 : 0) + strlen(s);

	if (*len + need >= cap) {
		if (cap)
			snprintf(buf + *len, cap - *len, "%s%s", *len ? "," : "", s);
		return false;
	}
	snprintf(buf + *len, cap - *len, "%s%s", *len ? "," : "", s);
	*len += need;
	return true;
}

int hsmj_reasons_format(uint32_t reasons, char *buf, size_t cap)
{
	uint32_t unknown = reasons & ~(uint32_t)HSMJ_REASON_ALL;
	size_t len = 0;

	if (cap)
		buf[0] = 0;
	for (unsigned bit = 0; bit < sizeof(reason_names) / sizeof(reason_names[0]); bit++) {
		if ((reasons & (1u << bit)) && !append_item(buf, cap, &len, reason_names[bit]))
			return -ENOSPC;
	}
	if (unknown) {
		/* Bits this version does not name are shown, not dropped. */
		char hex[16];

		snprintf(hex, sizeof(hex), "0x%x", unknown);
		if (!append_item(buf, cap, &len, hex))
			return -ENOSPC;
	}
	return (int)len;
}

/* ---- stats ---- */

int hsmj_stat_changed(const struct hsmj_stat *a, const struct hsmj_stat *b)
{
	static const uint32_t bits[] = {
		HSMJ_STAT_SIZE, HSMJ_STAT_MTIME, HSMJ_STAT_CTIME, HSMJ_STAT_INO, HSMJ_STAT_GEN,
	};

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		uint32_t bit = bits[i];
		bool differ;

		if (!(a->valid & bit) && !(b->valid & bit))
			continue;
		if ((a->valid & bit) != (b->valid & bit))
			return 1; /* known on one side only: cannot prove "unchanged" */
		switch (bit) {
		case HSMJ_STAT_SIZE: differ = a->size != b->size; break;
		case HSMJ_STAT_MTIME: differ = a->mtime_ns != b->mtime_ns; break;
		case HSMJ_STAT_CTIME: differ = a->ctime_ns != b->ctime_ns; break;
		case HSMJ_STAT_INO: differ = a->ino != b->ino; break;
		default: differ = a->generation != b->generation; break;
		}
		if (differ)
			return 1;
	}
	return 0;
}
