#!/bin/bash
# hsm-recover replays in-flight intents against a real ext4 TFS:
# changed and deleted files get "recovered" change records, untouched ones
# only a post record; a second run and --dry-run write nothing; an
# unmounted filesystem's intents are recorded as unverifiable; and SIGKILL
# at commit boundaries (crash points) and at a random moment, followed by
# reruns, converges with every changed file exactly once in the feed; a full
# journal device makes it fail without losing anything, and it converges
# once there is room.
. "$(dirname "$0")/../lib.sh"
need_root
H=$HSMJ_BUILD/tests/helpers
for p in "$BIN/hsm-recover" "$H/recover-mkintent" "$H/recover-dump"; do
	[ -x "$p" ] || fail "$p not built"
done
seed=${HSMJ_TEST_SEED:-$(date +%s)}
note "seed $seed (HSMJ_TEST_SEED=$seed to repeat)"
RANDOM=$seed

t_mkfs tfs ext4 256M
t_mkfs jdev ext4 256M
TFS=$T/tfs

dump() { "$H/recover-dump" --journal "$1"; }
# Everything the journal holds but its last JSN: a writer's open reserves a
# range of JSNs (journal.c), so "nothing written" is this staying the same.
state() { dump "$1" | grep -v '^last_jsn '; }
last_jsn() { dump "$1" | awk '$1 == "last_jsn" { print $2 }'; }
in_flight() { dump "$1" | awk '$1 == "in_flight" { print $2 }'; }
# feed lines of "change" records with reason recovered for exactly this path
recovered_count() { dump "$1" | awk -v p="$2" '$1 == "feed" && $3 == "change" && $4 ~ /recovered/ && $NF == p' | wc -l; }

