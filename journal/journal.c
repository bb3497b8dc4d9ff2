/* SPDX-License-Identifier: MIT */
/*
 * The journal store on RocksDB. This is the only file that includes
 * rocksdb/c.h: RocksDB's error strings become negative errno here.
 *
 * Layout (docs/FORMAT.md, "Database layout"): DIR/db is a RocksDB database
 * with column families
 *   default  metadata: format, journal id, last JSN, trim floor, epoch, fs/<fsid>
 *   intents  JSN -> intent record, while in flight
 *   feed     JSN -> change, rescan and rescan-done records
 *   posts    JSN -> post records
 *   epochs   JSN -> epoch-start and clean-stop records
 *   markers  JSN of each open rescan marker -> empty
 * JSN keys are 8-byte big-endian so that byte order is numeric order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "journal.h"

enum cf_index { CF_META, CF_INTENTS, CF_FEED, CF_POSTS, CF_EPOCHS, CF_MARKERS, CF_COUNT };
static const char *const cf_names[CF_COUNT] = {
	"default", "intents", "feed", "posts", "epochs", "markers",
};

#define KEY_FORMAT "format"
#define KEY_ID "journal_id"
#define KEY_LAST_JSN "last_jsn"
#define KEY_TRIMMED "trimmed_through"
#define KEY_EPOCH "epoch"
#define KEY_FS_PREFIX "fs/"
#define KEY_WRITER_OPEN "writer_open"
#define EPOCH_VALUE_LEN 40
/* JSNs skipped when a writer opens after one that did not close cleanly:
 * more than any one batch holds. A reader can see a batch in the WAL before
 * its fsync; if that fsync never completed (error, power cut), those JSNs
 * must never be given again. */
#define JSN_SKIP_ON_OPEN (1ULL << 24)

struct hsmj {
	char *dir;
	char *dbpath;
	char *secondary_path; /* read-only handles: RocksDB's scratch dir */
	char log_dir[PATH_MAX]; /* writers: where RocksDB's diagnostic LOG goes */
	int readonly;
	int broken; /* a write failed: RocksDB refuses writes until reopened */
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_column_family_handle_t *cf[CF_COUNT];
	rocksdb_writeoptions_t *wsync;
	rocksdb_readoptions_t *ropts;
	uint8_t id[HSMJ_ID_LEN];
	uint32_t format;
	uint64_t last_jsn;
	uint64_t jsn_burned; /* highest JSN of a batch whose commit failed */
	uint64_t trimmed_through;
	uint64_t device;
	struct hsmj_epoch_state epoch;
	char err[HSMJ_ERR_MAX];
};

enum item_op { OP_RECORD, OP_RESOLVE, OP_PUT_FS };

struct batch_item {
	enum item_op op;
	enum hsmj_kind kind;
	int64_t time_ns;
	uint64_t ref_jsn; /* OP_RECORD: record's ref_jsn; OP_RESOLVE: the intent */
	uint64_t jsn;     /* assigned at commit */
	void *value;
	size_t value_len;
	char fs_key[32];
};

struct hsmj_batch {
	struct batch_item *items;
	size_t count;
	size_t cap;
};

/* ---- small helpers ---- */

int64_t hsmj_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

static void put_le64(uint8_t *out, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		out[i] = (uint8_t)v;
}

static uint64_t get_le64(const uint8_t *in)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | in[i];
	return v;
}

