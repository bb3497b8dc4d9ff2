#!/bin/bash
# Fail-closed with the journal's filesystem shut down (FS_IOC_SHUTDOWN,
# NOLOGFLUSH: the device is gone as far as the journal can tell): a write to
# an uncovered file fails with EIO (or ENOSPC) within seconds, never hangs,
# the file is unchanged, and the tracker keeps serving and stops on SIGTERM.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup

head -c 16384 /dev/urandom >"$TFS/f"
head -c 16384 /dev/urandom >"$TFS/g"
cp "$TFS/f" "$T/f.before"
sync
exec 7<"$TFS/f" # opened before tracking: reading it raises no event
tr_start
"$HELPERS/tracker-shutdown" "$T/jfs" 2 || fail "shutdown ioctl on the journal fs"

for file in f g; do
	start=$SECONDS rc=0
	err=$(timeout 10 "$WL" write "$TFS/$file" 2>&1) || rc=$?
	tr_alive
	[ "$rc" != 124 ] || fail "the write to $file hung with the journal shut down"
	[ "$rc" != 0 ] || fail "the write to $file succeeded with the journal shut down"
	echo "$err" | grep -q -e 'errno=EIO' -e 'errno=ENOSPC' || fail "want EIO or ENOSPC: $err"
	note "write failed after $((SECONDS - start)) s: $err"
done
[ "$(stat -c %s "$TFS/f")" = 16384 ] || fail "the size changed"
dd bs=16384 count=1 <&7 2>/dev/null | cmp -s - "$T/f.before" || fail "the content changed"
grep -q 'denying the accesses' "$TLOG" || fail "the tracker did not log the denial"

# SIGTERM still ends it (the clean-stop cannot be written: exit 1, said on stderr).
kill -TERM "$TPID"
rc=0
timeout 30 tail --pid="$TPID" -f /dev/null || fail "the tracker did not stop within 30 s"
wait "$TPID" || rc=$?
grep -q 'cannot write clean-stop' "$TLOG" || { tail "$TLOG"; fail "no clean-stop error logged"; }
[ "$rc" = 1 ] || fail "want exit 1 when the clean-stop cannot be written, got $rc"
