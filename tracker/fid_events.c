/* SPDX-License-Identifier: MIT */
#include "fid_events.h"

#include <errno.h>
#include <string.h>
#include <sys/fanotify.h>

#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#endif
#ifndef FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

#define META_LEN 24u      /* struct fanotify_event_metadata */
#define INFO_HDR_LEN 4u   /* struct fanotify_event_info_header */
#define FSID_LEN 8u       /* __kernel_fsid_t */
#define FH_HDR_LEN 8u     /* struct file_handle: handle_bytes, handle_type */
#define FID_FIXED (INFO_HDR_LEN + FSID_LEN + FH_HDR_LEN)
#define REC_ALIGN 4u      /* FANOTIFY_EVENT_ALIGN */

void fid_iter_init(struct fid_iter *it, const void *buf, size_t len)
{
	it->buf = buf;
	it->len = buf ? len : 0;
	it->off = 0;
	it->error = 0;
}

uint64_t fid_fsid_from_words(int32_t val0, int32_t val1)
{
	int32_t words[2] = { val0, val1 };
	uint64_t fsid;

	memcpy(&fsid, words, sizeof(fsid));
	return fsid;
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t get_u16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Parse one FID-family record of rec_len bytes at p into *o. */
static int parse_fid_record(const unsigned char *p, uint32_t rec_len, uint8_t type,
			    int has_name, struct fid_object *o)
{
	uint32_t handle_len, name_off;
	const char *name, *nul;

	if (rec_len < FID_FIXED)
		return -EBADMSG;
	handle_len = get_u32(p + INFO_HDR_LEN + FSID_LEN);
	if (handle_len > FID_HANDLE_MAX || handle_len > rec_len - FID_FIXED)
		return -EBADMSG;
	name_off = FID_FIXED + handle_len;

	o->info_type = type;
	memcpy(&o->fsid, p + INFO_HDR_LEN, sizeof(o->fsid));
	memcpy(&o->handle_type, p + INFO_HDR_LEN + FSID_LEN + 4, sizeof(o->handle_type));
	o->handle_len = handle_len;
	o->handle = p + FID_FIXED;
	o->name = NULL;
	if (!has_name)
		return 0;

	/* The name runs to a NUL inside the record; the rest is padding. */
	name = (const char *)p + name_off;
	if (name_off >= rec_len)
		return -EBADMSG;
	nul = memchr(name, '\0', rec_len - name_off);
	if (!nul || nul == name || memchr(name, '/', (size_t)(nul - name)))
		return -EBADMSG;
	o->name = name;
	return 0;
}

static int parse_infos(const unsigned char *ev, uint32_t meta_len, uint32_t event_len,
		       struct fid_event *out)
{
	uint32_t pos = meta_len;

	while (pos < event_len) {
		const unsigned char *p = ev + pos;
		struct fid_object *slot = NULL;
		uint32_t rec_len;
		uint8_t type;
		int has_name = 0, r;

		if (event_len - pos < INFO_HDR_LEN)
			return -EBADMSG;
		type = p[0];
		rec_len = get_u16(p + 2);
		if (rec_len < INFO_HDR_LEN || rec_len > event_len - pos || rec_len % REC_ALIGN)
			return -EBADMSG;

		switch (type) {
		case FAN_EVENT_INFO_TYPE_FID:
			slot = &out->obj;
			break;
		case FAN_EVENT_INFO_TYPE_DFID:
			slot = &out->dir;
			break;
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
			slot = &out->dir;
			has_name = 1;
			break;
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
			slot = &out->old_dir;
			has_name = 1;
			break;
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			slot = &out->new_dir;
			has_name = 1;
			break;
		default:
			out->unknown_infos++;
			break;
		}
		if (slot) {
			if (slot->info_type)
				return -EBADMSG; /* DFID and DFID_NAME, or one twice */
			r = parse_fid_record(p, rec_len, type, has_name, slot);
			if (r < 0)
				return r;
		}
		pos += rec_len;
	}
	return 0;
}

int fid_iter_next(struct fid_iter *it, struct fid_event *ev)
{
	const unsigned char *p;
	struct fid_event out;
	uint32_t event_len, meta_len;
	size_t left;
	int r;

	if (it->error)
		return it->error;
	left = it->len - it->off;
	if (left == 0)
		return 0;
	if (left < META_LEN)
		goto bad;
	p = it->buf + it->off;

	memset(&out, 0, sizeof(out));
	{
		struct fanotify_event_metadata m;

		memcpy(&m, p, sizeof(m));
		event_len = m.event_len;
		meta_len = m.metadata_len;
		if (m.vers != FANOTIFY_METADATA_VERSION)
			goto bad;
		out.mask = m.mask;
		out.fd = m.fd;
		out.pid = m.pid;
	}
	if (meta_len < META_LEN || meta_len % REC_ALIGN || event_len < meta_len ||
	    event_len % REC_ALIGN || event_len > left)
		goto bad;
	out.event_len = event_len;

	r = parse_infos(p, meta_len, event_len, &out);
	if (r < 0)
		goto bad;

	it->off += event_len;
	*ev = out;
	return 1;
bad:
	it->error = -EBADMSG;
	return it->error;
}
