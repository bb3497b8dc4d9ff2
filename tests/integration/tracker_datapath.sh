#!/bin/bash
# Every data-path operation on an uncovered file reaches the feed as exactly
# one change record for exactly that file with reason data; files only read
# (including the sources of cp and copy_file_range) produce none.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup

ops="write append pwrite writev shrink grow otrunc fallocate mmap"
for f in $ops readonly cfr_src cfr_dst cp_src; do
	head -c 16384 /dev/urandom >"$TFS/$f"
done
sync
tr_start -v # debug: the settle lines are checked below

for op in $ops; do
	"$WL" "$op" "$TFS/$op" || fail "$op failed"
done
"$WL" cfr "$TFS/cfr_src" "$TFS/cfr_dst" || fail "copy_file_range failed"
cp "$TFS/cp_src" "$TFS/cp_dst" || fail "cp failed"
"$WL" read "$TFS/readonly" || fail "read failed"
cat "$TFS/readonly" "$TFS/cp_src" >/dev/null

tr_wait_settled
got=$(tr_changes | sort)
want=$( (for f in $ops cfr_dst cp_dst; do printf '%s\tdata\n' "$TFS/$f"; done
	printf '%s\tcreate\n' "$TFS/cp_dst") | sort)
if [ "$got" != "$want" ]; then
	echo "--- want"; echo "$want"; echo "--- got"; echo "$got"
	fail "the feed does not list exactly the modified files"
fi
# Every change record points at an intent committed before it.
tr_feed feed | awk -F'\t' '$2 == "change" && $3 ~ /data/ && !($4 > 0 && $4 < $1) { bad = 1 } END { exit bad }' ||
	fail "a change record does not follow its intent"
# Files only opened for reading got no intent at all (--reads lease, the
# default: tracker_reads.sh has the details; --reads intent is below).
for f in readonly cp_src cfr_src; do
	grep -q "settled $TFS/$f (intent" "$TLOG" && fail "an intent was recorded for $f, only read"
done

# End to end through the notification group: a create and a rename reach
# the feed (the namespace cases are tested in detail elsewhere).
"$WL" create "$TFS/new" || fail "create"
mv "$TFS/new" "$TFS/renamed" || fail "rename"
has_ns() {
	tr_changes | grep -q "^$TFS/new	.*create" &&
		tr_feed feed | awk -F'\t' -v p="$TFS/new" '$2 == "change" && $3 ~ /rename/ && $7 == p' | grep -q .
}
t_wait_for 20 has_ns || { tr_feed feed; fail "create and rename did not reach the feed"; }
tr_stop
tr_feed epochs | grep -q 'clean-stop' || fail "no clean-stop record"
[ "$(tr_in_flight_count)" = 0 ] || fail "intents left in flight after a clean stop"
# --reads intent: every first open records an intent; a file only read
# settles without a change record.
tr_start -v --reads intent
"$WL" read "$TFS/readonly" || fail "read failed"
tr_wait_settled
grep -q "settled $TFS/readonly (intent" "$TLOG" || fail "--reads intent: the read-only file was not settled"
tr_changes | grep -q "^$TFS/readonly	" && fail "--reads intent: a change record for a file only read"
tr_stop
note "ok: $(echo "$got" | wc -l) change records, none for read-only files"
