#!/bin/bash
# Fault: the journal's device fails underneath its mounted filesystem while
# writers are busy on the tracked filesystem (guarantee 1, protocol step 7).
#
# What it emulates: a journal disk yanked out (or a dead SAN path) and later
# plugged back in with its data. `losetup -d` on a mounted loop device only
# sets autoclear, there is no device-mapper (dm-error, dm-flakey) nor block
# fault injection in this kernel, and truncating the backing file loses its
# data. fault-loopdev instead sets the loop device's lo_sizelimit to 512
# bytes (LOOP_SET_STATUS64): every later bio past sector 0 ends with EIO in
# the block layer ("attempt to access beyond end of device"), reads and
# writes alike, while the backing file keeps every block it had; restoring
# the limit brings the device back. ext4 sees write errors, aborts its jbd2
# journal and turns emergency read-only (most runs), so the device coming
# back does not make the journal writable by itself: the administrator
# repairs it (umount, which needs the tracker to have let go of the
# journal's files; e2fsck; mount) and the running tracker reopens the journal
# on its next commit. When only data writes failed (the WAL's fdatasync) the
# filesystem survives and the tracker must recover by itself once the
# device is back; the test accepts either and asserts what each implies.
#
# Asserted:
#  - 4 writers (fresh pre-existing files, each touched once, plus new files)
#    never hang and every writer stops when told to;
#  - every denied op failed with EIO and left its file unchanged; every op
#    that succeeded is covered by an intent, a change record or a rescan
#    marker (fault-work check replays the writers' reports against the files);
#  - the tracker logs the failed commits and keeps running; with the device
#    back but the filesystem aborted it keeps denying (no write passes);
#    with the filesystem alive, writes succeed again at once;
#  - after recovery the same tracker process records new writes by path
#    (not only under a marker) and stops cleanly.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
FW=$HELPERS/fault-work
[ -x "$FW" ] || fail "build first: $FW missing"
tr_setup
NW=4 PER=1500 PER2=40
mkdir "$TFS/w"
"$FW" prepare "$TFS/w" $((NW * PER + NW * 10 + NW * PER2)) || fail "prepare"
FL=$HELPERS/fault-loopdev
[ -x "$FL" ] || fail "build first: $FL missing"
size=$("$FL" "$jfs_DEV" size) || fail "size of $jfs_DEV"
t_on_exit "$FL $jfs_DEV restore" # never leave a shrunken device behind
tr_start

# writers PHASE FIRST_INDEX COUNT [run options...]: one fault-work writer each.
wpids=()
writers() {
	local phase=$1 first=$2 count=$3 w wp
	shift 3
	wpids=()
	for w in $(seq 1 $NW); do
		t_bg wp "$FW" run --id "$w" --dir "$TFS/w" --first $((first + (w - 1) * count)) \
			--count "$count" --create-every 5 --report "$T/$phase.r$w" --max-seconds 50 "$@" \
			>"$T/$phase.w$w.out"
		wpids+=("$wp")
	done
}
lines() { cat "$@" 2>/dev/null | wc -l; }
denied_in() { grep -c -e $'\topen:' -e $'\ttruncate:' "$1" 2>/dev/null; }
all_have() { # N PHASE: every writer's report has at least N lines
	local w
	for w in $(seq 1 $NW); do [ "$(lines "$T/$2.r$w")" -ge "$1" ] || return 1; done
}
all_denied() { # N: every phase-1 writer saw at least N denials
	local w
	for w in $(seq 1 $NW); do [ "$(denied_in "$T/p1.r$w")" -ge "$1" ] || return 1; done
}
wait_writers() { # every writer exits within 20 s of being told to stop
	local p
	for p in "${wpids[@]}"; do
		timeout 20 tail --pid="$p" -f /dev/null || fail "a writer hung (pid $p)"
		wait "$p" || fail "writer $p exited with $?"
	done
}

writers p1 0 $PER --pace-ms 10 --stop-file "$T/stop1"
_all_denied_in() { # PHASE: every writer of PHASE saw a denial
	local w
	for w in $(seq 1 $NW); do [ "$(denied_in "$T/$1.r$w")" -ge 1 ] || return 1; done
}
t_wait_for 20 all_have 20 p1 || fail "the writers did not get going"
tr_alive

before=$(lines "$T"/p1.r*)

fault_at=$(date +%s%N)
"$FL" "$jfs_DEV" fail || fail "fail the journal's loop device"
note "journal device $jfs_DEV failed: size $size -> $("$FL" "$jfs_DEV" size) bytes"
t_wait_for 20 all_denied 5 || { tail -n 20 "$TLOG"; fail "writers not denied within 20 s of the fault"; }
tr_alive
touch "$T/stop1"
wait_writers
cat "$T"/p1.w*.out
note "ops before the fault: $before; after: $(($(lines "$T"/p1.r*) - before))"
grep -q 'journal commit of .* intents failed' "$TLOG" || fail "the tracker did not log the failed commit"
grep -q 'denying the accesses' "$TLOG" || fail "the tracker did not log the denial"
grep -m1 'journal commit of .* intents failed' "$TLOG"

