#!/bin/bash
# An unclean epoch gets one rescan marker per tracked filesystem, bounded by
# the last heartbeat; --rescan auto walks the filesystem, reports exactly the
# entries whose ctime is at or after the bound (not those of a filesystem
# mounted inside it), closes the marker, and a second run writes nothing.
# --rescan full reports every entry; --dry-run changes nothing; a crash in
# the middle of a walk leaves the marker open and the rerun closes it.
. "$(dirname "$0")/../lib.sh"
need_root
H=$HSMJ_BUILD/tests/helpers
for p in "$BIN/hsm-recover" "$H/recover-mkintent" "$H/recover-dump"; do
	[ -x "$p" ] || fail "$p not built"
done

t_mkfs tfs ext4 256M
t_mkfs jdev ext4 256M
TFS=$T/tfs
dump() { "$H/recover-dump" --journal "$1"; }
# Everything the journal holds but its last JSN: a writer's open reserves a
# range of JSNs (journal.c), so "nothing written" is this staying the same.
state() { dump "$1" | grep -v '^last_jsn '; }
last_jsn() { dump "$1" | awk '$1 == "last_jsn" { print $2 }'; }
rescanned() { dump "$1" | awk '$1 == "feed" && $3 == "change" && $4 ~ /rescan/ { sub(/^reasons=/, "", $4); print $4, $NF }'; }

# Before the crash: a tree, and a filesystem mounted inside it.
mkdir -p "$TFS/old/deep/er" "$TFS/sub"
for i in $(seq 0 9); do echo "$i" >"$TFS/old/f$i"; done
echo deep >"$TFS/old/deep/er/f"
ln -s f0 "$TFS/old/link"
t_mkfs inner ext4 32M
mount --bind "$T/inner" "$TFS/sub" || fail "bind mount"
t_on_exit "umount -l $TFS/sub"

# The bound is the last heartbeat; the slack under it is 1 s. Wait (on the
# clock, not on an event) until everything above is older than bound - slack.
newest=$(stat -c %Z "$TFS/old" "$TFS/old/deep/er/f" "$TFS" "$TFS/sub" | sort -n | tail -1)
clock_past() { [ "$(date +%s)" -ge $((newest + 3)) ]; }
t_wait_for 10 clock_past || fail "clock did not advance"

J=$T/jdev/j
"$H/recover-mkintent" --journal "$J" --create --register "$TFS" --epoch-start --heartbeat-ns now \
	>"$T/mk.out" || fail "recover-mkintent"
bound=$(awk '$1 == "heartbeat" { print $2 }' "$T/mk.out")
note "heartbeat (the bound) at $bound"

# After the last heartbeat: what a crashed tracker may have missed.
echo changed >>"$TFS/old/f3"
chmod 600 "$TFS/old/f5"
mv "$TFS/old/f7" "$TFS/old/f7b"
mkdir "$TFS/new"; echo n >"$TFS/new/n1"
echo hidden >"$TFS/sub/inside" # another filesystem: not ours to report

# 1. Without --rescan: one marker per filesystem, left open.
"$BIN/hsm-recover" --journal "$J" >"$T/r1.out" 2>&1 || { cat "$T/r1.out"; fail "run 1"; }
cat "$T/r1.out"
grep -q "markers: 1 written, 0 resolved, 1 open" "$T/r1.out" || fail "run 1: expected one marker"
dump "$J" | grep -q "^marker [0-9]* unclean-stop $bound $TFS\$" || fail "marker not bounded by the heartbeat"
"$BIN/hsm-recover" --journal "$J" >"$T/r2.out" 2>&1 || fail "run 2"
grep -q "markers: 0 written, 0 resolved, 1 open" "$T/r2.out" || fail "run 2 wrote a duplicate marker"

# 2. --dry-run --rescan auto: says what it would do, writes nothing.
state "$J" >"$T/before"
jsn_before=$(last_jsn "$J")
"$BIN/hsm-recover" --journal "$J" --dry-run --rescan auto >"$T/dry.out" 2>&1 || { cat "$T/dry.out"; fail "dry-run"; }
grep -q "markers: 0 written, 1 resolved, 0 open" "$T/dry.out" || { cat "$T/dry.out"; fail "dry-run summary"; }
state "$J" | cmp -s - "$T/before" || fail "dry-run wrote records"
[ "$(last_jsn "$J")" = "$jsn_before" ] || fail "--dry-run moved the last JSN"