static void set_err(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	if (!buf || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* RocksDB reports failures as strings; map them to the errno they carry. */
static int errno_from_rocksdb(const char *msg)
{
	if (!msg)
		return -EIO;
	if (strstr(msg, "No space left"))
		return -ENOSPC;
	if (strstr(msg, "Read-only file system"))
		return -EROFS;
	if (strstr(msg, "While lock file") || strstr(msg, "lock hold by") ||
	    strstr(msg, "Resource temporarily unavailable") || strstr(msg, "No locks available"))
		return -EBUSY;
	if (strstr(msg, "Permission denied"))
		return -EACCES;
	if (strstr(msg, "Corruption"))
		return -EUCLEAN;
	if (strstr(msg, "Column family not found") || strstr(msg, "does not exist"))
		return -ENOENT;
	if (strstr(msg, "No such file or directory"))
		return -ENOENT;
	if (strstr(msg, "Invalid argument"))
		return -EINVAL;
	return -EIO;
}

/* Take RocksDB's error string: free it, store it, return its errno. */
static int take_rocksdb_error(struct hsmj *j, char *rerr, const char *what)
{
	int r = errno_from_rocksdb(rerr);
	set_err(j->err, sizeof j->err, "%s: %s", what, rerr ? rerr : "unknown error");
	rocksdb_free(rerr);
	return r;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* ---- opening and closing ---- */

static void close_db(struct hsmj *j)
{
	for (int i = 0; i < CF_COUNT; i++) {
		if (j->cf[i])
			rocksdb_column_family_handle_destroy(j->cf[i]);
		j->cf[i] = NULL;
	}
	if (j->db)
		rocksdb_close(j->db);
	j->db = NULL;
}

/* RocksDB's diagnostic LOG goes to another filesystem than the journal:
 * Debian's librocksdb keeps assertions on, and a LOG write after the
 * journal device failed (full, shut down) aborts the process, which for the
 * tracker would release every waiting writer unrecorded. */
static void set_log_dir(struct hsmj *j, rocksdb_options_t *o)
{
	static const char run_dir[] = "/run/hsm-journal";
	const char *tmp = getenv("TMPDIR");

	j->log_dir[0] = 0;
	if ((mkdir(run_dir, 0700) == 0 || errno == EEXIST) && access(run_dir, W_OK) == 0)
		snprintf(j->log_dir, sizeof j->log_dir, "%s", run_dir);
	else
		snprintf(j->log_dir, sizeof j->log_dir, "%s/hsm-journal-log", tmp && *tmp ? tmp : "/tmp");
	if ((mkdir(j->log_dir, 0700) == 0 || errno == EEXIST) && access(j->log_dir, W_OK) == 0)
		rocksdb_options_set_db_log_dir(o, j->log_dir);
	else
		j->log_dir[0] = 0;
}

/* After a clean close the LOG has nothing to tell: remove it (RocksDB names
 * it after the database path: [A-Za-z0-9._-] kept, the rest '_', "_LOG"). */
static void remove_logs(struct hsmj *j)
{
	char abs[PATH_MAX], prefix[PATH_MAX + 8];
	size_t n = 0, plen;
	struct dirent *e;
	DIR *d;

	if (!j->log_dir[0] || !realpath(j->dbpath, abs))
		return;
	for (size_t i = 0; abs[i] && n + 8 < sizeof prefix; i++) {
		char c = abs[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_')
			prefix[n++] = c;
		else if (i > 0)
			prefix[n++] = '_';
	}
	memcpy(prefix + n, "_LOG", 5);
	plen = n + 4;
	d = opendir(j->log_dir);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, plen) &&
		    (e->d_name[plen] == 0 || !strncmp(e->d_name + plen, ".old.", 5)))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static rocksdb_options_t *make_options(struct hsmj *j, int create)
{
	rocksdb_options_t *o = rocksdb_options_create();
	/* A secondary keeps its LOG in its own scratch directory. */
	if (!j->readonly)
		set_log_dir(j, o);
	rocksdb_options_set_create_if_missing(o, create);
	rocksdb_options_set_create_missing_column_families(o, create);
	/* Secondary instances need every table file reachable. */
	rocksdb_options_set_max_open_files(o, -1);
	/* After a power cut, replay the WAL up to the last intact record: every
	 * synced batch is intact, a torn unsynced tail was never acknowledged. */
	rocksdb_options_set_wal_recovery_mode(o, 2 /* kPointInTimeRecovery */);
	rocksdb_options_set_keep_log_file_num(o, 4);
	rocksdb_options_set_max_log_file_size(o, 1 << 20);
	rocksdb_options_set_info_log_level(o, 2 /* WARN */);
	rocksdb_options_set_paranoid_checks(o, 1);
	return o;
}

static int open_db(struct hsmj *j, int create)
{
	const rocksdb_options_t *cf_opts[CF_COUNT];
	char *rerr = NULL;

	if (!j->opts)
		j->opts = make_options(j, create);
	for (int i = 0; i < CF_COUNT; i++)
		cf_opts[i] = j->opts;
	if (j->readonly)
		j->db = rocksdb_open_as_secondary_column_families(
			j->opts, j->dbpath, j->secondary_path, CF_COUNT, cf_names, cf_opts,
			j->cf, &rerr);
	else
		j->db = rocksdb_open_column_families(j->opts, j->dbpath, CF_COUNT, cf_names,
						     cf_opts, j->cf, &rerr);
	if (rerr || !j->db) {
		memset(j->cf, 0, sizeof j->cf);
		j->db = NULL;
		return take_rocksdb_error(j, rerr, j->dbpath);
	}
	return 0;
}

static int meta_get(struct hsmj *j, const char *key, void *val, size_t len, int exact)
{
	char *rerr = NULL;
	size_t vlen = 0;
	char *v = rocksdb_get_cf(j->db, j->ropts, j->cf[CF_META], key, strlen(key), &vlen, &rerr);
	if (rerr)
		return take_rocksdb_error(j, rerr, key);
	if (!v)
		return -ENOENT;
	if (exact ? vlen != len : vlen > len) {
		rocksdb_free(v);
		set_err(j->err, sizeof j->err, "metadata %s: %zu bytes, expected %zu", key, vlen, len);
		return -EUCLEAN;
	}
	memcpy(val, v, vlen);
	rocksdb_free(v);
	return (int)vlen;
}

static void epoch_encode(const struct hsmj_epoch_state *e, uint8_t out[EPOCH_VALUE_LEN])
{
	put_le64(out, e->epoch_jsn);
	put_le64(out + 8, (uint64_t)e->started_ns);
	put_le64(out + 16, (uint64_t)e->last_live_ns);
	put_le64(out + 24, e->stop_jsn);
	put_le64(out + 32, (uint64_t)e->stopped_ns);
}

static void epoch_decode(const uint8_t in[EPOCH_VALUE_LEN], struct hsmj_epoch_state *e)
{
	e->epoch_jsn = get_le64(in);
	e->started_ns = (int64_t)get_le64(in + 8);
	e->last_live_ns = (int64_t)get_le64(in + 16);
	e->stop_jsn = get_le64(in + 24);
	e->stopped_ns = (int64_t)get_le64(in + 32);
}

/* (Re)read the metadata every handle caches. */
static int load_meta(struct hsmj *j)
{
	uint8_t b8[8], fmt[4], ep[EPOCH_VALUE_LEN];
	int r;

	r = meta_get(j, KEY_FORMAT, fmt, sizeof fmt, 1);
	if (r == -ENOENT) {
		set_err(j->err, sizeof j->err, "%s: not a journal (no journal metadata)", j->dir);
		return -ENOENT;
	}
	if (r < 0)
		return r;
	j->format = (uint32_t)fmt[0] | (uint32_t)fmt[1] << 8 | (uint32_t)fmt[2] << 16 |
		    (uint32_t)fmt[3] << 24;
	if (j->format > HSMJ_FORMAT_VERSION) {
		set_err(j->err, sizeof j->err,
			"%s: journal format %u is newer than this program's (%u)", j->dir,
			j->format, HSMJ_FORMAT_VERSION);
		return -EPROTO;
	}
	r = meta_get(j, KEY_ID, j->id, sizeof j->id, 1);
	if (r < 0) {
		if (r == -ENOENT)
			set_err(j->err, sizeof j->err, "%s: journal id missing", j->dir);
		return r == -ENOENT ? -EUCLEAN : r;
	}
	r = meta_get(j, KEY_LAST_JSN, b8, sizeof b8, 1);
	if (r < 0 && r != -ENOENT)
		return r;
	j->last_jsn = r < 0 ? 0 : get_be64(b8);
	r = meta_get(j, KEY_TRIMMED, b8, sizeof b8, 1);
	if (r < 0 && r != -ENOENT)
		return r;
	j->trimmed_through = r < 0 ? 0 : get_be64(b8);
	r = meta_get(j, KEY_EPOCH, ep, sizeof ep, 1);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r < 0)
		memset(&j->epoch, 0, sizeof j->epoch);
	else
		epoch_decode(ep, &j->epoch);
	return 0;
}

/* A writer starts numbering above anything a reader may have seen: if the
 * previous writer did not close cleanly (or our own commit failed), skip a
 * range. Either way, record durably that a writer is open. */
static int claim_writer(struct hsmj *j)
{
	rocksdb_writebatch_t *wb;
	uint64_t next = j->last_jsn > j->jsn_burned ? j->last_jsn : j->jsn_burned;
	uint8_t b8[8], flag = 0;
	char *rerr = NULL;
	int r = meta_get(j, KEY_WRITER_OPEN, &flag, 1, 1);

	if (r < 0 && r != -ENOENT)
		return r;
	if ((r >= 0 && flag) || j->broken || j->jsn_burned)
		next += JSN_SKIP_ON_OPEN;
	flag = 1;
	wb = rocksdb_writebatch_create();
	put_be64(b8, next);
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_LAST_JSN, strlen(KEY_LAST_JSN),
				  (const char *)b8, 8);
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_WRITER_OPEN, strlen(KEY_WRITER_OPEN),
				  (const char *)&flag, 1);
	rocksdb_write(j->db, j->wsync, wb, &rerr);
	rocksdb_writebatch_destroy(wb);
	if (rerr)
		return take_rocksdb_error(j, rerr, "reserving sequence numbers");
	j->last_jsn = next;
	return 0;
}