# The device comes back. If ext4 met a failed metadata/jbd2 write in the
# window it has aborted (emergency read-only): the journal stays unwritable
# and the tracker must keep denying until the filesystem is repaired. If only
# data writes failed (the WAL's fdatasync), the filesystem lives on and the
# tracker must recover by itself on its next commit. Both happen here.
"$FL" "$jfs_DEV" restore || fail "restore the journal's loop device"
[ "$("$FL" "$jfs_DEV" size)" = "$size" ] || fail "the device did not come back at full size"
aborted() { grep -q "^$jfs_DEV $T/jfs .*emergency_ro" /proc/mounts; }
if aborted; then state=aborted; else state=alive; fi
back_at=$(date +%s%N)
writers p1b $((NW * PER)) 10
wait_writers
cat "$T"/p1b.w*.out
tr_alive
if aborted; then now=aborted; else now=alive; fi
[ "$state" = "$now" ] || fail "the journal fs went from $state to $now after the device came back"
passed=$(cat "$T"/p1b.r* | grep -c $'\tok\t')
if [ "$state" = aborted ]; then
	note "the journal fs aborted (emergency read-only): with the device back the tracker keeps denying"
	[ "$passed" = 0 ] || fail "$passed writes passed while the journal fs was aborted"
	t_wait_for 1 _all_denied_in p1b || fail "a writer was never denied"
	# Repair: umount (the tracker must have let go of the journal's files),
	# e2fsck, mount. The tracker reopens the journal on its next commit.
	repair_start=$SECONDS
	t_wait_for 10 umount "$T/jfs" ||
		fail "cannot unmount the failed journal fs: the tracker still holds its files ($(ls -l /proc/"$TPID"/fd 2>/dev/null | grep -c "$T/jfs") fds)"
	e2fsck -fy "$jfs_DEV" >"$T/fsck.out" 2>&1
	rc=$?
	[ $rc -le 1 ] || { cat "$T/fsck.out"; fail "e2fsck exited $rc"; }
	mount "$jfs_DEV" "$T/jfs" || fail "mount the repaired journal fs"
	note "repaired (umount, e2fsck rc=$rc, mount) in $((SECONDS - repair_start)) s"
	recovered_at=$(date +%s%N)
else
	note "the journal fs survived (only data writes failed): the tracker recovered by itself"
	[ "$passed" = "$(lines "$T"/p1b.r*)" ] || fail "the device is back and its fs alive, yet writes are still denied"
	grep -q 'journal writable again' "$TLOG" || note "no 'journal writable again' yet (the heartbeat tells it)"
	recovered_at=$back_at
fi
tr_alive
writers p2 $((NW * PER + NW * 10)) $PER2
wait_writers
cat "$T"/p2.w*.out
tr_alive
grep -q 'rescan markers written for the namespace records lost earlier' "$TLOG" &&
	note "the tracker wrote the rescan marker it owed for namespace records lost in the fault"
# Everything that was allowed settles. A batch whose commit "failed" can still
# reach the disk (its WAL write landed, the fdatasync failed): after the
# reopen RocksDB replays it, so intents of denied accesses may sit in flight,
# unknown to the tracker, until the next start's recovery. Those are
# conservative (they claim a change that did not happen): count them.
live_in_flight() { # in-flight intents of files some op changed
	tr_feed intents | awk -F'\t' 'FILENAME != "-" { if ($3 == "ok") ok[$2] = 1; next } ($7 in ok)' \
		"$T"/p1.r* "$T"/p1b.r* "$T"/p2.r* - | wc -l
}
_no_live() { [ "$(live_in_flight)" = 0 ]; }
t_wait_for 30 _no_live || { tr_feed intents; fail "intents of allowed writes still in flight after 30 s"; }
phantoms=$(tr_in_flight_count)
cli=$("$BIN/hsm-journal" --journal "$J" in-flight --format paths 2>/dev/null | wc -l)
[ "$cli" = "$phantoms" ] || fail "hsm-journal in-flight lists $cli paths, the journal holds $phantoms intents"
note "in flight after recovery: $phantoms intents of denied accesses (their failed batch reached the disk)"
grep -q 'started after a crash' "$TLOG" && fail "the worker crashed during the fault and the supervisor restarted it"
tr_stop
grep -q 'stopped cleanly' "$TLOG" || fail "no clean stop after recovery"

"$FW" check --journal "$J" --expect-errno EIO --fault-at "$fault_at" --strict-after "$recovered_at" \
	"$T"/p1.r* "$T"/p1b.r* "$T"/p2.r* >"$T/oracle.out"
rc=$?
cat "$T/oracle.out"
if [ $rc != 0 ]; then
	grep -q 'overflow marker .* starts .* after the op ended' "$T/oracle.out" &&
		note "a marker owed for lost namespace records starts after the change it stands for (regression of 1c208c4?)"
	fail "the oracle found violations"
fi
grep -q ' denied=0 ' "$T/oracle.out" && fail "no op was denied: the fault never reached the tracker"
grep -q ' failed_before_fault=0 ' "$T/oracle.out" || fail "ops failed before the fault"
max_ms=$(sed -n 's/.* max_op_ms=\([0-9]*\) .*/\1/p' "$T/oracle.out")
[ "$max_ms" -lt 10000 ] || fail "an op took $max_ms ms: a writer was stuck"

# The next start resolves what was left in flight (recovery before READY).
if [ "$phantoms" != 0 ]; then
	tr_start
	grep -q 'running recovery' "$TLOG" || fail "intents in flight, yet the start ran no recovery"
	[ "$(tr_in_flight_count)" = 0 ] || fail "recovery at start left intents in flight"
	tr_stop
fi
exit 0