# 3. --rescan auto.
"$BIN/hsm-recover" --journal "$J" --rescan auto >"$T/r3.out" 2>&1 || { cat "$T/r3.out"; fail "run 3"; }
cat "$T/r3.out"
grep -q "markers: 0 written, 1 resolved, 0 open" "$T/r3.out" || fail "run 3: marker not resolved"
rescanned "$J" | sort >"$T/got"
cat "$T/got"
cat >"$T/want" <<WANT
data,rescan $TFS
data,rescan $TFS/new
data,rescan $TFS/new/n1
data,rescan $TFS/old
data,rescan $TFS/old/f3
data,attrib,rescan $TFS/old/f5
data,attrib,rescan $TFS/old/f7b
WANT
sort -o "$T/want" "$T/want"
diff "$T/want" "$T/got" || fail "the walk reported the wrong entries"
dump "$J" | grep -q "^feed [0-9]* rescan-done .* $TFS\$" || fail "no rescan-done record"
[ "$(dump "$J" | awk '$1 == "open_markers" { print $2 }')" = 0 ] || fail "marker still open"

# 4. Again: nothing to do, nothing written, no new marker for the same crash.
state "$J" >"$T/before"
"$BIN/hsm-recover" --journal "$J" --rescan auto >"$T/r4.out" 2>&1 || fail "run 4"
grep -q "markers: 0 written, 0 resolved, 0 open" "$T/r4.out" || { cat "$T/r4.out"; fail "run 4 did something"; }
state "$J" | cmp -s - "$T/before" || fail "run 4 wrote records"
note "rescan auto: ok"

# 5. --rescan full on a fresh crashed journal: every entry of this
# filesystem, none of the inner one.
J2=$T/jdev/j2
"$H/recover-mkintent" --journal "$J2" --create --register "$TFS" --epoch-start --heartbeat-ns now \
	>/dev/null || fail "recover-mkintent (full)"
"$BIN/hsm-recover" --journal "$J2" --rescan full >"$T/full.out" 2>&1 || { cat "$T/full.out"; fail "full"; }
# find -xdev lists the mount point itself; the walk leaves it out (it is
# the inner filesystem's root), as nftw(FTW_MOUNT) does.
want=$(find "$TFS" -xdev ! -path "$TFS/sub" | wc -l)
got=$(rescanned "$J2" | wc -l)
[ "$got" = "$want" ] || fail "--rescan full reported $got entries, find -xdev sees $want"
rescanned "$J2" | grep -q " $TFS/sub/inside\$" && fail "--rescan full crossed into another filesystem"
note "rescan full: $got entries: ok"

# 6. A crash in the middle of a walk: the marker stays open (rescan-done
# comes last); the rerun walks again and closes it. Records of the first
# walk may repeat; none is missing.
J3=$T/jdev/j3
"$H/recover-mkintent" --journal "$J3" --create --register "$TFS" --epoch-start --heartbeat-ns now \
	>/dev/null || fail "recover-mkintent (walk crash)"
mkdir "$TFS/late"
for i in $(seq 0 19); do echo "$i" >"$TFS/late/f$i"; done
HSMJ_RECOVER_BATCH=4 HSMJ_RECOVER_CRASH_AFTER_BATCHES=3 "$BIN/hsm-recover" --journal "$J3" --rescan auto \
	>/dev/null 2>&1
rc=$?
[ $rc = 137 ] || fail "walk crash point: expected SIGKILL (137), got $rc"
[ "$(dump "$J3" | awk '$1 == "open_markers" { print $2 }')" = 1 ] || fail "the marker closed before its walk completed"
first=$(rescanned "$J3" | wc -l)
[ "$first" -gt 0 ] || fail "no walk records were committed before the crash"
"$BIN/hsm-recover" --journal "$J3" --rescan auto >"$T/r6.out" 2>&1 || { cat "$T/r6.out"; fail "rerun after walk crash"; }
grep -q "markers: 0 written, 1 resolved, 0 open" "$T/r6.out" || { cat "$T/r6.out"; fail "rerun did not close the marker"; }
for i in $(seq 0 19); do
	rescanned "$J3" | grep -q " $TFS/late/f$i\$" || fail "late/f$i missing after the rerun"
done
note "walk crash: $first records before the crash, $(rescanned "$J3" | wc -l) after the rerun: ok"
echo PASS