static int require_db(struct hsmj *j)
{
	if (j->db)
		return 0;
	set_err(j->err, sizeof j->err, "journal is not open (a previous write failed and reopening it failed)");
	return -EIO;
}

static struct hsmj *handle_new(const char *dir)
{
	struct hsmj *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->dir = strdup(dir);
	if (!j->dir || asprintf(&j->dbpath, "%s/db", dir) < 0) {
		free(j->dir);
		free(j);
		return NULL;
	}
	j->wsync = rocksdb_writeoptions_create();
	/* Every commit is a promise to the kernel's waiting writer: fsync the WAL. */
	rocksdb_writeoptions_set_sync(j->wsync, 1);
	j->ropts = rocksdb_readoptions_create();
	return j;
}

void hsmj_close(struct hsmj *j)
{
	if (!j)
		return;
	int clean = 0;
	if (j->db && !j->readonly && !j->broken) {
		/* A clean close: the next writer need not skip JSNs. */
		uint8_t flag = 0;
		char *rerr = NULL;
		rocksdb_put_cf(j->db, j->wsync, j->cf[CF_META], KEY_WRITER_OPEN,
			       strlen(KEY_WRITER_OPEN), (const char *)&flag, 1, &rerr);
		clean = !rerr;
		rocksdb_free(rerr);
	}
	close_db(j);
	if (clean)
		remove_logs(j); /* kept after a failure, for diagnosis */
	if (j->opts)
		rocksdb_options_destroy(j->opts);
	rocksdb_writeoptions_destroy(j->wsync);
	rocksdb_readoptions_destroy(j->ropts);
	if (j->secondary_path) {
		nftw(j->secondary_path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(j->secondary_path);
	}
	free(j->dbpath);
	free(j->dir);
	free(j);
}

static int dir_is_empty_enough(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		/* A fresh filesystem's mount point has lost+found. */
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "lost+found"))
			continue;
		empty = 0;
		break;
	}
	closedir(d);
	return empty;
}

int hsmj_create(const char *dir, char *err, size_t errcap)
{
	struct hsmj *j = NULL;
	struct stat st;
	char current[PATH_MAX];
	rocksdb_writebatch_t *wb = NULL;
	char *rerr = NULL;
	uint8_t fmt[4] = {HSMJ_FORMAT_VERSION, 0, 0, 0};
	uint8_t b8[8];
	int r;

	if (mkdir(dir, 0750) == 0) {
		/* The new directory must survive a crash along with what goes in it. */
		char parent[PATH_MAX];
		int pfd;
		snprintf(parent, sizeof parent, "%s/..", dir);
		pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0 || fsync(pfd) < 0) {
			r = -errno;
			set_err(err, errcap, "%s: cannot sync its parent directory: %s", dir, strerror(errno));
			if (pfd >= 0)
				close(pfd);
			return r;
		}
		close(pfd);
	} else if (errno != EEXIST) {
		r = -errno;
		set_err(err, errcap, "%s: cannot create directory: %s", dir, strerror(errno));
		return r;
	}
	snprintf(current, sizeof current, "%s/db/CURRENT", dir);
	if (stat(current, &st) == 0) {
		set_err(err, errcap, "%s: already holds a journal", dir);
		return -EEXIST;
	}
	r = dir_is_empty_enough(dir);
	if (r < 0) {
		set_err(err, errcap, "%s: %s", dir, strerror(-r));
		return r;
	}
	if (!r) {
		set_err(err, errcap, "%s: directory is not empty; a journal needs a directory of its own", dir);
		return -ENOTEMPTY;
	}
	j = handle_new(dir);
	if (!j) {
		set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (getrandom(j->id, sizeof j->id, 0) != (ssize_t)sizeof j->id) {
		r = -errno;
		set_err(err, errcap, "getrandom: %s", strerror(errno));
		goto out;
	}
	r = open_db(j, 1);
	if (r < 0) {
		set_err(err, errcap, "%s", j->err);
		goto out;
	}
	wb = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_FORMAT, strlen(KEY_FORMAT),
				  (const char *)fmt, sizeof fmt);
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_ID, strlen(KEY_ID),
				  (const char *)j->id, sizeof j->id);
	put_be64(b8, 0);
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_LAST_JSN, strlen(KEY_LAST_JSN),
				  (const char *)b8, sizeof b8);
	rocksdb_write(j->db, j->wsync, wb, &rerr);
	if (rerr) {
		r = take_rocksdb_error(j, rerr, "writing journal metadata");
		set_err(err, errcap, "%s", j->err);
	}
