# Shared by tests/integration/backup_*.sh (source after tests/lib.sh).
#   bk_setup                 loop ext4 TFS at $T/tfs (data in $S), journal on a
#                            second loop ext4 ($J), a real hsm-tracker running;
#                            $H is hsm-journal; HSM_JOURNAL_DIR is exported
#   bk_start, bk_stop        start (wait for ready) or SIGTERM the tracker
#   bk_seed                  sets SEED (HSMJ_SEED or random) and prints it
#   bk_workload NOPS ROUND   the seeded random workload on $S (log in $T)
#   bk_sync                  wait until the feed holds everything done so far
#   bk_recipe NAME           a recipe block of docs/BACKUP.md, as written
#   bk_do NAME, bk_do_fails  run $T/NAME.sh, expecting success or failure
#   bk_same A B WHAT         fail unless trees A and B are equal: types, contents,
#                            modes, mtimes, symlink targets, hard-link groups
#   bk_scenario              the rounds every backup test runs (see there)
HELPERS=$HSMJ_BUILD/tests/helpers
BK_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
H=$BIN/hsm-journal
TPID=

bk_setup() {
	need_root
	[ -x "$H" ] || fail "build first: $H missing"
	[ -x "$BIN/hsm-tracker" ] || fail "build first: $BIN/hsm-tracker missing"
	t_mkfs tfs ext4 256M
	t_mkfs jfs ext4 128M
	S=$T/tfs/data J=$T/jfs/journal
	mkdir -p "$S" "$T/sync"
	export HSM_JOURNAL_DIR=$J
	bk_start
}

bk_start() {
	: >>"$T/tracker.log"
	local from
	from=$(wc -l <"$T/tracker.log")
	t_bg TPID "$BIN/hsm-tracker" --journal "$J" --watch "$T/tfs" --settle-delay 0.2 \
		--heartbeat 0.5 2>>"$T/tracker.log"
	t_wait_for 30 sh -c "tail -n +$((from + 1)) '$T/tracker.log' | grep -q ': ready:'" ||
		{ cat "$T/tracker.log" >&2; fail "hsm-tracker not ready"; }
}

bk_stop() {
	local rc=0
	kill -TERM "$TPID"
	wait "$TPID" || rc=$?
	[ "$rc" = 0 ] || { tail -n 20 "$T/tracker.log" >&2; fail "hsm-tracker exited with $rc at SIGTERM"; }
	TPID=
}

