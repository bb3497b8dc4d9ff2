#!/bin/bash
# Benchmarks (`make bench`). Needs root: each section works on its own
# loop-mounted filesystems, made and removed through tests/lib.sh.
#
#   tests/bench.sh BUILD                 run every section, in order
#   tests/bench.sh BUILD SECTION...      run only the named sections
#   tests/bench.sh --list                print the section names
#
# Adding a section: write a function bench_NAME below (it may use t_mkfs,
# t_bg, $BIN, fail, skip, note from tests/lib.sh) and append NAME to
# SECTIONS. Each section runs in its own bash process, so its mounts and
# processes are cleaned up before the next one starts and a failing
# section does not stop the others.
#
# Environment: HSMJ_BENCH_SECONDS (default 2) is the time each measurement
# runs, for sections that take a duration. The tracker and feed sections
# read their own variables (see tests/bench-tracker.sh, tests/bench-feed.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
BENCH_SECONDS=${HSMJ_BENCH_SECONDS:-2}

SECTIONS=(journal tracker feed recover)

# ---- sections ----

# Group commit: synced commits/s and intents/s at batch 1, 8, 64, 512 on a
# loop-mounted ext4 (the journal's own device, as in production).
bench_journal() {
	t_mkfs jbench ext4 512M
	"$BIN/hsmj-bench-journal" --create --duration "$BENCH_SECONDS" "$T/jbench/journal" ||
		fail "hsmj-bench-journal failed"
}

# Tracked vs untracked workloads (tests/bench-tracker.sh, its own table).
bench_tracker() {
	bash "$here/bench-tracker.sh" "$HSMJ_BUILD"
}

# The change feed vs a full stat walk (find -newer, a C walker) of a tree of
# HSMJ_BENCH_FEED_FILES (default 1,000,000) files after HSMJ_BENCH_FEED_CHANGES
# (default 1000) changes, warm and cold cache (tests/bench-feed.sh).
bench_feed() {
	bash "$here/bench-feed.sh" "$HSMJ_BUILD"
}

# Recovery of 20,000 in-flight intents on a cold cache: synchronous statx vs
# io_uring prefetch.
bench_recover() {
	HSMJ_BUILD=$HSMJ_BUILD bash "$here/bench-recover.sh"
}

# ---- driver ----

if [ "${1:-}" = --list ]; then
	printf '%s\n' "${SECTIONS[@]}"
	exit 0
fi

if [ "${1:-}" = --run-section ]; then
	# Child mode: one section, with lib.sh's cleanup on exit.
	section=${2:?section}
	. "$here/lib.sh"
	need_root
	"bench_$section"
	exit $?
fi

build=${1:?usage: tests/bench.sh BUILD [SECTION...]}
shift
[ -d "$build" ] || { echo "bench.sh: build directory $build does not exist" >&2; exit 2; }
build=$(cd "$build" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: benchmarks need root (loop devices)"
	exit 77
fi

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${SECTIONS[@]}")
for s in "${wanted[@]}"; do
	if ! declare -F "bench_$s" >/dev/null; then
		echo "bench.sh: unknown section '$s' (sections: ${SECTIONS[*]})" >&2
		exit 2
	fi
done

failed=()
for s in "${wanted[@]}"; do
	echo "== $s =="
	HSMJ_BUILD=$build HSMJ_BENCH_SECONDS=$BENCH_SECONDS bash "$0" --run-section "$s"
	rc=$?
	case $rc in
	0) ;;
	77) echo "(section $s skipped)" ;;
	*) failed+=("$s"); echo "(section $s failed, rc=$rc)" ;;
	esac
	echo
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed sections: ${failed[*]}" >&2
	exit 1
fi
exit 0
