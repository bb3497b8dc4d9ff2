#!/bin/bash
# Opens for reading record no intent (--reads lease, the default): the file
# is guarded by a read lease and an ignore mark for reads alone. What may
# still modify such a file must come through the journal first, observed
# with the journal's filesystem frozen (no intent can become durable, so the
# modifier must wait and the file must stay as it was):
#   - open(O_RDONLY|O_TRUNC), which truncates without write access;
#   - a path truncate() of a file that was read (it breaks the guard);
#   - an open for write of a file that was read.
# Then --reads intent: a read records an intent again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
command -v fsfreeze >/dev/null || skip "fsfreeze missing"
tr_setup
trap '_rc=$?; fsfreeze -u "$T/jfs" 2>/dev/null; (exit $_rc); _t_cleanup' EXIT

mkdir "$TFS/r"
for k in $(seq 1 200); do head -c 5000 /dev/urandom >"$TFS/r/$k"; done
for f in b c d e; do head -c 9000 /dev/urandom >"$TFS/$f"; done
sync
tr_start

counters() { # the SIGUSR1 line's counters as "intents read_opens"
	local before
	before=$(grep -c 'namespace records' "$TLOG")
	kill -USR1 "$TPID"
	t_wait_for 5 eval '[ "$(grep -c "namespace records" "$TLOG")" -gt "$before" ]' ||
		fail "no counters line after SIGUSR1"
	grep 'namespace records' "$TLOG" | tail -n1 |
		sed -n 's/.*intents \([0-9]*\) in .*read opens \([0-9]*\),.*/\1 \2/p'
}

# 1. Reading 200 files twice: no intent, 400 opens allowed as reads.
cat "$TFS"/r/* >/dev/null
cat "$TFS"/r/* >/dev/null
read -r intents opens <<<"$(counters)"
note "after reading 200 files twice: intents $intents, read opens $opens"
[ "$intents" = 0 ] || fail "reads recorded $intents intents"
[ "$opens" -ge 400 ] || fail "only $opens opens were taken as reads (want >= 400)"
[ "$(tr_in_flight_count)" = 0 ] || fail "intents in flight after reads"

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

# 2. open(O_RDONLY|O_TRUNC) of a file never opened, and of one just read.
freeze
"$WL" rotrunc "$TFS/b" & p=$!
frozen_wait "O_RDONLY|O_TRUNC" $p "$TFS/b" 9000
thaw_and_check "O_RDONLY|O_TRUNC" $p "$TFS/b" 0
cat "$TFS/c" >/dev/null
freeze
"$WL" rotrunc "$TFS/c" & p=$!
frozen_wait "O_RDONLY|O_TRUNC after a read" $p "$TFS/c" 9000
thaw_and_check "O_RDONLY|O_TRUNC after a read" $p "$TFS/c" 0

# 3. truncate() by path of a file that was read: its event is ignored now,
# so the guard's lease is what holds it.
cat "$TFS/d" >/dev/null
freeze
"$WL" shrink "$TFS/d" & p=$!
frozen_wait "truncate after a read" $p "$TFS/d" 9000
thaw_and_check "truncate after a read" $p "$TFS/d" 100
grep -q "guard of $TFS/d broken" "$TLOG" || fail "no guard break logged for d"

# 4. An open for write of a file being read (the reader still holds it).
exec 7<"$TFS/e"
head -c 10 <&7 >/dev/null
freeze
"$WL" append "$TFS/e" & p=$!
frozen_wait "append after a read" $p "$TFS/e" 9000
thaw_and_check "append after a read" $p "$TFS/e" 9020
exec 7<&-

# 5. --reads intent: a first read records an intent again.
tr_stop
tr_start --reads intent
cat "$TFS"/r/1 "$TFS"/r/2 >/dev/null
read -r intents opens <<<"$(counters)"
note "--reads intent, after reading 2 files: intents $intents, read opens $opens"
[ "$intents" -ge 2 ] || fail "--reads intent: $intents intents for 2 files read"
[ "$opens" = 0 ] || fail "--reads intent: $opens opens taken as reads"
tr_stop
echo PASS