out:
	if (wb)
		rocksdb_writebatch_destroy(wb);
	hsmj_close(j);
	return r;
}

int hsmj_open(const char *dir, enum hsmj_open_flags flags, struct hsmj **out, char *err,
	      size_t errcap)
{
	struct hsmj *j;
	struct stat st;
	char current[PATH_MAX];
	int r;

	if (stat(dir, &st) < 0) {
		r = -errno;
		set_err(err, errcap, "%s: %s", dir, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_err(err, errcap, "%s: not a directory", dir);
		return -ENOTDIR;
	}
	snprintf(current, sizeof current, "%s/db/CURRENT", dir);
	if (stat(current, &st) < 0) {
		set_err(err, errcap, "%s: not a journal (no database; create one with 'hsm-journal init')", dir);
		return -ENOENT;
	}
	j = handle_new(dir);
	if (!j) {
		set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	j->device = st.st_dev;
	j->readonly = !!(flags & HSMJ_OPEN_READONLY);
	if (j->readonly) {
		const char *tmp = getenv("TMPDIR");
		if (asprintf(&j->secondary_path, "%s/hsmj-reader.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
			j->secondary_path = NULL;
			r = -ENOMEM;
			set_err(err, errcap, "out of memory");
			goto fail;
		}
		if (!mkdtemp(j->secondary_path)) {
			r = -errno;
			set_err(err, errcap, "%s: %s", j->secondary_path, strerror(errno));
			free(j->secondary_path);
			j->secondary_path = NULL;
			goto fail;
		}
	}
	r = open_db(j, 0);
	if (r == -EBUSY)
		set_err(j->err, sizeof j->err,
			"%s: the journal is open for writing by another process (is hsm-tracker running?)", dir);
	else if (r == -ENOENT && strstr(j->err, "olumn famil"))
		set_err(j->err, sizeof j->err, "%s: not a journal (database has no journal column families)", dir);
	if (r == 0)
		r = load_meta(j);
	if (r == 0 && !j->readonly)
		r = claim_writer(j);
	if (r < 0) {
		set_err(err, errcap, "%s", j->err);
		goto fail;
	}
	*out = j;
	return 0;
fail:
	hsmj_close(j);
	return r;
}

const char *hsmj_last_error(const struct hsmj *j)
{
	return j->err;
}

const char *hsmj_dir(const struct hsmj *j)
{
	return j->dir;
}

void hsmj_get_id(const struct hsmj *j, uint8_t id[HSMJ_ID_LEN])
{
	memcpy(id, j->id, HSMJ_ID_LEN);
}

uint64_t hsmj_last_jsn(const struct hsmj *j)
{
	return j->last_jsn;
}

uint32_t hsmj_format_version(const struct hsmj *j)
{
	return j->format;
}

uint64_t hsmj_device(const struct hsmj *j)
{
	return j->device;
}

int hsmj_catch_up(struct hsmj *j)
{
	char *rerr = NULL;
	if (!j->readonly)
		return 0;
	rocksdb_try_catch_up_with_primary(j->db, &rerr);
	if (rerr)
		return take_rocksdb_error(j, rerr, "catching up with the writer");
	return load_meta(j);
}

/* ---- batches ---- */

struct hsmj_batch *hsmj_batch_new(void)
{
	return calloc(1, sizeof(struct hsmj_batch));
}

void hsmj_batch_clear(struct hsmj_batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->items[i].value);
	b->count = 0;
}

void hsmj_batch_free(struct hsmj_batch *b)
{
	if (!b)
		return;
	hsmj_batch_clear(b);
	free(b->items);
	free(b);
}

size_t hsmj_batch_count(const struct hsmj_batch *b)
{
	return b->count;
}

static struct batch_item *batch_push(struct hsmj_batch *b)
{
	if (b->count == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		struct batch_item *n = realloc(b->items, ncap * sizeof *n);
		if (!n)
			return NULL;
		b->items = n;
		b->cap = ncap;
	}
	struct batch_item *it = &b->items[b->count];
	memset(it, 0, sizeof *it);
	return it;
}

int hsmj_batch_add(struct hsmj_batch *b, const struct hsmj_record *r)
{
	size_t len = hsmj_record_encoded_size(r);
	void *buf = malloc(len);
	long n;
	struct batch_item *it;

	if (!buf)
		return -ENOMEM;
	n = hsmj_record_encode(r, buf, len);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	it = batch_push(b);
	if (!it) {
		free(buf);
		return -ENOMEM;
	}
	it->op = OP_RECORD;
	it->kind = r->kind;
	it->time_ns = r->time_ns;
	it->ref_jsn = r->ref_jsn;
	it->value = buf;
	it->value_len = (size_t)n;
	return (int)b->count++;
}

int hsmj_batch_resolve_intent(struct hsmj_batch *b, uint64_t intent_jsn)
{
	struct batch_item *it;
	if (!intent_jsn)
		return -EINVAL;
	it = batch_push(b);
	if (!it)
		return -ENOMEM;
	it->op = OP_RESOLVE;
	it->ref_jsn = intent_jsn;
	b->count++;
	return 0;
}

uint64_t hsmj_batch_jsn(const struct hsmj_batch *b, int index)
{
	if (index < 0 || (size_t)index >= b->count)
		return 0;
	return b->items[index].jsn;
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U /* Linux 6.8 */
#endif

static uint64_t mount_id_of(const char *path)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_STATX_SYNC_AS_STAT, STATX_MNT_ID_UNIQUE, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return 0;
	return stx.stx_mnt_id;
}

static int boot_id_of(uint8_t out[16])
{
	char text[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
	size_t o = 0;

	if (fd >= 0)
		close(fd);
	if (n < 32)
		return -EIO;
	text[n] = 0;
	for (ssize_t i = 0; i < n && o < 32; i++) {
		char c = text[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (c == '-')
			continue;
		if (d < 0)
			return -EIO;
		out[o / 2] = (uint8_t)(o % 2 ? out[o / 2] | d : d << 4);
		o++;
	}
	return o == 32 ? 0 : -EIO;
}

int hsmj_fs_same_mount(const struct hsmj_fs_info *fs)
{
	static const uint8_t zero[16];
	uint8_t boot[16];
	uint64_t id;

	if (!fs->mount_id || !memcmp(fs->boot_id, zero, sizeof zero))
		return 0;
	if (boot_id_of(boot) < 0 || memcmp(boot, fs->boot_id, sizeof boot))
		return 0;
	id = mount_id_of(fs->mount);
	return id != 0 && id == fs->mount_id;
}

/* fs/<fsid>: fsid u64, first_seen i64, last_seen i64 (LE), then
 * u16 fstype length + bytes, u16 mount length + bytes, then (optional,
 * absent in entries written before it existed) mount id u64 LE + boot id. */
#define FS_TRAILER_LEN 24
int hsmj_batch_put_fs(struct hsmj_batch *b, const struct hsmj_fs_info *fs)
{
	size_t tl = strnlen(fs->fstype, sizeof fs->fstype);
	size_t ml = strnlen(fs->mount, sizeof fs->mount);
	struct batch_item *it;
	uint64_t mount_id = fs->mount_id;
	uint8_t boot[16];
	uint8_t *v;

	if (tl == sizeof fs->fstype || ml == sizeof fs->mount || ml == 0)
		return -EINVAL;
	memcpy(boot, fs->boot_id, sizeof boot);
	if (!mount_id) {
		mount_id = mount_id_of(fs->mount);
		if (boot_id_of(boot) < 0)
			memset(boot, 0, sizeof boot);
	}
	v = malloc(24 + 2 + tl + 2 + ml + FS_TRAILER_LEN);
	if (!v)
		return -ENOMEM;
	put_le64(v, fs->fsid);
	put_le64(v + 8, (uint64_t)fs->first_seen_ns);
	put_le64(v + 16, (uint64_t)fs->last_seen_ns);
	v[24] = (uint8_t)tl;
	v[25] = (uint8_t)(tl >> 8);
	memcpy(v + 26, fs->fstype, tl);
	v[26 + tl] = (uint8_t)ml;
	v[27 + tl] = (uint8_t)(ml >> 8);
	memcpy(v + 28 + tl, fs->mount, ml);
	put_le64(v + 28 + tl + ml, mount_id);
	memcpy(v + 36 + tl + ml, boot, sizeof boot);
	it = batch_push(b);
	if (!it) {
		free(v);
		return -ENOMEM;
	}
	it->op = OP_PUT_FS;
	it->value = v;
	it->value_len = 28 + tl + ml + FS_TRAILER_LEN;
	snprintf(it->fs_key, sizeof it->fs_key, KEY_FS_PREFIX "%016" PRIx64, fs->fsid);
	b->count++;
	return 0;
}

static int fs_decode(const uint8_t *v, size_t len, struct hsmj_fs_info *fs)
{
	size_t tl, ml;
	if (len < 28)
		return -EBADMSG;
	tl = v[24] | (size_t)v[25] << 8;
	if (tl >= sizeof fs->fstype || 28 + tl > len)
		return -EBADMSG;
	ml = v[26 + tl] | (size_t)v[27 + tl] << 8;
	if (ml == 0 || ml >= sizeof fs->mount ||
	    (28 + tl + ml != len && 28 + tl + ml + FS_TRAILER_LEN != len))
		return -EBADMSG;
	memset(fs, 0, sizeof *fs);
	fs->fsid = get_le64(v);
	fs->first_seen_ns = (int64_t)get_le64(v + 8);
	fs->last_seen_ns = (int64_t)get_le64(v + 16);
	memcpy(fs->fstype, v + 26, tl);
	memcpy(fs->mount, v + 28 + tl, ml);
	if (len == 28 + tl + ml + FS_TRAILER_LEN) {
		fs->mount_id = get_le64(v + 28 + tl + ml);
		memcpy(fs->boot_id, v + 36 + tl + ml, sizeof fs->boot_id);
	}
	if (memchr(fs->fstype, 0, tl) || memchr(fs->mount, 0, ml))
		return -EBADMSG;
	return 0;
}

/* After a failed write RocksDB keeps refusing writes (a background error):
 * reopen it, so the tracker recovers once the device does. */
static int reopen_if_broken(struct hsmj *j)
{
	int r;
	if (!j->broken)
		return 0;
	close_db(j);
	/* Fresh options: the old ones hold the logger of the failed instance. */
	if (j->opts)
		rocksdb_options_destroy(j->opts);
	j->opts = NULL;
	r = open_db(j, 0);
	if (r == 0)
		r = load_meta(j);
	if (r == 0)
		r = claim_writer(j);
	if (r < 0) {
		close_db(j);
		return r;
	}
	j->broken = 0;
	return 0;
}

int hsmj_commit(struct hsmj *j, struct hsmj_batch *b)
{
	rocksdb_writebatch_t *wb;
	struct hsmj_epoch_state ep = j->epoch;
	uint64_t jsn;
	uint8_t key[8], val8[8], epv[EPOCH_VALUE_LEN];
	int epoch_changed = 0;
	char *rerr = NULL;
	int r;

	if (j->readonly) {
		set_err(j->err, sizeof j->err, "journal opened read-only");
		return -EBADF;
	}
	if (b->count == 0)
		return 0;
	r = reopen_if_broken(j);
	if (r < 0)
		return r;

	jsn = j->last_jsn > j->jsn_burned ? j->last_jsn : j->jsn_burned;
	wb = rocksdb_writebatch_create();
	for (size_t i = 0; i < b->count; i++) {
		struct batch_item *it = &b->items[i];
		enum cf_index cf = CF_FEED;

		it->jsn = 0;
		if (it->op == OP_RESOLVE) {
			put_be64(key, it->ref_jsn);
			rocksdb_writebatch_delete_cf(wb, j->cf[CF_INTENTS], (const char *)key, 8);
			continue;
		}
		if (it->op == OP_PUT_FS) {
			rocksdb_writebatch_put_cf(wb, j->cf[CF_META], it->fs_key, strlen(it->fs_key),
						  it->value, it->value_len);
			continue;
		}
		if (it->kind == HSMJ_KIND_HEARTBEAT) {
			/* Heartbeats only move "last known live"; they take no JSN. */
			if (it->time_ns > ep.last_live_ns)
				ep.last_live_ns = it->time_ns;
			epoch_changed = 1;
			continue;
		}
		it->jsn = ++jsn;
		put_be64(key, it->jsn);
		switch (it->kind) {
		case HSMJ_KIND_INTENT: cf = CF_INTENTS; break;
		case HSMJ_KIND_POST: cf = CF_POSTS; break;
		case HSMJ_KIND_CHANGE: cf = CF_FEED; break;
		case HSMJ_KIND_RESCAN:
			cf = CF_FEED;
			rocksdb_writebatch_put_cf(wb, j->cf[CF_MARKERS], (const char *)key, 8, "", 0);
			break;
		case HSMJ_KIND_RESCAN_DONE: {
			uint8_t mk[8];
			cf = CF_FEED;
			put_be64(mk, it->ref_jsn);
			rocksdb_writebatch_delete_cf(wb, j->cf[CF_MARKERS], (const char *)mk, 8);
			break;
		}
		case HSMJ_KIND_EPOCH_START:
			cf = CF_EPOCHS;
			ep.epoch_jsn = it->jsn;
			ep.started_ns = ep.last_live_ns = it->time_ns;
			ep.stop_jsn = 0;
			ep.stopped_ns = 0;
			epoch_changed = 1;
			break;
		case HSMJ_KIND_CLEAN_STOP:
			cf = CF_EPOCHS;
			ep.stop_jsn = it->jsn;
			ep.stopped_ns = ep.last_live_ns = it->time_ns;
			epoch_changed = 1;
			break;
		case HSMJ_KIND_HEARTBEAT:
			break;
		}
		rocksdb_writebatch_put_cf(wb, j->cf[cf], (const char *)key, 8, it->value, it->value_len);
	}
	/* The highest JSN goes in the same atomic write as the records it
	 * numbers: after any crash, the next JSN is above every JSN ever seen. */
	put_be64(val8, jsn);
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_LAST_JSN, strlen(KEY_LAST_JSN),
				  (const char *)val8, 8);
	if (epoch_changed) {
		epoch_encode(&ep, epv);
		rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_EPOCH, strlen(KEY_EPOCH),
					  (const char *)epv, sizeof epv);
	}
	rocksdb_write(j->db, j->wsync, wb, &rerr);
	rocksdb_writebatch_destroy(wb);
	if (rerr) {
		/* The batch may be in the WAL where a reader can see it: never
		 * give its JSNs again. */
		j->broken = 1;
		if (jsn > j->jsn_burned)
			j->jsn_burned = jsn;
		for (size_t i = 0; i < b->count; i++)
			b->items[i].jsn = 0;
		return take_rocksdb_error(j, rerr, "journal commit");
	}
	j->last_jsn = jsn;
	j->epoch = ep;
	return 0;
}

/* ---- reading ---- */

static int walk_cf(struct hsmj *j, enum cf_index cf, uint64_t after, hsmj_record_cb cb, void *arg)
{
	rocksdb_iterator_t *it;
	uint8_t key[8];
	char *rerr = NULL;
	int r = 0;

	if ((r = require_db(j)) < 0)
		return r;
	it = rocksdb_create_iterator_cf(j->db, j->ropts, j->cf[cf]);
	if (after == UINT64_MAX) {
		rocksdb_iter_destroy(it);
		return 0;
	}
	put_be64(key, after + 1);
	for (rocksdb_iter_seek(it, (const char *)key, 8); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		struct hsmj_record rec;
		uint64_t jsn;

		if (klen != 8) {
			set_err(j->err, sizeof j->err, "%s: key of %zu bytes", cf_names[cf], klen);
			r = -EBADMSG;
			break;
		}
		jsn = get_be64((const uint8_t *)k);
		r = hsmj_record_decode(v, vlen, &rec);
		if (r < 0) {
			set_err(j->err, sizeof j->err, "%s key %016" PRIx64 ": record does not decode",
				cf_names[cf], jsn);
			break;
		}
		r = cb(jsn, &rec, arg);
		hsmj_record_release(&rec);
		if (r)
			break;
	}
	if (!r) {
		rocksdb_iter_get_error(it, &rerr);
		if (rerr)
			r = take_rocksdb_error(j, rerr, cf_names[cf]);
	}
	rocksdb_iter_destroy(it);
	return r;
}

int hsmj_feed_walk(struct hsmj *j, uint64_t after_jsn, hsmj_record_cb cb, void *arg)
{
	return walk_cf(j, CF_FEED, after_jsn, cb, arg);
}

int hsmj_intents_walk(struct hsmj *j, hsmj_record_cb cb, void *arg)
{
	return walk_cf(j, CF_INTENTS, 0, cb, arg);
}

int hsmj_epochs_walk(struct hsmj *j, hsmj_record_cb cb, void *arg)
{
	return walk_cf(j, CF_EPOCHS, 0, cb, arg);
}

static int get_record(struct hsmj *j, enum cf_index cf, uint64_t jsn, struct hsmj_record *out)
{
	uint8_t key[8];
	char *rerr = NULL;
	size_t vlen = 0;
	char *v;
	int r;

	if ((r = require_db(j)) < 0)
		return r;
	put_be64(key, jsn);
	v = rocksdb_get_cf(j->db, j->ropts, j->cf[cf], (const char *)key, 8, &vlen, &rerr);
	if (rerr)
		return take_rocksdb_error(j, rerr, cf_names[cf]);
	if (!v)
		return -ENOENT;
	r = hsmj_record_decode(v, vlen, out);
	rocksdb_free(v);
	if (r < 0)
		set_err(j->err, sizeof j->err, "%s key %016" PRIx64 ": record does not decode",
			cf_names[cf], jsn);
	return r;
}

int hsmj_intent_get(struct hsmj *j, uint64_t jsn, struct hsmj_record *out)
{
	return get_record(j, CF_INTENTS, jsn, out);
}

int hsmj_markers_walk(struct hsmj *j, hsmj_record_cb cb, void *arg)
{
	rocksdb_iterator_t *it;
	char *rerr = NULL;
	int r = require_db(j);

	if (r < 0)
		return r;
	it = rocksdb_create_iterator_cf(j->db, j->ropts, j->cf[CF_MARKERS]);

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const char *k = rocksdb_iter_key(it, &klen);
		struct hsmj_record rec;
		uint64_t jsn;

		if (klen != 8) {
			set_err(j->err, sizeof j->err, "markers: key of %zu bytes", klen);
			r = -EBADMSG;
			break;
		}
		jsn = get_be64((const uint8_t *)k);
		r = get_record(j, CF_FEED, jsn, &rec);
		if (r == -ENOENT) {
			set_err(j->err, sizeof j->err, "markers key %016" PRIx64 ": no such feed record", jsn);
			r = -EBADMSG;
		}
		if (r < 0)
			break;
		r = cb(jsn, &rec, arg);
		hsmj_record_release(&rec);
		if (r)
			break;
	}
	if (!r) {
		rocksdb_iter_get_error(it, &rerr);
		if (rerr)
			r = take_rocksdb_error(j, rerr, "markers");
	}
	rocksdb_iter_destroy(it);
	return r;
}

static int count_cf(struct hsmj *j, enum cf_index cf, uint64_t *out)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(j->db, j->ropts, j->cf[cf]);
	char *rerr = NULL;
	uint64_t n = 0;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it))
		n++;
	rocksdb_iter_get_error(it, &rerr);
	rocksdb_iter_destroy(it);
	if (rerr)
		return take_rocksdb_error(j, rerr, cf_names[cf]);
	*out = n;
	return 0;
}