# HSMJ_BACKUP_KEEP=DIR: copy the workload and tracker logs there on failure
bk_keep_logs() {
	[ -n "${HSMJ_BACKUP_KEEP:-}" ] || return 0
	mkdir -p "$HSMJ_BACKUP_KEEP" && cp "$T"/*.log "$HSMJ_BACKUP_KEEP/" 2>/dev/null
	"$H" changes --format jsonl >"$HSMJ_BACKUP_KEEP/feed.jsonl" 2>&1
	"$H" in-flight --format jsonl >"$HSMJ_BACKUP_KEEP/in-flight.jsonl" 2>&1
	rm -rf "$HSMJ_BACKUP_KEEP/journal"; cp -a "$J" "$HSMJ_BACKUP_KEEP/journal"
	echo "$S" >"$HSMJ_BACKUP_KEEP/src"
	return 0
}

bk_alive() {
	kill -0 "$TPID" 2>/dev/null || { tail -n 20 "$T/tracker.log" >&2; fail "hsm-tracker died"; }
}

bk_seed() {
	SEED=${HSMJ_SEED:-$(( (RANDOM << 15) | RANDOM ))}
	note "seed $SEED (HSMJ_SEED=$SEED repeats it)"
}

bk_workload() { # NOPS ROUND
	bash "$BK_HELPERS/backup-workload.sh" "$S" "$1" "$((SEED + $2))" >"$T/workload.$2.log" 2>&1 ||
		fail "workload round $2 failed"
}

# A sentinel file created on the TFS outside $S after the workload: the
# notification queue is ordered, so once the sentinel's record is in the
# feed every namespace record before it is too; data changes are in once
# nothing is in flight.
_bk_sync_n=0
_bk_sentinel_seen() {
	"$H" changes --under "$T/tfs/.bk-sync" 2>/dev/null | grep -qxF "$1"
}
_bk_nothing_in_flight() { [ -z "$("$H" in-flight 2>/dev/null)" ]; }
# Intents the tracker cannot settle: their path is gone (renamed over or
# unlinked) while the file had another name, so settle's lookup by path fails
# for ever ("settle: PATH: No such file or directory"; reproducers in
# /work/notes/bugs/settle-stuck-deleted-hardlinked-file.sh and
# change-record-path-deleted-suffix.sh). Unless HSMJ_BACKUP_STRICT=1 the
# tests wait past them, once they had 5 s to settle, and say how many there
# are and how many of those files still exist under another name: whether
# the feed missed a change is then for the tree comparison to tell.
BK_STUCK=0 BK_STUCK_ALIVE=0
_bk_only_stuck_in_flight() {
	local line type hex path nl n=0 alive=0
	"$H" in-flight --format jsonl 2>/dev/null |
		jq -j 'select(.kind == "intent") | "\(.handle.type) \(.handle.handle) \(.path)\u0000"' >"$T/inflight" || return 1
	while IFS= read -r -d '' line; do
		type=${line%% *} line=${line#* }
		hex=${line%% *} path=${line#* }
		[ -e "$path" ] && return 1
		nl=$("$HELPERS/backup-handle-nlink" "$T/tfs" "$type" "$hex") || return 1
		[ "$nl" = 0 ] || alive=$((alive + 1))
		n=$((n + 1))
	done <"$T/inflight"
	BK_STUCK=$n BK_STUCK_ALIVE=$alive
}
bk_sync() {
	_bk_sync_n=$((_bk_sync_n + 1))
	local s=$T/tfs/.bk-sync/$_bk_sync_n
	mkdir -p "$T/tfs/.bk-sync"
	: >"$s"
	# slow builds (sanitizers) on a busy machine settle late: up to 60 s
	if ! t_wait_for 15 _bk_nothing_in_flight; then
		if [ "${HSMJ_BACKUP_STRICT:-0}" = 1 ] || ! t_wait_for 45 _bk_only_stuck_in_flight; then
			bk_keep_logs
			fail "still in flight after 60 s: $("$H" in-flight)"
		fi
		note "tracker bug: $BK_STUCK intent(s) stuck in flight under a path that is gone, $BK_STUCK_ALIVE of those files still exist under another name"
	fi
	t_wait_for 30 _bk_sentinel_seen "$s" || fail "sentinel $s not in the feed after 30 s"
	bk_alive
}

# The manifest of a tree: one line per entry with its type, mode, size, mtime
# (nanoseconds), symlink target and, for files, the SHA-256 of the contents;
# then the hard-link groups (names sharing an inode). Directory sizes are
# left out (they depend on the history of the directory, not its contents).
bk_manifest() { # DIR
	(
		cd "$1" || exit 1
		find . -mindepth 1 \( -type f -printf 'f %m %s %T@ %p\0' \) -o \
			\( -type l -printf 'l %T@ %p -> %l\0' \) -o \
			\( -type d -printf 'd %m %T@ %p\0' \) -o -printf '? %p\0' | sort -z | tr '\0\n' '\n\\'
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum | sed 's/^\\//'
		find . -type f -links +1 -printf '%i %p\0' | sort -z -n | {
			prev= group=
			while IFS= read -r -d '' line; do
				ino=${line%% *} p=${line#* }
				if [ "$ino" != "$prev" ] && [ -n "$group" ]; then echo "hardlinks$group"; group=; fi
				prev=$ino group+=" ${p//$'\n'/\\}"
			done
			[ -z "$group" ] || echo "hardlinks$group"
		} | sort
	)
}

bk_same() { # A B WHAT
	bk_manifest "$1" >"$T/m.a" || fail "manifest of $1"
	bk_manifest "$2" >"$T/m.b" || fail "manifest of $2"
	[ -s "$T/m.a" ] || fail "$3: empty manifest of $1"
	diff -u "$T/m.a" "$T/m.b" >"$T/m.diff" || { bk_keep_logs; head -n 40 "$T/m.diff" >&2; fail "$3: trees differ ($1 vs $2; seed $SEED)"; }
}

# bk_recipe NAME: the code block that follows "<!-- recipe: NAME -->" in
# docs/BACKUP.md, as written there.
bk_recipe() {
	local doc
	doc=$(cd "$BK_HELPERS/../.." && pwd)/docs/BACKUP.md
	awk -v m="<!-- recipe: $1 -->" '$0 == m { f = 1; next }
		f && /^```/ { if (g) exit; g = 1; next }
		g { print }' "$doc" >"$T/recipe.$1"
	[ -s "$T/recipe.$1" ] || fail "recipe $1 not found in $doc"
	cat "$T/recipe.$1"
}

# bk_scenario: the story every backup test tells, over the real tracker.
# The test sets CONSUMER (exported) and defines
#   bk_do full|inc      run that recipe of docs/BACKUP.md (fail on error)
#   bk_check WHAT       fail unless the backup (copy or restore) equals $S
#   bk_break, bk_unbreak (optional) make the next run fail, and undo it
# Rounds: an initial tree and the full backup; HSMJ_BACKUP_ROUNDS rounds of
# HSMJ_BACKUP_OPS operations each followed by the incremental; a round while
# the tracker is stopped (exit 4: downtime marker); a round after the
# consumer expired (exit 3: full); a failed run that must not ack; a run
# during the workload (it may fail; the next one, on a quiet tree, must be
# complete: changes during a run are in the next run's range).
# bk_do NAME: run $T/NAME.sh (a recipe the test extracted with bk_recipe)
bk_do() {
	sh "$T/$1.sh" >"$T/$1.out" 2>&1 || { bk_keep_logs; cat "$T/$1.out" >&2; fail "recipe $1 failed (seed $SEED)"; }
}
bk_do_fails() { sh "$T/$1.sh" >/dev/null 2>&1 && fail "recipe $1 succeeded, but it should have failed"; return 0; }
bk_peek() { # exit status of the next changes the recipe will see
	"$H" changes --consumer "$CONSUMER" --coalesce --under "$S" --format paths0 >/dev/null 2>"$T/peek.err"
	echo $?
}
bk_acked() { "$H" consumers --json | jq -r --arg c "$CONSUMER" '.[] | select(.name == $c) | .cursor'; }
BK_MARKER_ROUNDS=0
bk_scenario() {
	local how rounds=${HSMJ_BACKUP_ROUNDS:-${BK_ROUNDS:-4}} ops=${HSMJ_BACKUP_OPS:-150} r rc n before
	note "initial tree, full backup"
	bk_workload 60 0
	bk_sync
	bk_do full
	[ -n "$(bk_acked)" ] || fail "the full backup did not ack"
	bk_check "full backup"
	for ((r = 1; r <= rounds; r++)); do
		bk_workload "$ops" "$r"
		bk_sync
		rc=$(bk_peek)
		# 4 without downtime: the tracker could not name some change and
		# said so with a marker (the promised fallback); the recipe rescans,
		# which also hides what the list lacked: counted and reported
		case $rc in
		0) how= ;;
		4) how=", exit 4: $(sed -n 's/^rescan needed: //p' "$T/peek.err" | sort -u | tr '\n' ' ')"
		   BK_MARKER_ROUNDS=$((BK_MARKER_ROUNDS + 1)); bk_keep_logs ;;
		*) cat "$T/peek.err" >&2; fail "round $r: changes exited $rc" ;;
		esac
		n=$("$H" changes --consumer "$CONSUMER" --coalesce --under "$S" --format paths0 2>/dev/null | tr -cd '\0' | wc -c)
		# a test may look at what the list alone would have done
		if [ "$rc" = 4 ] && declare -F bk_before_rescan >/dev/null; then bk_before_rescan "$r"; fi
		bk_do inc
		bk_check "round $r ($n net entries$how)"
		note "round $r: $(grep -c . "$T/workload.$r.log") operations, $n net entries$how, backup equal"
	done

	note "a backup while the workload runs: may fail, never acks a partial copy; the next one is complete"
	local wpid
	t_bg wpid bash -c 'exec bash "$1" "$2" "$3" "$4" >"$5" 2>&1' sh \
		"$BK_HELPERS/backup-workload.sh" "$S" "$ops" "$((SEED + 50))" "$T/workload.50.log"
	sh "$T/inc.sh" >"$T/inc.busy.out" 2>&1 && note "  the run during the workload succeeded" ||
		note "  the run during the workload failed (exit $?): retried"
	wait "$wpid"
	bk_sync
	bk_do inc
	bk_check "after a backup during the workload"

	note "a round while the tracker is down: exit 4 (downtime marker), rescan"
	bk_stop
	bk_workload "$ops" 100
	bk_start
	bk_sync
	rc=$(bk_peek)
	[ "$rc" = 4 ] || { cat "$T/peek.err" >&2; fail "changes after downtime exited $rc, not 4"; }
	grep -q '^rescan needed: .*(downtime)' "$T/peek.err" || { cat "$T/peek.err" >&2; fail "no downtime marker"; }
	bk_do inc
	bk_check "after downtime"

	note "an expired consumer: exit 3, full backup"
	bk_workload "$ops" 200
	bk_sync
	bk_stop
	"$H" trim --keep 0 --max-age 0 --max-records 1 >"$T/trim.out" || fail "trim"
	grep -q "consumer $CONSUMER expired" "$T/trim.out" || { cat "$T/trim.out" >&2; fail "$CONSUMER did not expire"; }
	bk_start
	bk_workload 40 201
	bk_sync
	rc=$(bk_peek)
	[ "$rc" = 3 ] || fail "changes for an expired consumer exited $rc, not 3"
	bk_do inc
	bk_check "full backup after expiry"
	[ "$("$H" consumers --json | jq -r --arg c "$CONSUMER" '.[] | select(.name == $c) | .state')" = ok ] ||
		fail "$CONSUMER not ok after the full backup: $("$H" consumers --json)"

	if declare -F bk_break >/dev/null; then
		note "a failed run does not ack"
		before=$(bk_acked)
		bk_workload 30 300
		bk_sync
		bk_break
		bk_do_fails inc
		[ "$(bk_acked)" = "$before" ] || fail "a failed run moved the consumer"
		bk_unbreak
		bk_do inc
		bk_check "after a failed run"
	fi
	bk_stop
	! grep -E 'runtime error|Sanitizer' "$T/tracker.log" >&2 || fail "sanitizer report in the tracker log"
	[ "$BK_MARKER_ROUNDS" = 0 ] || note "$BK_MARKER_ROUNDS of $rounds rounds had a rescan marker without downtime (the backup was checked after the rescan)"
}
