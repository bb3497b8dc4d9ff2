#!/bin/bash
# Fail-closed with the journal's device really full: once no intent can be
# made durable, a write to an uncovered file fails with ENOSPC or EIO within
# seconds (never hangs) and the file is unchanged; the tracker keeps running,
# and once space is freed writes succeed again and are recorded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup 256M 64M

for k in $(seq 1 10); do head -c 16384 /dev/urandom >"$TFS/f$k"; done
mkdir "$TFS/burn"
sync
for k in $(seq 1 10); do
	cp "$TFS/f$k" "$T/f$k.before"
	exec {fd}<"$TFS/f$k" # opened before tracking: reading it raises no event
	rfd[$k]=$fd
done

# Leave ~1.5 MiB: RocksDB preallocates its WAL (write_buffer_size * 1.1)
# with fallocate, so whatever is free when it starts becomes WAL headroom.
avail=$(df --output=avail -B1 "$T/jfs" | tail -n1)
fallocate -l $((avail - 1536 * 1024)) "$T/jfs/fill1" || fail "fallocate fill1"
tr_start
# Each round fills what is free, uses up the WAL headroom with new files
# (one intent each) until one is denied, then writes to an uncovered file.
# When RocksDB frees space on its own (it reopens after a failed write and
# drops obsolete files) the write may legitimately succeed: then it is
# recorded, and the next round tries again with another file.
k=0 denied=
while [ $k -lt 10 ] && [ -z "$denied" ]; do
	k=$((k + 1))
	dd if=/dev/zero of="$T/jfs/fill.$k" bs=64k status=none 2>/dev/null
	out=$(timeout 300 "$WL" burn "$TFS/burn" 1000000) || { tr_alive; fail "burning the WAL headroom: $out"; }
	note "round $k: $out"
	tr_alive
	start=$SECONDS rc=0
	err=$(timeout 10 "$WL" write "$TFS/f$k" 2>&1) || rc=$?
	tr_alive
	[ "$rc" != 124 ] || fail "the write hung with the journal full"
	[ "$rc" != 0 ] && denied=$err
done
[ -n "$denied" ] || fail "10 rounds and the journal never refused a write"
echo "$denied" | grep -q -e 'errno=ENOSPC' -e 'errno=EIO' || fail "want ENOSPC or EIO: $denied"
note "write failed after $((SECONDS - start)) s: $denied"
[ "$(stat -c %s "$TFS/f$k")" = 16384 ] || fail "the size changed"
dd bs=16384 count=1 <&"${rfd[$k]}" 2>/dev/null | cmp -s - "$T/f$k.before" || fail "the content changed"
grep -q 'denying the accesses' "$TLOG" || fail "the tracker did not log the denial"

rm -f "$T"/jfs/fill*
sync
# The next batch reopens the journal and succeeds.
t_wait_for 20 "$WL" write "$TFS/f$k" || { tail -n 20 "$TLOG"; fail "writes still fail after space was freed"; }
cmp -s "$TFS/f$k" "$T/f$k.before" && fail "the write after recovery did not land"
tr_wait_settled 30
tr_changes | grep -q "^$TFS/f$k	data" || fail "the write after recovery is not in the feed"
tr_stop
