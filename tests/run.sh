#!/bin/bash
# Test runner. Each test is a program or script: exit 0 pass, 77 skip (it
# prints why), anything else fail. Every test runs under a timeout, and the
# run ends with one line "N passed, N failed, N skipped".
#   tests/run.sh unit BUILD                 cmocka unit tests in BUILD/tests
#   tests/run.sh integration BUILD          root scenarios in tests/integration
#   tests/run.sh all BUILD SAN_BUILD        both, plus unit tests of SAN_BUILD
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: run.sh unit|integration|all BUILD [SAN_BUILD]}
build=${2:?build dir}
san=${3:-}
unit_timeout=${HSMJ_UNIT_TIMEOUT:-300}
int_timeout=${HSMJ_INTEGRATION_TIMEOUT:-600}
pass=0 fail=0 skip=0 failed=()

run_one() { # name timeout cmd...
	local name=$1 t=$2; shift 2
	local start=$SECONDS out rc
	out=$(mktemp)
	timeout --kill-after=10 "$t" "$@" >"$out" 2>&1
	rc=$?
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS %-48s %3ds\n' "$name" $((SECONDS - start)) ;;
	77) skip=$((skip + 1)); printf 'SKIP %-48s %s\n' "$name" "$(grep -m1 -i 'skip' "$out" || tail -n1 "$out")" ;;
	*) fail=$((fail + 1)); failed+=("$name")
	   [ $rc = 124 ] && echo "(timed out after ${t}s)" >>"$out"
	   printf 'FAIL %-48s rc=%d\n' "$name" $rc; sed 's/^/    | /' "$out" | tail -n 60 ;;
	esac
	if [ -n "${HSMJ_TEST_VERBOSE:-}" ]; then sed 's/^/    /' "$out"; fi
	rm -f "$out"
}

run_unit() { # build label
	local t
	for t in "$1"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$2$(basename "$t")" "$unit_timeout" "$t"
	done
}

run_integration() {
	local t
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP integration tests: they need root (loop devices, fanotify)"
		skip=$((skip + 1)); return
	fi
	for t in "$here"/integration/*.sh; do
		[ -f "$t" ] || continue
		HSMJ_BUILD=$(cd "$build" && pwd) run_one "integration/$(basename "$t" .sh)" "$int_timeout" bash "$t"
	done
}

case $mode in
unit) run_unit "$build" "" ;;
integration) run_integration ;;
all)
	run_unit "$build" ""
	[ -n "$san" ] && run_unit "$san" "asan+ubsan/"
	run_integration ;;
*) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
esac
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
