#!/bin/bash
# SPDX-License-Identifier: MIT
# The crash oracle (issue 4; docs/CRASH-TESTING.md): a seeded random workload
# over a loop-mounted TFS with hsm-tracker running (journal on a second loop
# mount), a crash at a random point, hsm-recover --rescan none, and a check
# that every path that differs from the manifest taken before the workload
# is in the feed read from the cursor taken before it (tests/crash/oracle.py
# says what covers a path); then hsm-recover --rescan auto and the check
# again, with the walked markers covering only what is gone.
#
#   tests/crash/oracle.sh [--iterations N] [--fs ext4,xfs,btrfs]
#                         [--modes kill,power] [--build DIR] [--seed S]
#                         [--keep-going]   (go on after a miss; exit 1 at the end)
#
# Crash modes, drawn per iteration from --modes:
#   kill   SIGKILL the tracker (the pid started; with a supervisor, in some
#          iterations its worker child, or both); the workload runs on a
#          little, then it and whatever is left of the tracker are killed;
#          half of the time the TFS is remounted (cold cache for recovery).
#   power  a power cut on both devices: FS_IOC_SHUTDOWN (NOLOGFLUSH) on the
#          TFS and the journal's fs back to back (random order); on btrfs,
#          which has no such ioctl, every process is stopped and both loop
#          images are copied while mounted; then everything is killed, both
#          filesystems unmounted and mounted again (the copies for btrfs).
#
# HSMJ_SEED=S repeats a run (the same choices; timing differs). HSMJ_KEEP=1
# keeps the work directory (images, journal, logs, manifests, feeds) when an
# iteration fails (HSMJ_KEEP=2: always). HSMJ_STRICT_LINKS=1: a path that
# only another hard link of its file covers is a miss. Exit 0: zero misses; 1: a miss or an error; 77: skipped.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$HERE/../.." && pwd)/build
ITER=10
FSLIST=ext4
MODES=kill,power
SEED=${HSMJ_SEED:-}
KEEP_GOING=0 MISSED=()
while [ $# -gt 0 ]; do
	case $1 in
	--iterations) ITER=$2; shift 2 ;;
	--fs) FSLIST=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--build) BUILD=$(cd "$2" && pwd); shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--keep-going) KEEP_GOING=1; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "oracle.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
BIN=$BUILD/bin H=$BUILD/tests/helpers
for p in "$BIN/hsm-tracker" "$BIN/hsm-recover" "$BIN/hsm-journal" "$H/crash-workload" "$H/crash-shutdown"; do
	[ -x "$p" ] || { echo "oracle.sh: $p not built" >&2; exit 1; }
done
PY=$(command -v python3) || { echo "SKIP: python3 missing"; exit 77; }
ORACLE=$HERE/oracle.py
[ -n "$SEED" ] || SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
echo "# crash oracle: seed $SEED (HSMJ_SEED=$SEED to repeat), $ITER iterations per filesystem, fs $FSLIST, modes $MODES"

W='' TPID='' WPID='' FAILED=0 SNAP=''
LOOPS=()
note() { echo "# $*"; }
die() { echo "FAIL: $*" >&2; FAILED=1; exit 1; }

# Every pid under $1, children first found through /proc/PID/task/*/children.
descendants() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

kill_tracker_tree() {
	[ -n "$TPID" ] || return 0
	local all
	all="$TPID $(descendants "$TPID")"
	# shellcheck disable=SC2086
	kill -KILL $all 2>/dev/null
	wait "$TPID" 2>/dev/null
	for p in $all; do # the worker is not our child: wait for it to go
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	done
	TPID=
}

kill_workload() {
	[ -n "$WPID" ] || return 0
	kill -KILL "$WPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	WPID=
}

attach() { # IMG VAR: attach IMG to a loop device, its name into VAR
	local dev
	dev=$(losetup --find --show "$1") || die "losetup $1"
	LOOPS+=("$dev")
	printf -v "$2" '%s' "$dev"
}

detach() {
	local i
	losetup -d "$1" 2>/dev/null
	for i in "${!LOOPS[@]}"; do [ "${LOOPS[$i]}" = "$1" ] && unset 'LOOPS[i]'; done
}

