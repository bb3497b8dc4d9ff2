#!/bin/bash
# The rsync recipes of docs/BACKUP.md, run as written there, over a real
# hsm-tracker feed: a full copy, then rounds of a seeded random workload
# (tests/helpers/backup-workload.sh) each followed by the incremental recipe,
# and after each round the copy must equal the tracked tree (types, contents,
# modes, mtimes, symlinks, hard-link groups) and rsync -anc --delete must find
# nothing to do. One round runs while the tracker is stopped (downtime marker:
# exit 4, the recipe rescans), one after the consumer expired (exit 3: full).
# HSMJ_SEED=N repeats a run; HSMJ_BACKUP_ROUNDS and HSMJ_BACKUP_OPS size it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/backup-lib.sh"
need_root
command -v rsync >/dev/null || skip "rsync missing"
command -v jq >/dev/null || skip "jq missing"
DOC=$(cd "$(dirname "$0")/../.." && pwd)/docs/BACKUP.md
bk_setup
bk_seed
D=$T/dst
ROUNDS=${HSMJ_BACKUP_ROUNDS:-4} OPS=${HSMJ_BACKUP_OPS:-150}
mkdir -p "$T/bin" "$D"
ln -s "$H" "$T/bin/hsm-journal"
export PATH=$T/bin:$PATH SRC=$S DST=$D CONSUMER=mirror

bk_recipe rsync-full >"$T/full.sh"
bk_recipe rsync-incremental >"$T/inc.sh"
grep -q -- '--coalesce' "$T/inc.sh" && grep -q -- '--deleted' "$T/inc.sh" && grep -q '^hsm-journal ack' "$T/inc.sh" ||
	fail "the incremental recipe lost --coalesce, --deleted or its ack"
run() { sh "$T/$1.sh" >"$T/$1.out" 2>&1 || { bk_keep_logs; cat "$T/$1.out" >&2; fail "recipe $1 failed (seed $SEED)"; }; }
acked() { "$H" consumers --json | jq -r '.[] | select(.name == "mirror") | .cursor'; }
check() {
	bk_same "$S" "$D" "$1"
	rsync -anc -H -@-1 --delete -i "$S/" "$D/" >"$T/dry" || fail "rsync -n failed"
	# rsync -i prints ".d..t...... ./" style lines for differences, nothing else
	[ ! -s "$T/dry" ] || { head "$T/dry" >&2; fail "$1: rsync -anc --delete would still change the copy (seed $SEED)"; }
}
# what the next run of the recipe will be told, for the report
peek() { "$H" changes --consumer mirror --coalesce --under "$S" --format paths0 >/dev/null 2>"$T/peek.err"; echo $?; }

note "initial tree, full copy"
bk_workload 60 0
bk_sync
run full
check "full copy"
[ -n "$(acked)" ] || fail "the full copy did not ack"

for ((r = 1; r <= ROUNDS; r++)); do
	bk_workload "$OPS" "$r"
	bk_sync
	rc=$(peek)
	[ "$rc" = 0 ] || { cat "$T/peek.err" >&2; fail "round $r: changes exited $rc without downtime"; }
	n=$("$H" changes --consumer mirror --coalesce --under "$S" --format paths0 2>/dev/null | tr -cd '\0' | wc -c)
	run inc
	check "round $r ($n entries)"
	note "round $r: $(grep -c . "$T/workload.$r.log") operations, $n net entries, copy equal"
done

note "a round while the tracker is down: exit 4, the recipe rescans"
bk_stop
bk_workload "$OPS" 100
bk_start
bk_sync
rc=$(peek)
[ "$rc" = 4 ] || { cat "$T/peek.err" >&2; fail "changes after downtime exited $rc, not 4"; }
grep -q '^rescan needed: .*(downtime)' "$T/peek.err" || { cat "$T/peek.err" >&2; fail "no downtime marker"; }
run inc
check "after downtime"

note "an expired consumer: exit 3, the recipe copies all"
bk_workload "$OPS" 200
bk_sync
bk_stop
"$H" trim --keep 0 --max-age 0 --max-records 1 >"$T/trim.out" || fail "trim"
grep -q 'consumer mirror expired' "$T/trim.out" || { cat "$T/trim.out" >&2; fail "mirror did not expire"; }
bk_start
bk_workload 40 201
bk_sync
rc=$(peek)
[ "$rc" = 3 ] || fail "changes for an expired consumer exited $rc, not 3"
run inc
check "full copy after expiry"
[ "$("$H" consumers --json | jq -r '.[] | select(.name == "mirror") | .state')" = ok ] || fail "mirror not ok after the full copy"

note "a failed run does not ack"
before=$(acked)
bk_workload 30 300
bk_sync
mv "$D" "$D.away"; echo "not a directory" >"$D"
sh "$T/inc.sh" >/dev/null 2>&1 && fail "the recipe succeeded into a file"
[ "$(acked)" = "$before" ] || fail "a failed run moved the consumer"
rm "$D"; mv "$D.away" "$D"
run inc
check "after a failed run"

bk_stop
echo "PASS: backup_rsync (seed $SEED)"