int hsmj_counts(struct hsmj *j, struct hsmj_counts *out)
{
	struct hsmj_counts c;
	int r = require_db(j);
	if (r < 0)
		return r;
	if ((r = count_cf(j, CF_INTENTS, &c.in_flight)) < 0 ||
	    (r = count_cf(j, CF_MARKERS, &c.open_markers)) < 0 ||
	    (r = count_cf(j, CF_FEED, &c.feed_records)) < 0)
		return r;
	*out = c;
	return 0;
}

int hsmj_epoch_state(struct hsmj *j, struct hsmj_epoch_state *out)
{
	*out = j->epoch;
	return 0;
}

int hsmj_fs_walk(struct hsmj *j, hsmj_fs_cb cb, void *arg)
{
	rocksdb_iterator_t *it;
	size_t plen = strlen(KEY_FS_PREFIX);
	char *rerr = NULL;
	int r = require_db(j);

	if (r < 0)
		return r;
	it = rocksdb_create_iterator_cf(j->db, j->ropts, j->cf[CF_META]);

	for (rocksdb_iter_seek(it, KEY_FS_PREFIX, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		struct hsmj_fs_info fs;

		if (klen < plen || memcmp(k, KEY_FS_PREFIX, plen))
			break;
		if (fs_decode((const uint8_t *)v, vlen, &fs) < 0) {
			set_err(j->err, sizeof j->err, "meta key %.*s: filesystem entry does not decode",
				(int)klen, k);
			r = -EBADMSG;
			break;
		}
		r = cb(&fs, arg);
		if (r)
			break;
	}
	if (!r) {
		rocksdb_iter_get_error(it, &rerr);
		if (rerr)
			r = take_rocksdb_error(j, rerr, "filesystems");
	}
	rocksdb_iter_destroy(it);
	return r;
}

/* ---- cursors and retention ---- */

void hsmj_cursor_now(const struct hsmj *j, struct hsmj_cursor *out)
{
	memcpy(out->journal_id, j->id, HSMJ_ID_LEN);
	out->jsn = j->last_jsn;
}

int hsmj_cursor_check(const struct hsmj *j, const struct hsmj_cursor *c)
{
	if (memcmp(c->journal_id, j->id, HSMJ_ID_LEN))
		return -EXDEV;
	if (c->jsn < j->trimmed_through)
		return -ESTALE;
	if (c->jsn > j->last_jsn)
		return -ERANGE;
	return 0;
}

uint64_t hsmj_trimmed_through(const struct hsmj *j)
{
	return j->trimmed_through;
}

static int key_in_cf(struct hsmj *j, enum cf_index cf, const char *key, size_t klen, int *found)
{
	char *rerr = NULL;
	size_t vlen;
	char *v = rocksdb_get_cf(j->db, j->ropts, j->cf[cf], key, klen, &vlen, &rerr);
	if (rerr)
		return take_rocksdb_error(j, rerr, cf_names[cf]);
	*found = v != NULL;
	rocksdb_free(v);
	return 0;
}

long hsmj_trim(struct hsmj *j, uint64_t through)
{
	static const enum cf_index trimmable[] = {CF_FEED, CF_POSTS, CF_EPOCHS};
	rocksdb_writebatch_t *wb;
	uint8_t b8[8];
	char *rerr = NULL;
	long deleted = 0;
	int r = 0;

	if (j->readonly)
		return -EBADF;
	if ((r = reopen_if_broken(j)) < 0)
		return r;
	if (through > j->last_jsn)
		through = j->last_jsn;
	if (through <= j->trimmed_through)
		return 0;
	wb = rocksdb_writebatch_create();
	for (size_t c = 0; c < sizeof trimmable / sizeof trimmable[0] && !r; c++) {
		enum cf_index cf = trimmable[c];
		rocksdb_iterator_t *it = rocksdb_create_iterator_cf(j->db, j->ropts, j->cf[cf]);
		for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
			size_t klen;
			const char *k = rocksdb_iter_key(it, &klen);
			int keep = 0;
			if (klen != 8 || get_be64((const uint8_t *)k) > through)
				break;
			/* An open marker stays until a rescan closes it; the current
			 * epoch's start stays while the epoch is open. */
			if (cf == CF_FEED && (r = key_in_cf(j, CF_MARKERS, k, 8, &keep)) < 0)
				break;
			if (cf == CF_EPOCHS && get_be64((const uint8_t *)k) == j->epoch.epoch_jsn)
				keep = 1;
			if (keep)
				continue;
			rocksdb_writebatch_delete_cf(wb, j->cf[cf], k, 8);
			deleted++;
		}
		if (!r) {
			rocksdb_iter_get_error(it, &rerr);
			if (rerr)
				r = take_rocksdb_error(j, rerr, cf_names[cf]);
		}
		rocksdb_iter_destroy(it);
	}
	if (r < 0) {
		rocksdb_writebatch_destroy(wb);
		return r;
	}
	put_be64(b8, through);
	rocksdb_writebatch_put_cf(wb, j->cf[CF_META], KEY_TRIMMED, strlen(KEY_TRIMMED),
				  (const char *)b8, 8);
	/* Synced: a consumer told "expired" must never find the records again,
	 * and one not told must find them all. */
	rocksdb_write(j->db, j->wsync, wb, &rerr);
	rocksdb_writebatch_destroy(wb);
	if (rerr) {
		j->broken = 1;
		return take_rocksdb_error(j, rerr, "trim");
	}
	j->trimmed_through = through;
	return deleted;
}

