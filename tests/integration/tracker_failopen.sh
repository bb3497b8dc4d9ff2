#!/bin/bash
# --fail-mode open: when the journal cannot record an intent, the access
# proceeds (after a rescan marker if even that can be written; here the
# journal fs is shut down, so nothing can be) and the tracker says so loudly.
# The write must neither hang nor fail, and the tracker must keep running.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
head -c 16384 /dev/urandom >"$TFS/f"
cp "$TFS/f" "$T/f.before"
sync
tr_start --fail-mode open
"$HELPERS/tracker-shutdown" "$T/jfs" 2 || fail "shutdown ioctl on the journal fs"
rc=0
err=$(timeout 10 "$WL" write "$TFS/f" 2>&1) || rc=$?
tr_alive
[ "$rc" != 124 ] || fail "the write hung in fail-open mode"
[ "$rc" = 0 ] || fail "the write failed in fail-open mode: $err"
cmp -s "$TFS/f" "$T/f.before" && fail "the write did not land"
grep -q 'FAIL-OPEN: even the rescan marker could not be written' "$TLOG" ||
	{ tail "$TLOG"; fail "fail-open did not say loudly that the access passed unrecorded"; }
tr_alive
