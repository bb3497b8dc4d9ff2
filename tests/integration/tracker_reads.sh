#!/bin/bash
# Reads record no intent (--reads lease, the default): an access passes
# without one when the accessor's system call only reads the file and a
# read lease shows nobody holds it open for write. Whatever may modify the
# file must still come through the journal first, observed with the
# journal's filesystem frozen (no intent can become durable, so the
# modifier must wait and the file stay as it was):
#   - open(O_RDONLY|O_TRUNC), which truncates without write access, by
#     open(2) and through io_uring (an io-wq worker's /proc/TID/syscall is
#     a stale copy of its creator's registers);
#   - a path truncate() of a file that was read;
#   - an open for write of a file a reader holds.
# Also: a truncate held after its event while many other files are read
# (with a tiny coverage table) still lands under an intent; a big file read
# through many events costs one intent; --reads intent brings back an
# intent per first read.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
command -v fsfreeze >/dev/null || skip "fsfreeze missing"
tr_setup
trap '_rc=$?; fsfreeze -u "$T/jfs" 2>/dev/null; fsfreeze -u "$TFS" 2>/dev/null; (exit $_rc); _t_cleanup' EXIT

mkdir "$TFS/r"
for k in $(seq 1 200); do head -c 5000 /dev/urandom >"$TFS/r/$k"; done
for f in b c d e u h; do head -c 9000 /dev/urandom >"$TFS/$f"; done
head -c 1048576 /dev/urandom >"$TFS/big"
sync
tr_start

counters() { # the SIGUSR1 line's counters: "intents read_opens reads"
	local before
	before=$(grep -c 'namespace records' "$TLOG")
	kill -USR1 "$TPID"
	t_wait_for 5 eval '[ "$(grep -c "namespace records" "$TLOG")" -gt "$before" ]' ||
		fail "no counters line after SIGUSR1"
	grep 'namespace records' "$TLOG" | tail -n1 |
		sed -n 's/.*intents \([0-9]*\) in .*read opens \([0-9]*\), reads \([0-9]*\),.*/\1 \2 \3/p'
}

# 1. Reading 200 files twice: no intent, 400 opens and their reads pass.
cat "$TFS"/r/* >/dev/null
cat "$TFS"/r/* >/dev/null
read -r intents opens reads <<<"$(counters)"
note "after reading 200 files twice: intents $intents, read opens $opens, reads $reads"
[ "$intents" = 0 ] || fail "reads recorded $intents intents"
[ "$opens" -ge 400 ] || fail "only $opens opens were taken as reads (want >= 400)"
[ "$reads" -ge 400 ] || fail "only $reads reads passed without an intent (want >= 400)"
[ "$(tr_in_flight_count)" = 0 ] || fail "intents in flight after reads"

# 2. A big file read 4 KiB at a time: one intent after a few dozen events,
# then its reads cost nothing; it settles without a change record.
dd if="$TFS/big" of=/dev/null bs=4k status=none || fail "reading big"
read -r intents2 opens reads2 <<<"$(counters)"
note "after reading 1 MiB in 4 KiB reads: intents $intents2, reads $reads2"
[ "$intents2" = 1 ] || fail "reading big recorded $intents2 intents (want 1)"
[ $((reads2 - reads)) -le 40 ] || fail "$((reads2 - reads)) read events for big: its intent did not cover it"
tr_wait_settled 20
tr_changes | grep -q "^$TFS/big	" && fail "a change record for big, only read"

frozen_wait() { # NAME PID FILE SIZE: the modifier waits, FILE keeps SIZE
	local pid=$2 i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || fail "$1 finished while the journal was frozen"
		[ "$(stat -c %s "$3")" = "$4" ] || fail "$1 changed $3 while the journal was frozen"
		sleep 0.2
	done
}
thaw_and_check() { # NAME PID FILE SIZE-AFTER
	fsfreeze -u "$T/jfs" || fail "fsfreeze -u"
	wait "$2" || fail "$1 failed after the thaw"
	[ "$(stat -c %s "$3")" = "$4" ] || fail "$1: $3 is $(stat -c %s "$3") bytes, want $4"
	tr_wait_settled 20
	tr_feed feed | awk -F'\t' -v p="$3" '$2 == "change" && $7 == p' | grep -q . ||
		{ tr_feed feed >&2; fail "$1: no change record for $3"; }
}
freeze() { sync -f "$J" 2>/dev/null; fsfreeze -f "$T/jfs" || fail "fsfreeze -f"; }

# 3. open(O_RDONLY|O_TRUNC): of a file never opened, of one just read, and
# through io_uring.
freeze
"$WL" rotrunc "$TFS/b" & p=$!
frozen_wait "O_RDONLY|O_TRUNC" $p "$TFS/b" 9000
thaw_and_check "O_RDONLY|O_TRUNC" $p "$TFS/b" 0
cat "$TFS/c" >/dev/null
freeze
"$WL" rotrunc "$TFS/c" & p=$!
frozen_wait "O_RDONLY|O_TRUNC after a read" $p "$TFS/c" 9000
thaw_and_check "O_RDONLY|O_TRUNC after a read" $p "$TFS/c" 0
freeze
"$WL" uring-rotrunc "$TFS/u" & p=$!
frozen_wait "io_uring O_RDONLY|O_TRUNC" $p "$TFS/u" 9000
thaw_and_check "io_uring O_RDONLY|O_TRUNC" $p "$TFS/u" 0

# 4. truncate() by path of a file that was read.
cat "$TFS/d" >/dev/null
freeze
"$WL" shrink "$TFS/d" & p=$!
frozen_wait "truncate after a read" $p "$TFS/d" 9000
thaw_and_check "truncate after a read" $p "$TFS/d" 100

# 5. An open for write of a file being read (the reader still holds it).
exec 7<"$TFS/e"
head -c 10 <&7 >/dev/null
freeze
"$WL" append "$TFS/e" & p=$!
frozen_wait "append after a read" $p "$TFS/e" 9000
thaw_and_check "append after a read" $p "$TFS/e" 9020
exec 7<&-
tr_stop

# 6. A truncate held after its event (the tracked filesystem is frozen, so
# it waits in mnt_want_write) while 200 other files are read, with room
# for 8 covered files: it must land under an intent all the same.
tr_start --max-covered 8
cat "$TFS/h" >/dev/null
fsfreeze -f "$TFS" || fail "fsfreeze -f $TFS"
"$WL" shrink "$TFS/h" & p=$!
sleep 0.5
cat "$TFS"/r/* >/dev/null
fsfreeze -u "$TFS" || fail "fsfreeze -u $TFS"
wait $p || fail "the held truncate failed"
[ "$(stat -c %s "$TFS/h")" = 100 ] || fail "h is $(stat -c %s "$TFS/h") bytes, want 100"
tr_wait_settled 20
tr_feed feed | awk -F'\t' -v p="$TFS/h" '$2 == "change" && $3 ~ /data/ && $7 == p && $8 == 100' |
	grep -q . || { tr_feed feed >&2; fail "the held truncate of h is in no data record"; }
tr_stop

# 7. --reads intent: a first read records an intent again.
tr_start --reads intent
cat "$TFS"/r/1 "$TFS"/r/2 >/dev/null
read -r intents opens reads <<<"$(counters)"
note "--reads intent, after reading 2 files: intents $intents, read opens $opens"
[ "$intents" -ge 2 ] || fail "--reads intent: $intents intents for 2 files read"
[ "$opens" = 0 ] && [ "$reads" = 0 ] || fail "--reads intent: $opens opens, $reads reads passed as reads"
tr_stop
echo PASS