/* ---- verification ---- */

static void key_hex(const char *k, size_t klen, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < klen && o + 3 <= cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", (unsigned char)k[i]);
	if (cap)
		out[o < cap ? o : cap - 1] = 0;
}

int hsmj_verify(struct hsmj *j, hsmj_corrupt_cb cb, void *arg, struct hsmj_verify_stats *out)
{
	struct hsmj_verify_stats st = {0, 0};
	char *rerr = NULL;
	int r = require_db(j);

	if (r < 0)
		return r;
	for (int cf = 0; cf < CF_COUNT && !r; cf++) {
		rocksdb_iterator_t *it = rocksdb_create_iterator_cf(j->db, j->ropts, j->cf[cf]);
		for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
			size_t klen, vlen;
			const char *k = rocksdb_iter_key(it, &klen);
			const char *v = rocksdb_iter_value(it, &vlen);
			const char *why = NULL;
			char hex[2 * 64 + 1];
			struct hsmj_record rec;

			st.records++;
			if (cf == CF_META) {
				struct hsmj_fs_info fs;
				if (klen > 3 && !memcmp(k, KEY_FS_PREFIX, 3) &&
				    fs_decode((const uint8_t *)v, vlen, &fs) < 0)
					why = "filesystem entry does not decode";
			} else if (klen != 8) {
				why = "key is not a JSN";
			} else if (get_be64((const uint8_t *)k) > j->last_jsn) {
				why = "JSN above the journal's last JSN";
			} else if (cf == CF_MARKERS) {
				int found = 0;
				if ((r = key_in_cf(j, CF_FEED, k, 8, &found)) < 0)
					break;
				if (!found)
					why = "open marker without its feed record";
			} else if (hsmj_record_decode(v, vlen, &rec) < 0) {
				why = "record does not decode";
			} else {
				enum hsmj_kind kind = rec.kind;
				hsmj_record_release(&rec);
				if ((cf == CF_INTENTS && kind != HSMJ_KIND_INTENT) ||
				    (cf == CF_POSTS && kind != HSMJ_KIND_POST) ||
				    (cf == CF_FEED && kind != HSMJ_KIND_CHANGE && kind != HSMJ_KIND_RESCAN &&
				     kind != HSMJ_KIND_RESCAN_DONE) ||
				    (cf == CF_EPOCHS && kind != HSMJ_KIND_EPOCH_START &&
				     kind != HSMJ_KIND_CLEAN_STOP))
					why = "record of the wrong kind for its column family";
			}
			if (why) {
				st.corrupt++;
				key_hex(k, klen < 64 ? klen : 64, hex, sizeof hex);
				if (cb)
					cb(cf_names[cf], hex, why, arg);
			}
		}
		if (!r) {
			rocksdb_iter_get_error(it, &rerr);
			if (rerr)
				r = take_rocksdb_error(j, rerr, cf_names[cf]);
		}
		rocksdb_iter_destroy(it);
	}
	if (r < 0)
		return r;
	if (out)
		*out = st;
	return st.corrupt ? -EBADMSG : 0;
}
