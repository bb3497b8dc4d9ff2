#!/bin/bash
# The ordering guarantee, observed directly: with the journal's filesystem
# frozen no intent can become durable, so a write to an uncovered tracked
# file must wait and the file must stay unchanged. After the thaw the write
# completes, and its intent precedes its change record in the journal.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
command -v fsfreeze >/dev/null || skip "fsfreeze missing"
tr_setup
# A frozen journal fs would leave the tracker in uninterruptible sleep and
# the cleanup waiting for it forever: thaw first, whatever happens.
trap '_rc=$?; fsfreeze -u "$T/jfs" 2>/dev/null; (exit $_rc); _t_cleanup' EXIT

head -c 16384 /dev/urandom >"$TFS/f"
cp "$TFS/f" "$T/f.before"
sync
# A reader opened before tracking starts never raises events: it lets us
# look at the content while the tracker is stuck.
exec 7<"$TFS/f"
tr_start
sync -f "$J" 2>/dev/null
fsfreeze -f "$T/jfs" || fail "fsfreeze -f"
before_stat=$(stat -c '%s %Y.%y' "$TFS/f")

t_bg WPID "$WL" write "$TFS/f"
blocked() {
	kill -0 "$WPID" 2>/dev/null || return 1
	grep -q fanotify "/proc/$WPID/stack" 2>/dev/null ||
		grep -q -e fanotify -e fsnotify "/proc/$WPID/wchan" 2>/dev/null
}
t_wait_for 10 blocked || { cat "/proc/$WPID/wchan" 2>/dev/null; fail "the writer is not waiting on fanotify"; }
note "writer waits in $(cat /proc/$WPID/wchan 2>/dev/null)"
[ "$(stat -c '%s %Y.%y' "$TFS/f")" = "$before_stat" ] || fail "the file changed while the journal was frozen"
dd bs=16384 count=1 <&7 2>/dev/null | cmp -s - "$T/f.before" || fail "the content changed while the journal was frozen"
kill -0 "$WPID" || fail "the writer finished while the journal was frozen"

fsfreeze -u "$T/jfs" || fail "fsfreeze -u"
rc=0
wait "$WPID" || rc=$?
[ "$rc" = 0 ] || fail "the write failed after the thaw (rc $rc)"
cmp -s "$TFS/f" "$T/f.before" && fail "the write did not land after the thaw"
tr_wait_settled
line=$(tr_feed feed | awk -F'\t' -v p="$TFS/f" '$2 == "change" && $7 == p')
[ -n "$line" ] || fail "no change record for the file"
jsn=$(echo "$line" | cut -f1) intent=$(echo "$line" | cut -f4)
[ "$intent" -gt 0 ] && [ "$intent" -lt "$jsn" ] || fail "intent $intent does not precede change $jsn"
note "ok: intent $intent < change $jsn"
tr_stop
