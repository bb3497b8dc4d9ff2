#!/bin/bash
# Fail-closed with the journal's device really full: once no intent can be
# made durable, a write to an uncovered file fails with ENOSPC or EIO within
# seconds (never hangs) and the file is unchanged; the tracker keeps running,
# and once space is freed writes succeed again and are recorded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup 256M 64M

head -c 16384 /dev/urandom >"$TFS/f"
cp "$TFS/f" "$T/f.before"
mkdir "$TFS/burn"
sync
exec 7<"$TFS/f" # opened before tracking: reading it raises no event

# Leave ~1.5 MiB: RocksDB preallocates its WAL (write_buffer_size * 1.1)
# with fallocate, so whatever is free when it starts becomes WAL headroom.
avail=$(df --output=avail -B1 "$T/jfs" | tail -n1)
fallocate -l $((avail - 1536 * 1024)) "$T/jfs/fill1" || fail "fallocate fill1"
tr_start
dd if=/dev/zero of="$T/jfs/fill2" bs=64k status=none 2>/dev/null
note "journal fs: $(df --output=avail -B1 "$T/jfs" | tail -n1) bytes left"
# Use up the WAL headroom: new files (one intent each) until one is denied.
out=$(timeout 300 "$WL" burn "$TFS/burn") || { tr_alive; fail "burning the WAL headroom: $out"; }
note "$out"
tr_alive

start=$SECONDS rc=0
err=$(timeout 10 "$WL" write "$TFS/f" 2>&1) || rc=$?
tr_alive
[ "$rc" != 124 ] || fail "the write hung with the journal full"
[ "$rc" != 0 ] || fail "the write succeeded with the journal full"
echo "$err" | grep -q -e 'errno=ENOSPC' -e 'errno=EIO' || fail "want ENOSPC or EIO: $err"
note "write failed after $((SECONDS - start)) s: $err"
[ "$(stat -c %s "$TFS/f")" = 16384 ] || fail "the size changed"
dd bs=16384 count=1 <&7 2>/dev/null | cmp -s - "$T/f.before" || fail "the content changed"
grep -q 'denying the accesses' "$TLOG" || fail "the tracker did not log the denial"

rm -f "$T/jfs/fill1" "$T/jfs/fill2"
sync
# The next batch reopens the journal and succeeds.
t_wait_for 20 "$WL" write "$TFS/f" || { tail -n 20 "$TLOG"; fail "writes still fail after space was freed"; }
cmp -s "$TFS/f" "$T/f.before" && fail "the write after recovery did not land"
tr_wait_settled 30
tr_changes | grep -q "^$TFS/f	data" || fail "the write after recovery is not in the feed"
tr_stop