cleanup() {
	local rc=$?
	kill_workload
	kill_tracker_tree
	if [ -n "$W" ]; then
		umount "$W/tfs" 2>/dev/null || umount -l "$W/tfs" 2>/dev/null
		umount "$W/jfs" 2>/dev/null || umount -l "$W/jfs" 2>/dev/null
	fi
	for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null; done
	rm -rf "$SNAP"
	if [ -n "$W" ]; then
		if { [ "$FAILED" = 1 ] && [ "${HSMJ_KEEP:-0}" = 1 ]; } || [ "${HSMJ_KEEP:-0}" = 2 ]; then
			echo "# kept for inspection: $W (tfs.img, jfs.img: the images after the crash; it*/: logs, manifests, feeds)" >&2
		else
			rm -rf "$W"
		fi
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of the programs: a rebuild of the tree during a long run
# must not swap them under it (a relink in progress: try again).
SNAP=$(mktemp -d /tmp/hsmj-crash-bin.XXXXXX)
for _ in 1 2 3 4 5; do
	cp "$BIN/hsm-tracker" "$BIN/hsm-recover" "$BIN/hsm-journal" "$H/crash-workload" "$H/crash-shutdown" \
		"$SNAP/" 2>/dev/null && break
	sleep 2
done
[ -x "$SNAP/crash-shutdown" ] && [ -x "$SNAP/hsm-tracker" ] || die "cannot copy the programs to $SNAP"
BIN=$SNAP H=$SNAP

mount_both() {
	mount "$TFS_DEV" "$W/tfs" || die "mount $TFS_DEV"
	mount "$JFS_DEV" "$W/jfs" || die "mount $JFS_DEV"
}

# A killed process lets go of its files a moment after it is reaped (its
# last fput runs as task work): "target is busy" is retried for 5 s.
umount_retry() {
	local i
	for ((i = 0; i < 50; i++)); do
		umount "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	umount "$1" || { fuser -vm "$1" 2>&1 | head -n 20 >&2; die "umount $1"; }
}

umount_both() {
	umount_retry "$W/tfs"
	umount_retry "$W/jfs"
}

tracker_ready() { grep -q ': ready:' "$1"; }

# wait_ops LOG N SECS: until LOG holds N operations, or SECS pass
wait_ops() {
	local i
	for ((i = 0; i < $3 * 50; i++)); do
		local n
		n=$(grep -c '^B ' "$1" 2>/dev/null)
		[ "${n:-0}" -ge "$2" ] && return 0
		[ -n "$WPID" ] && ! kill -0 "$WPID" 2>/dev/null && return 1
		sleep 0.02
	done
	return 1
}

# Totals over all filesystems: mode -> counts
declare -A N_ITER N_MISS N_CHANGED N_WHOLEONLY N_WHOLEITER N_DATAMARK N_NOWHOLE N_LINK N_LIVE N_LINKONLY N_WALKMISS N_SUSPECT

run_fs() {
	local fs=$1 size=256M i
	[ "$fs" = xfs ] && size=512M
	command -v "mkfs.$fs" >/dev/null || { note "mkfs.$fs missing: $fs skipped"; return 0; }
	W=$(mktemp -d /tmp/hsmj-crash.XXXXXX)
	mkdir -p "$W/tfs" "$W/jfs"
	truncate -s "$size" "$W/tfs.img"
	truncate -s 256M "$W/jfs.img"
	case $fs in
	ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$W/tfs.img" ;;
	xfs) mkfs.xfs -q -f "$W/tfs.img" ;;
	btrfs) mkfs.btrfs -q -f "$W/tfs.img" ;;
	*) die "unknown filesystem $fs" ;;
	esac >/dev/null 2>&1 || die "mkfs.$fs"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$W/jfs.img" >/dev/null 2>&1 || die "mkfs.ext4"
	attach "$W/tfs.img" TFS_DEV
	attach "$W/jfs.img" JFS_DEV
	mount_both
	TFS=$W/tfs J=$W/jfs/journal
	# the starting tree: the workload itself, untracked, then made durable
	"$H/crash-workload" "$TFS" "$SEED" "$W/populate.log" 800 || die "populate"
	sync

	for ((i = 1; i <= ITER; i++)); do
		iteration "$fs" "$i"
	done
	kill_workload
	kill_tracker_tree
	umount_both
	detach "$TFS_DEV"
	detach "$JFS_DEV"
	if [ "${HSMJ_KEEP:-0}" = 2 ] || { [ "${HSMJ_KEEP:-0}" = 1 ] && [ ${#MISSED[@]} -gt 0 ]; }; then
		note "kept: $W (it*/: logs, manifests, feeds of each iteration)"
	else
		rm -rf "$W"
	fi
	W=
}

iteration() {
	local fs=$1 i=$2 D mode variant settle crash_ops more_ops wseed children rc label fsid
	local -a modes
	IFS=, read -ra modes <<<"$MODES"
	# every choice of this iteration comes from its own seed
	wseed=$((16#$(printf '%s' "$SEED/$fs/$i" | md5sum | cut -c1-7)))
	RANDOM=$wseed
	mode=${modes[RANDOM % ${#modes[@]}]}
	settle=$(printf '0.%d' $((1 + RANDOM % 9)))
	crash_ops=$((10 + RANDOM % 600))
	more_ops=$((RANDOM % 100))
	D=$W/it$i
	mkdir -p "$D"

	sync
	"$PY" "$ORACLE" manifest "$TFS" "$D/pre.json" || die "manifest before"
	"$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --settle-delay "$settle" --heartbeat 0.5 -v \
		2>"$D/tracker.log" &
	TPID=$!
	local k
	for ((k = 0; k < 400; k++)); do
		tracker_ready "$D/tracker.log" && break
		kill -0 "$TPID" 2>/dev/null || { cat "$D/tracker.log" >&2; die "hsm-tracker exited during start"; }
		sleep 0.05
	done
	tracker_ready "$D/tracker.log" || die "hsm-tracker not ready after 20 s"
	local cursor
	cursor=$("$BIN/hsm-journal" --journal "$J" cursor) || die "hsm-journal cursor"

	"$H/crash-workload" "$TFS" "$wseed" "$D/ops.log" 2>"$D/workload.err" &
	WPID=$!
	wait_ops "$D/ops.log" "$crash_ops" 60 || note "iteration $i: the workload stopped or stalled before op $crash_ops"

	children=$(cat /proc/"$TPID"/task/*/children 2>/dev/null)
	local crash_ns
	crash_ns=$(date +%s%N)
	case $mode in
	kill)
		variant=tracker
		if [ -n "$children" ]; then
			case $((RANDOM % 3)) in
			0) variant=supervisor ;;
			1) variant=worker ;;
			2) variant=both ;;
			esac
		fi
		case $variant in
		tracker | supervisor) kill -KILL "$TPID" ;;
		worker) kill -KILL $children ;;
		both) kill -KILL "$TPID" $children ;;
		esac
		# the workload goes on for a moment (its writes wait or pass,
		# depending on who still holds the pre-content group)
		local at
		at=$(grep -c '^B ' "$D/ops.log")
		wait_ops "$D/ops.log" $((at + more_ops)) 1
		kill_workload
		kill_tracker_tree
		if ((RANDOM % 2)); then
			variant="$variant+remount"
			umount_retry "$W/tfs"
			mount "$TFS_DEV" "$W/tfs" || die "mount $TFS_DEV"
		fi
		;;
	power)
		if [ "$fs" = btrfs ]; then
			variant=image-copy
			# shellcheck disable=SC2046
			kill -STOP "$WPID" "$TPID" $(descendants "$TPID") 2>/dev/null
			cp --sparse=always "$W/jfs.img" "$W/jfs.cut" || die "copy jfs image"
			cp --sparse=always "$W/tfs.img" "$W/tfs.cut" || die "copy tfs image"
			kill_workload
			kill_tracker_tree
			umount_both
			detach "$TFS_DEV"
			detach "$JFS_DEV"
			mv "$W/tfs.cut" "$W/tfs.img" && mv "$W/jfs.cut" "$W/jfs.img" || die "mv images"
			attach "$W/tfs.img" TFS_DEV
			attach "$W/jfs.img" JFS_DEV
		else
			if ((RANDOM % 2)); then
				variant=shutdown:tfs,jfs
				"$H/crash-shutdown" "$W/tfs" "$W/jfs" || die "shutdown"
			else
				variant=shutdown:jfs,tfs
				"$H/crash-shutdown" "$W/jfs" "$W/tfs" || die "shutdown"
			fi
			# writers get EIO now: the workload must end by itself
			local t
			for ((t = 0; t < 200; t++)); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.05; done
			kill -0 "$WPID" 2>/dev/null && { note "iteration $i: the workload still runs 10 s after the shutdown"; }
			kill_workload
			kill_tracker_tree
			umount_both
		fi
		mount_both
		;;
	esac

	# hsm-recover: a renamed fsid (btrfs copies get a new one) is told where it is
	local mountopt=()
	if [ "$fs" = btrfs ]; then
		for fsid in $("$BIN/hsm-journal" --journal "$J" status --json 2>/dev/null |
			jq -r --arg m "$TFS" '.filesystems[]? | select(.mount == $m) | .fsid'); do
			mountopt+=(--mount "$fsid=$TFS")
		done
	fi
	timeout 300 "$BIN/hsm-recover" --journal "$J" --rescan none "${mountopt[@]}" >"$D/recover.out" 2>&1 ||
		{ cat "$D/recover.out" >&2; die "hsm-recover failed (seed $wseed, iteration $i, $fs $mode $variant)"; }
	rc=0
	timeout 120 "$BIN/hsm-journal" --journal "$J" changes --since "$cursor" --format jsonl >"$D/feed.jsonl" 2>"$D/feed.err" || rc=$?
	[ "$rc" = 0 ] || { cat "$D/feed.err" >&2; die "hsm-journal changes exited $rc"; }
	"$PY" "$ORACLE" manifest "$TFS" "$D/post.json" || die "manifest after"
	label="iter=$i fs=$fs seed=$wseed mode=$mode/$variant crash-op=$crash_ops settle=$settle"
	rc=0
	"$PY" "$ORACLE" check --root "$TFS" --pre "$D/pre.json" --post "$D/post.json" \
		--feed "$D/feed.jsonl" --oplog "$D/ops.log" --label "$label" --stats "$W/stats.jsonl" \
		--crash-ns "$crash_ns" ${HSMJ_STRICT_LINKS:+--strict-links} >"$D/check.out" 2>&1 || rc=$?
	grep -v -e '^  marker ' -e '^  by-marker ' "$D/check.out"
	local key="$fs/$mode"
	N_ITER[$key]=$((${N_ITER[$key]:-0} + 1))
	local s
	s=$(tail -n 1 "$W/stats.jsonl")
	N_CHANGED[$key]=$((${N_CHANGED[$key]:-0} + $(jq .changed <<<"$s")))
	N_WHOLEONLY[$key]=$((${N_WHOLEONLY[$key]:-0} + $(jq .whole_only <<<"$s")))
	[ "$(jq .whole_only <<<"$s")" -gt 0 ] && N_WHOLEITER[$key]=$((${N_WHOLEITER[$key]:-0} + 1))
	N_DATAMARK[$key]=$((${N_DATAMARK[$key]:-0} + $(jq .data_marker_only <<<"$s")))
	[ "$(jq .whole_markers <<<"$s")" = 0 ] && N_NOWHOLE[$key]=$((${N_NOWHOLE[$key]:-0} + 1))
	N_MISS[$key]=$((${N_MISS[$key]:-0} + $(jq .misses <<<"$s")))
	N_LINK[$key]=$((${N_LINK[$key]:-0} + $(jq .link <<<"$s")))
	N_LINKONLY[$key]=$((${N_LINKONLY[$key]:-0} + $(jq .link_only <<<"$s")))
	N_LIVE[$key]=$((${N_LIVE[$key]:-0} + $(jq .marker_live <<<"$s")))
	N_SUSPECT[$key]=$((${N_SUSPECT[$key]:-0} + $(jq .suspects <<<"$s")))
	if [ "$rc" != 0 ]; then
		[ "$rc" = 1 ] || { cat "$D/check.out" >&2; die "oracle.py check exited $rc"; }
		missed "misses in iteration $i on $fs (mode $mode/$variant)" "$fs" "$i"
		return
	fi

	# The walk: --rescan auto closes the markers; a closed marker covers
	# only what is gone, so the walk's records must name every path that
	# exists and differs. (It also leaves no open marker to the next
	# iteration, whose walk would otherwise start from an older bound.)
	timeout 300 "$BIN/hsm-recover" --journal "$J" --rescan auto "${mountopt[@]}" >"$D/walk.out" 2>&1 ||
		{ cat "$D/walk.out" >&2; die "hsm-recover --rescan auto failed (iteration $i, $fs $mode $variant)"; }
	rc=0
	timeout 120 "$BIN/hsm-journal" --journal "$J" changes --since "$cursor" --format jsonl >"$D/feed-walk.jsonl" 2>"$D/feed.err" || rc=$?
	[ "$rc" = 0 ] || { cat "$D/feed.err" >&2; die "hsm-journal changes exited $rc"; }
	rc=0
	"$PY" "$ORACLE" check --root "$TFS" --pre "$D/pre.json" --post "$D/post.json" \
		--feed "$D/feed-walk.jsonl" --oplog "$D/ops.log" --label "  after --rescan auto:" --stats "$W/walk.jsonl" \
		--crash-ns "$crash_ns" ${HSMJ_STRICT_LINKS:+--strict-links} >"$D/check-walk.out" 2>&1 || rc=$?
	grep -v -e '^  marker ' -e '^  by-marker ' -e '^  by-link ' "$D/check-walk.out" | sed 's/ ops=[0-9]* (after crash [0-9]*) / /'
	s=$(tail -n 1 "$W/walk.jsonl")
	N_WALKMISS[$key]=$((${N_WALKMISS[$key]:-0} + $(jq .misses <<<"$s")))
	if [ "$rc" != 0 ]; then
		[ "$rc" = 1 ] || { cat "$D/check-walk.out" >&2; die "oracle.py check exited $rc"; }
		missed "misses after the walk in iteration $i on $fs (mode $mode/$variant)" "$fs" "$i"
	fi
}

# missed WHAT FS ITERATION: stop with the seed, or with --keep-going note it
# (the tree goes on from the crashed state) and fail at the end.
missed() {
	local msg="$1: seed $SEED (HSMJ_SEED=$SEED $0 --fs $2 --iterations $3 --modes $MODES)"
	if [ "$KEEP_GOING" = 1 ]; then
		echo "MISS: $msg (details: $D/check*.out)"
		MISSED+=("$msg")
		return
	fi
	summary
	die "$msg"
}

summary() {
	local key
	echo "# summary (seed $SEED), per fs/mode: iterations; paths that differed; misses; paths named only through another hard link of their file (of them, with no marker either: misses with HSMJ_STRICT_LINKS=1);"
	echo "#   covered only by a whole-mount marker: paths (in how many iterations), of them data changes, changes made before the crash, and of those, by data operations alone (no rename or link: the feed should have named them); iterations with no whole-mount marker"
	for key in $(printf '%s\n' "${!N_ITER[@]}" | sort); do
		printf '# %-12s %4d it. %6d changed %3d misses (after the walk %d) %4d by-link (%d no marker)   whole-mount-only %d (%d it.) data %d pre-crash %d data-ops-only %d   no-whole-mount-marker %d it.\n' \
			"$key" "${N_ITER[$key]}" "${N_CHANGED[$key]:-0}" "${N_MISS[$key]:-0}" "${N_WALKMISS[$key]:-0}" "${N_LINK[$key]:-0}" "${N_LINKONLY[$key]:-0}" \
			"${N_WHOLEONLY[$key]:-0}" "${N_WHOLEITER[$key]:-0}" "${N_DATAMARK[$key]:-0}" "${N_LIVE[$key]:-0}" "${N_SUSPECT[$key]:-0}" "${N_NOWHOLE[$key]:-0}"
	done
}

IFS=, read -ra FSES <<<"$FSLIST"
for fs in "${FSES[@]}"; do
	run_fs "$fs"
done
summary
if [ ${#MISSED[@]} -gt 0 ]; then
	printf 'FAIL: %s\n' "${MISSED[@]}" >&2
	FAILED=1
	exit 1
fi
echo PASS