# ---- 1. the basic replay ----
J=$T/jdev/j1
mkdir -p "$TFS/a"
for i in $(seq 0 9); do echo "keep $i" >"$TFS/a/keep$i"; done
for i in 0 1 2 3; do echo "mod $i" >"$TFS/a/mod$i"; done
for i in 0 1 2; do echo "del $i" >"$TFS/a/del$i"; done
head -c 8192 /dev/urandom >"$TFS/a/same_size"
echo "moved" >"$TFS/a/moved"
files=("$TFS"/a/*)
"$H/recover-mkintent" --journal "$J" --create --register "$TFS" "${files[@]}" >"$T/mk.out" ||
	fail "recover-mkintent"
[ "$(in_flight "$J")" = ${#files[@]} ] || fail "expected ${#files[@]} intents in flight"

# What the crashed tracker's writers did.
for i in 0 1 2 3; do echo more >>"$TFS/a/mod$i"; done
rm "$TFS/a/del0" "$TFS/a/del1" "$TFS/a/del2"
# same size, new bytes: only the mtime/ctime can tell
printf 'XXXX' | dd of="$TFS/a/same_size" conv=notrunc status=none
mv "$TFS/a/moved" "$TFS/a/moved-now"

state "$J" >"$T/before"
jsn_before=$(last_jsn "$J")
"$BIN/hsm-recover" --journal "$J" --dry-run -v >"$T/dry.out" 2>&1 || { cat "$T/dry.out"; fail "dry-run exit $?"; }
grep -q "would have recovered ${#files[@]} intents" "$T/dry.out" || { cat "$T/dry.out"; fail "dry-run summary"; }
state "$J" | cmp -s - "$T/before" || fail "--dry-run changed the journal"
[ "$(last_jsn "$J")" = "$jsn_before" ] || fail "--dry-run moved the last JSN"
[ "$(in_flight "$J")" = ${#files[@]} ] || fail "--dry-run resolved intents"

"$BIN/hsm-recover" --journal "$J" -v >"$T/run1.out" 2>&1 || { cat "$T/run1.out"; fail "hsm-recover exit"; }
cat "$T/run1.out"
grep -q "recovered ${#files[@]} intents: 6 changed, 10 unchanged, 3 gone, 0 unverifiable" "$T/run1.out" ||
	fail "unexpected summary"
[ "$(in_flight "$J")" = 0 ] || fail "intents left in flight"
for i in 0 1 2 3; do [ "$(recovered_count "$J" "$TFS/a/mod$i")" = 1 ] || fail "mod$i not in the feed once"; done
for i in 0 1 2; do
	dump "$J" | grep -q "^feed [0-9]* change reasons=delete,recovered .* $TFS/a/del$i\$" ||
		fail "del$i has no delete,recovered record"
done
[ "$(recovered_count "$J" "$TFS/a/same_size")" = 1 ] || fail "same-size rewrite not detected"
[ "$(recovered_count "$J" "$TFS/a/moved-now")" = 1 ] || fail "renamed file not reported at its new path"
for i in $(seq 0 9); do [ "$(recovered_count "$J" "$TFS/a/keep$i")" = 0 ] || fail "untouched keep$i reported"; done

state "$J" >"$T/before"
"$BIN/hsm-recover" --journal "$J" >"$T/run2.out" 2>&1 || { cat "$T/run2.out"; fail "second run exit"; }
grep -q "recovered 0 intents" "$T/run2.out" || fail "second run replayed something"
state "$J" | cmp -s - "$T/before" || fail "second run wrote records"
note "basic replay: ok"

# ---- 2. a filesystem that is not mounted ----
t_mkfs gone ext4 64M
J=$T/jdev/j2
echo x >"$T/gone/f1"; echo y >"$T/gone/f2"
"$H/recover-mkintent" --journal "$J" --create --register "$T/gone" "$T/gone/f1" "$T/gone/f2" >/dev/null ||
	fail "recover-mkintent (gone)"
umount "$T/gone" || fail "umount"
"$BIN/hsm-recover" --journal "$J" >"$T/gone.out" 2>&1; rc=$?
cat "$T/gone.out"
[ $rc = 0 ] || fail "unmounted fs: exit $rc"
grep -q "recovered 2 intents: 0 changed, 0 unchanged, 0 gone, 2 unverifiable; markers: 1 written, 0 resolved, 1 open" \
	"$T/gone.out" || fail "unmounted fs: summary"
[ "$(recovered_count "$J" "$T/gone/f1")" = 1 ] || fail "unmounted fs: f1 not recorded"
dump "$J" | grep -q "^marker [0-9]* unresolved " || fail "unmounted fs: no unresolved marker"
state "$J" >"$T/before"
"$BIN/hsm-recover" --journal "$J" >/dev/null 2>&1 || fail "unmounted fs: second run"
state "$J" | cmp -s - "$T/before" || fail "unmounted fs: second run wrote records"
note "unmounted filesystem: ok"

# ---- 3. crashes during recovery converge ----
# N files; every 3rd modified, every 7th deleted (deletion wins).
N=${HSMJ_RECOVER_TEST_FILES:-1500}
mkdir -p "$TFS/c"
for ((i = 0; i < N; i++)); do echo "$i" >"$TFS/c/f$i"; done
J=$T/jdev/j3
ls -d "$TFS"/c/f* >"$T/list"
"$H/recover-mkintent" --journal "$J" --create --register "$TFS" --batch 500 --from "$T/list" >/dev/null ||
	fail "recover-mkintent (crash)"
changed=()
for ((i = 0; i < N; i++)); do
	if ((i % 7 == 0)); then rm "$TFS/c/f$i"; changed+=("$TFS/c/f$i")
	elif ((i % 3 == 0)); then echo more >>"$TFS/c/f$i"; changed+=("$TFS/c/f$i"); fi
done

# Crash points: SIGKILL right after commit k, at seeded k, three times.
crashes=0
for round in 1 2 3; do
	k=$((RANDOM % 5 + 1))
	left=$(in_flight "$J")
	HSMJ_RECOVER_BATCH=50 HSMJ_RECOVER_CRASH_AFTER_BATCHES=$k "$BIN/hsm-recover" --journal "$J" >/dev/null 2>&1
	rc=$?
	[ $rc = 137 ] || fail "crash point $k: expected SIGKILL (137), got $rc"
	now=$(in_flight "$J")
	[ "$now" = $((left - 50 * k)) ] || fail "after crash at commit $k: $now in flight, expected $((left - 50 * k))"
	crashes=$((crashes + 1))
done
# And one SIGKILL from outside, between commits we do not choose: slow
# commits, killed once a seeded number of them is durable.
left=$(in_flight "$J")
want=$((left - 20 * (1 + RANDOM % 3)))
HSMJ_RECOVER_BATCH=20 HSMJ_RECOVER_TEST_SLOW_MS=300 "$BIN/hsm-recover" --journal "$J" >/dev/null 2>&1 &
pid=$!
_test_pids+=("$pid")
progressed() { [ "$(in_flight "$J")" -le "$want" ]; }
t_wait_for 60 progressed || fail "no progress before the outside SIGKILL"
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ "$(in_flight "$J")" -gt 0 ] || fail "the outside SIGKILL came after the run had finished"
crashes=$((crashes + 1))
note "after $crashes crashes: $(in_flight "$J") of $N intents still in flight"

"$BIN/hsm-recover" --journal "$J" >"$T/final.out" 2>&1 || { cat "$T/final.out"; fail "final run"; }
cat "$T/final.out"
[ "$(in_flight "$J")" = 0 ] || fail "intents left after the final run"
dump "$J" | awk '$1 == "feed" && $3 == "change" && $4 ~ /recovered/ { print $NF }' | sort >"$T/fed"
printf '%s\n' "${changed[@]}" | sort >"$T/want"
dups=$(uniq -d "$T/fed" | wc -l)
[ "$dups" = 0 ] || fail "$dups files appear more than once: $(uniq -d "$T/fed" | head -3)"
if ! diff -q "$T/want" "$T/fed" >/dev/null; then
	diff "$T/want" "$T/fed" | head -10
	fail "the feed does not hold exactly the changed files (seed $seed)"
fi
note "crash convergence: $crashes crashes, ${#changed[@]} changed files, each exactly once"
# ---- 4. the journal's device is full ----
# hsm-recover fails with a clean error (exit 1, not a RocksDB abort), loses
# nothing, and converges once there is room again.
t_mkfs jsmall ext4 64M
J=$T/jsmall/j
mkdir -p "$TFS/full"
for ((i = 0; i < 500; i++)); do echo "$i" >"$TFS/full/f$i"; done
ls -d "$TFS"/full/f* >"$T/list4"
"$H/recover-mkintent" --journal "$J" --create --register "$TFS" --from "$T/list4" >/dev/null ||
	fail "recover-mkintent (full)"
for ((i = 0; i < 500; i += 2)); do echo more >>"$TFS/full/f$i"; done
read -r avail bsize < <(stat -f -c '%a %S' "$T/jsmall")
fallocate -l $(((avail - 8) * bsize)) "$T/jsmall/filler" || fail "fallocate"
"$BIN/hsm-recover" --journal "$J" >"$T/full.out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$T/full.out"; fail "hsm-recover on a full journal device: exit $rc, expected 1"; }
note "full journal device: exit $rc, $(in_flight "$J") of 500 intents still in flight"
rm "$T/jsmall/filler"
"$BIN/hsm-recover" --journal "$J" >"$T/full2.out" 2>&1 || { cat "$T/full2.out"; fail "rerun after freeing space"; }
[ "$(in_flight "$J")" = 0 ] || fail "intents left after freeing space"
dump "$J" | awk '$1 == "feed" && $3 == "change" && $4 ~ /recovered/ { print $NF }' | sort >"$T/fed4"
for ((i = 0; i < 500; i += 2)); do echo "$TFS/full/f$i"; done | sort >"$T/want4"
diff -q "$T/want4" "$T/fed4" >/dev/null || fail "after a full device: the feed does not hold exactly the changed files"
note "full journal device: converged"
echo "PASS"
