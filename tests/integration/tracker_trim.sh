#!/bin/bash
# The tracker applies retention itself (hsm-journal trim cannot run while it
# holds the journal): records every consumer acknowledged go, records a
# consumer has not acknowledged stay, and a ceiling expires a consumer that
# never comes back (its next read says so: exit 3, never a silent hole).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
HJ() { "$BIN/hsm-journal" --journal "$J" "$@"; }
trimmed() { HJ status --json | jq -r .trimmed_through; }
last() { HJ status --json | jq -r .last_jsn; }

# Phase 1: keep nothing once acknowledged, no ceilings.
tr_start --trim-interval 0.2 --keep 0 --max-age 0 --max-records 0
for i in 1 2 3; do echo "$i" >"$TFS/a$i"; done
tr_wait_settled
t_wait_for 10 sh -c "[ \$('$BIN/hsm-journal' --journal '$J' changes --format paths 2>/dev/null | grep -c '/a[123]\$') -ge 3 ]" ||
	fail "the first files never reached the feed"
c1=$(HJ changes --format paths 2>&1 >/dev/null | sed -n 's/^cursor: //p')
HJ ack --consumer fast "$c1" || fail "ack fast"
HJ ack --consumer slow "$c1" || fail "ack slow"
for i in 1 2 3; do echo "$i" >"$TFS/b$i"; done
tr_wait_settled
t_wait_for 10 sh -c "[ \$('$BIN/hsm-journal' --journal '$J' changes --since '$c1' --format paths 2>/dev/null | grep -c '/b[123]\$') -ge 3 ]" ||
	fail "the second files never reached the feed"
c2=$(HJ changes --since "$c1" --format paths 2>&1 >/dev/null | sed -n 's/^cursor: //p')
HJ ack --consumer fast "$c2" || fail "ack fast 2"
jsn1=${c1##*:}
# Both acknowledged c1: the tracker trims through it, and no further (slow
# has not acknowledged the b files).
t_wait_for 10 sh -c "[ \$('$BIN/hsm-journal' --journal '$J' status --json | jq -r .trimmed_through) -ge $jsn1 ]" ||
	fail "the tracker did not trim what every consumer acknowledged ($(trimmed) < $jsn1)"
[ "$(trimmed)" = "$jsn1" ] || fail "trimmed through $(trimmed), past the slow consumer's $jsn1"
HJ changes --consumer slow --format paths >"$T/slow" 2>/dev/null || fail "slow consumer read (rc $?)"
[ "$(grep '/b[123]$' "$T/slow" | sort -u | wc -l)" = 3 ] || { cat "$T/slow"; fail "the slow consumer lost records"; }
HJ changes --since "$c1" --format paths >/dev/null 2>&1 || fail "a cursor at the trim point must still read"
grep -q 'trimmed [0-9]* records through JSN' "$TLOG" || fail "no trim in the tracker's log"
tr_stop

# Phase 2: a ceiling of 1 record expires the slow consumer.
tr_start --trim-interval 0.2 --keep 0 --max-age 0 --max-records 1
echo more >"$TFS/c1"
tr_wait_settled
t_wait_for 10 sh -c "[ \$('$BIN/hsm-journal' --journal '$J' status --json | jq -r .feed_records) -le 1 ]" ||
	fail "the record ceiling was not applied ($(HJ status --json | jq -r .feed_records) records)"
rc=0
HJ changes --consumer slow --format paths >/dev/null 2>"$T/err" || rc=$?
[ $rc = 3 ] || { cat "$T/err"; fail "an expired consumer read: exit $rc, expected 3"; }
grep -q 'cursor expired' "$T/err" || fail "no 'cursor expired' line"
tr_stop
note "trimmed through the slowest ack ($jsn1); the ceiling expired the slow consumer (exit 3)"
echo PASS
