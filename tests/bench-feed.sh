#!/bin/bash
# Feed benchmark (issue 5): how long a backup takes to learn what changed,
# from the change feed versus from a full stat walk of the tree.
#
# On a loop-mounted ext4 (mkfs -N sized for the tree) it builds a tree of
# HSMJ_BENCH_FEED_FILES small files (100 bytes, 1000 per directory) BEFORE the
# tracker runs (creating 1M files tracked is a benchmark of its own:
# tests/bench-tracker.sh), starts hsm-tracker with its journal on a second
# loop-mounted ext4, takes the cursor once it is ready (the downtime marker
# for the untracked build is before that cursor), appends a line to
# HSMJ_BENCH_FEED_CHANGES files picked with a printed seed, waits until nothing
# is in flight, then times side by side, each HSMJ_BENCH_FEED_REPS times (median):
#   feed      hsm-journal changes --since CURSOR --format paths0
#   feed -c   the same with --coalesce
#   feed 0    the same from the cursor after the changes: no record to
#             print, so this is the fixed cost (process start, RocksDB open)
#   find      find TREE -newer REF
#   walker    hsmj-bench-tree walk TREE REF (getdents64 + fstatat in C)
#   walker -j the same with one thread per CPU (at least 2) sharing a queue
#             of directories: the best a scan can do here
# on a warm cache and on a cold one (sync; echo 3 > drop_caches before each
# cold run: this drops the whole machine's caches for a moment).
# Every run's path set must equal the set of changed files: a benchmark
# that measures a wrong answer is useless. No timing thresholds.
#
#   tests/bench-feed.sh [BUILD]        (default BUILD: build)
# Environment (own names: tests/bench-tracker.sh reads HSMJ_BENCH_FILES):
# HSMJ_BENCH_FEED_FILES (default 1000000), HSMJ_BENCH_FEED_CHANGES (default
# 1000), HSMJ_BENCH_FEED_REPS (default 3), HSMJ_BENCH_FEED_SEED (default:
# random, printed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${1:-}" ]; then HSMJ_BUILD=$(cd "$1" && pwd); export HSMJ_BUILD; fi
. "$here/lib.sh"
. "$here/helpers/tracker-lib.sh"
need_root

