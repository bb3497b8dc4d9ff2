#!/bin/bash
# hsm-tracker refuses, with one line on stderr and exit 1, a journal on a
# watched filesystem and a filesystem without pre-content events (tmpfs);
# usage errors exit 2; --help and --version exit 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup

expect_refusal() { # rc pattern cmd...
	local want=$1 pat=$2 rc=0; shift 2
	timeout 20 "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$want" ] || { cat "$T/err"; fail "$* exited $rc, want $want"; }
	[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "$*: want exactly one line on stderr"; }
	grep -q -e "$pat" "$T/err" || { cat "$T/err"; fail "$*: stderr does not say '$pat'"; }
	note "refused: $(cat "$T/err")"
}

# The journal on the tracked filesystem (its own writes would be events).
expect_refusal 1 "watched filesystem" "$BIN/hsm-tracker" --journal "$TFS/j" --watch "$TFS"
[ ! -e "$TFS/j" ] || fail "a refused start left a journal on the TFS"
# The same through a subdirectory of the TFS and a second --watch.
mkdir -p "$TFS/sub"
expect_refusal 1 "watched filesystem" "$BIN/hsm-tracker" --journal "$TFS/sub/j" --watch "$T/jfs" --watch "$TFS/sub"

# tmpfs has no pre-content events.
mkdir -p "$T/tmpfs"
mount -t tmpfs -o size=8M tmpfs "$T/tmpfs" || fail "mount tmpfs"
t_on_exit "umount -l $T/tmpfs"
expect_refusal 1 "tmpfs has no pre-content events: needs ext4, xfs or btrfs on Linux >= 6.14" \
	"$BIN/hsm-tracker" --journal "$J" --watch "$T/tmpfs"
# ... also when it comes after a good one: nothing is marked or written.
expect_refusal 1 "tmpfs" "$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --watch "$T/tmpfs"
[ ! -e "$J" ] || fail "a refused start created the journal"

expect_refusal 1 "No such file" "$BIN/hsm-tracker" --journal "$J" --watch "$T/nonexistent"
expect_refusal 2 "nothing to watch" "$BIN/hsm-tracker" --journal "$J"
expect_refusal 2 "no journal" env -u HSM_JOURNAL_DIR "$BIN/hsm-tracker" --watch "$TFS"
expect_refusal 2 "fail-mode" "$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --fail-mode maybe
expect_refusal 2 "settle-delay" "$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --settle-delay x
expect_refusal 2 "max-covered" "$BIN/hsm-tracker" --journal "$J" --watch "$TFS" --max-covered 0
"$BIN/hsm-tracker" --help | grep -q -- "--watch" || fail "--help"
"$BIN/hsm-tracker" --version | grep -q "hsm-tracker" || fail "--version"

# HSM_JOURNAL_DIR is the default journal, and a good start still works.
HSM_JOURNAL_DIR=$J t_bg TPID "$BIN/hsm-tracker" --watch "$TFS" 2>"$TLOG"
t_wait_for 20 grep -q ': ready:' "$TLOG" || { cat "$TLOG"; fail "no start with HSM_JOURNAL_DIR"; }
tr_stop
[ -d "$J" ] || fail "HSM_JOURNAL_DIR was not used"
