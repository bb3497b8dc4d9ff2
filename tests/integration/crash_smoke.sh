#!/bin/bash
# The crash oracle, a few iterations for `make check` (the long runs are
# `make check-crash`; docs/CRASH-TESTING.md): on ext4, three crashes by
# SIGKILL of the tracker (and of its supervisor's worker, when there is
# one) and two power cuts on both devices (FS_IOC_SHUTDOWN, no log flush).
# After each, hsm-recover, and every path that differs from the manifest
# taken before the workload must be in the feed since the cursor taken
# before it (or under a marker whose time range meets its change).
# HSMJ_SEED repeats a run.
. "$(dirname "$0")/../lib.sh"
need_root
ORACLE=$(dirname "$0")/../crash/oracle.sh
for p in crash-workload crash-shutdown; do
	[ -x "$HSMJ_BUILD/tests/helpers/$p" ] || fail "$HSMJ_BUILD/tests/helpers/$p not built"
done
command -v python3 >/dev/null || skip "python3 missing"
command -v jq >/dev/null || skip "jq missing"
python3 "$(dirname "$0")/../crash/test_oracle.py" || fail "the oracle's self-test (tests/crash/test_oracle.py)"
SEED=${HSMJ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
note "seed $SEED"
HSMJ_SEED=$SEED "$ORACLE" --build "$HSMJ_BUILD" --fs ext4 --modes kill --iterations 3 ||
	fail "crash oracle, SIGKILL (HSMJ_SEED=$SEED)"
HSMJ_SEED=$SEED "$ORACLE" --build "$HSMJ_BUILD" --fs ext4 --modes power --iterations 2 ||
	fail "crash oracle, power cut (HSMJ_SEED=$SEED)"
echo PASS