FILES=${HSMJ_BENCH_FEED_FILES:-1000000}
CHANGES=${HSMJ_BENCH_FEED_CHANGES:-1000}
REPS=${HSMJ_BENCH_FEED_REPS:-3}
SEED=${HSMJ_BENCH_FEED_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
PERDIR=1000
WALK_THREADS=$(nproc)
((WALK_THREADS >= 2)) || WALK_THREADS=2
TREEBIN=$BIN/hsmj-bench-tree
HSMJ=$BIN/hsm-journal
for b in "$TREEBIN" "$HSMJ" "$BIN/hsm-tracker"; do
	[ -x "$b" ] || fail "build first (make): $b missing"
done
[[ $FILES =~ ^[0-9]+$ && $CHANGES =~ ^[0-9]+$ && $REPS =~ ^[0-9]+$ ]] ||
	fail "HSMJ_BENCH_FEED_FILES, _CHANGES and _REPS must be numbers"
((FILES >= 1 && CHANGES >= 1 && CHANGES <= FILES && REPS >= 1)) ||
	fail "need 1 <= HSMJ_BENCH_FEED_CHANGES <= HSMJ_BENCH_FEED_FILES and HSMJ_BENCH_FEED_REPS >= 1"
[ -w /proc/sys/vm/drop_caches ] || skip "cannot drop caches (/proc/sys/vm/drop_caches)"

START=$EPOCHREALTIME
progress() { printf '# [%5.1fs] %s\n' "$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "$*"; }

# The TFS: one 4 KiB block per file plus a quarter for inode tables,
# directories and ext4's reserve; inodes asked for explicitly (-N), since
# the default ratio (one per 16 KiB) would run out long before the blocks.
INODES=$((FILES + FILES / PERDIR + 1000 + FILES / 20))
SIZE_MB=$((FILES * 5 / 1024 + 512))
mkfs_tfs() {
	local img=$T/ftfs.img dev
	truncate -s "${SIZE_MB}M" "$img" || fail "truncate $img"
	mkfs.ext4 -q -F -N "$INODES" -E lazy_itable_init=0,lazy_journal_init=0 "$img" \
		>/dev/null 2>&1 || fail "mkfs.ext4 -N $INODES $img"
	dev=$(losetup --find --show "$img") || fail "losetup $img"
	t_on_exit "losetup -d $dev"
	mkdir -p "$T/ftfs"
	mount "$dev" "$T/ftfs" || fail "mount $dev $T/ftfs"
	t_on_exit "umount -l $T/ftfs"
}

note "feed vs stat walk: $FILES files ($PERDIR per directory), $CHANGES changed, seed $SEED, $REPS runs each, $(uname -r)"
mkfs_tfs
t_mkfs fjfs ext4 1G
TFS=$T/ftfs
J=$T/fjfs/journal
TLOG=$T/tracker.log
TREE=$TFS/tree
REF=$TFS/bench.ref
note "TFS: ext4 ${SIZE_MB} MiB image, mkfs.ext4 -N $INODES ($(df --output=itotal "$TFS" | tail -n1 | tr -d ' ') inodes made); journal: ext4 1 GiB on a second loop device"
mkdir "$TREE" || fail "mkdir $TREE"

progress "building $FILES files, untracked"
"$TREEBIN" build "$TREE" "$FILES" "$PERDIR" 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "building the tree failed"
sync
# REF is made after the whole tree (and its sync), before any change: every
# changed file's mtime is later than REF's, every unchanged one's is not.
touch "$REF" || fail "touch $REF"
progress "tree built and synced: $(df --output=iused "$TFS" | tail -n1 | tr -d ' ') inodes, $(df -h --output=used "$TFS" | tail -n1 | tr -d ' ') used"

progress "starting hsm-tracker"
tr_start
# The cursor after ready: the feed before it holds the downtime marker for
# the untracked build; a backup would have taken its full copy there.
"$HSMJ" --journal "$J" changes --format paths0 >/dev/null 2>"$T/cursor0"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 4 ] || { cat "$T/cursor0" >&2; fail "hsm-journal changes (cursor) exited $rc"; }
CURSOR=$(sed -n 's/^cursor: //p' "$T/cursor0" | tail -n1)
[ -n "$CURSOR" ] || { cat "$T/cursor0" >&2; fail "no cursor printed by hsm-journal changes"; }
progress "tracker ready; cursor $CURSOR"

progress "changing $CHANGES files (append a line each, seed $SEED)"
"$TREEBIN" change "$TREE" "$FILES" "$PERDIR" "$CHANGES" "$SEED" >"$T/changed" 2>"$T/change.err" ||
	{ cat "$T/change.err" >&2; fail "changing files failed"; }
sed 's/^/# /' "$T/change.err"
sort -u "$T/changed" >"$T/expected"
[ "$(wc -l <"$T/expected")" = "$CHANGES" ] || fail "changed $(wc -l <"$T/expected") distinct files, not $CHANGES"

in_flight() {
	"$HSMJ" --journal "$J" status --json 2>/dev/null | jq '.in_flight' 2>/dev/null
}
settled() { [ "$(in_flight)" = 0 ]; }
progress "waiting until nothing is in flight"
t_wait_for 120 settled || fail "still in flight after 120 s: $(in_flight)"
tr_alive
progress "settled"
"$HSMJ" --journal "$J" changes --since "$CURSOR" --format paths0 >/dev/null 2>"$T/cursor1" ||
	{ cat "$T/cursor1" >&2; fail "hsm-journal changes --since $CURSOR failed"; }
END_CURSOR=$(sed -n 's/^cursor: //p' "$T/cursor1" | tail -n1)
[ -n "$END_CURSOR" ] || { cat "$T/cursor1" >&2; fail "no cursor printed after the changes"; }
: >"$T/none"

# ---- timing ----
# run_method NAME: the method's paths, one a line, on stdout.
run_method() {
	case $1 in
	feed) "$HSMJ" --journal "$J" changes --since "$CURSOR" --format paths0 2>"$T/err" | tr '\0' '\n' ;;
	feed-empty) "$HSMJ" --journal "$J" changes --since "$END_CURSOR" --format paths0 2>"$T/err" | tr '\0' '\n' ;;
	feed-coalesce) "$HSMJ" --journal "$J" changes --since "$CURSOR" --format paths0 --coalesce 2>"$T/err" | tr '\0' '\n' ;;
	find) find "$TREE" -newer "$REF" 2>"$T/err" ;;
	walker) "$TREEBIN" walk "$TREE" "$REF" 2>"$T/err" ;;
	walker-par) "$TREEBIN" walk "$TREE" "$REF" "$WALK_THREADS" 2>"$T/err" ;;
	esac
	local rc=("${PIPESTATUS[@]}")
	[ "${rc[0]}" = 0 ] || { cat "$T/err" >&2; fail "$1 exited ${rc[0]}"; }
}
# run_once NAME CACHE: one timed run; its seconds in $secs, its output in
# $T/out.
run_once() {
	local t0 t1
	if [ "$2" = cold ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches || fail "drop_caches"
	fi
	t0=$EPOCHREALTIME
	run_method "$1" >"$T/out"
	t1=$EPOCHREALTIME
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}
# check NAME: the run's path set equals the changed set (the empty set
# for feed-empty); prints its size (and the number of lines printed when
# some path came more than once).
check() {
	local lines distinct want=$T/expected
	[ "$1" = feed-empty ] && want=$T/none
	sort -u "$T/out" >"$T/out.sorted"
	if ! cmp -s "$T/out.sorted" "$want"; then
		note "$1: paths differ from the expected set (< missing, > extra):"
		diff "$want" "$T/out.sorted" | grep '^[<>]' | head -n 10 >&2
		fail "$1 found $(wc -l <"$T/out.sorted") paths, expected $(wc -l <"$want")"
	fi
	lines=$(wc -l <"$T/out") distinct=$(wc -l <"$T/out.sorted")
	if [ "$lines" = "$distinct" ]; then echo "$distinct"; else echo "$distinct($lines)"; fi
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A med found
methods=(feed feed-coalesce feed-empty find walker walker-par)
for cache in warm cold; do
	for m in "${methods[@]}"; do
		if [ "$cache" = warm ]; then
			run_method "$m" >"$T/out" # warm the cache, untimed
		fi
		times=()
		for ((r = 0; r < REPS; r++)); do
			run_once "$m" "$cache"
			times+=("$secs")
			found[$m.$cache]=$(check "$m") || exit 1
		done
		med[$m.$cache]=$(printf '%s\n' "${times[@]}" | median)
		progress "$m, $cache cache: ${times[*]} s (median ${med[$m.$cache]}), ${found[$m.$cache]} paths"
	done
done
tr_alive
progress "stopping hsm-tracker"
tr_stop

ratio() { awk -v s="$1" -v f="$2" 'BEGIN { if (f > 0) printf "%.1f", s / f; else print "-" }'; }
desc() {
	case $1 in
	feed) echo "hsm-journal changes --since (paths0)" ;;
	feed-coalesce) echo "hsm-journal changes --since --coalesce" ;;
	feed-empty) echo "hsm-journal changes, nothing new" ;;
	find) echo "find TREE -newer REF" ;;
	walker) echo "C walker (getdents64 + fstatat)" ;;
	walker-par) echo "C walker, $WALK_THREADS threads" ;;
	esac
}
echo
echo "$FILES files, $CHANGES changed (seed $SEED); median of $REPS runs; ext4 loop, journal on a 2nd loop ext4, $(uname -r)"
printf '%-40s %-5s %12s %7s %14s\n' method cache "median (s)" paths "scan/feed"
for cache in warm cold; do
	for m in "${methods[@]}"; do
		case $m in
		find | walker*) r=$(ratio "${med[$m.$cache]}" "${med[feed.$cache]}") ;;
		*) r=- ;;
		esac
		printf '%-40s %-5s %12s %7s %14s\n' "$(desc "$m")" "$cache" "${med[$m.$cache]}" "${found[$m.$cache]}" "$r"
	done
done
echo "paths: distinct paths printed; every run's set was asserted equal to the changed files"
echo "  ('nothing new' reads from the cursor after the changes: none, so its time is the fixed cost)"
echo "scan/feed: the scan's median over the plain feed's median, same cache state"
progress "done"
