#!/bin/bash
# docs/systemd/hsm-recover.service passes `systemd-analyze verify` together
# with the tracker's unit and is ordered before it; docs/hsm-recover.8
# renders without warnings; the CLI contract: usage errors exit 2, a journal
# held by another writer exits 1 naming the cause, --help/--version exit 0.
. "$(dirname "$0")/../lib.sh"
need_root
here=$(cd "$(dirname "$0")/../.." && pwd)
H=$HSMJ_BUILD/tests/helpers
[ -x "$BIN/hsm-recover" ] || fail "hsm-recover not built"

unit=$here/docs/systemd/hsm-recover.service
[ -f "$unit" ] || fail "$unit missing"
grep -q '^Type=oneshot$' "$unit" || fail "not Type=oneshot"
grep -q '^After=local-fs.target$' "$unit" || fail "not After=local-fs.target"
grep -q '^Before=hsm-tracker.service$' "$unit" || fail "not Before=hsm-tracker.service"
grep -q '^ExecStart=/usr/local/bin/hsm-recover --journal /var/lib/hsm-journal --rescan auto$' "$unit" ||
	fail "unexpected ExecStart"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/unit"
	# verify wants ExecStart to exist: point it at this build.
	sed "s|/usr/local/bin/hsm-recover|$BIN/hsm-recover|" "$unit" >"$T/unit/hsm-recover.service"
	units=("$T/unit/hsm-recover.service")
	if [ -f "$here/docs/systemd/hsm-tracker.service" ] && [ -x "$BIN/hsm-tracker" ]; then
		sed "s|/usr/local/bin/hsm-tracker|$BIN/hsm-tracker|" "$here/docs/systemd/hsm-tracker.service" \
			>"$T/unit/hsm-tracker.service"
		units+=("$T/unit/hsm-tracker.service")
	fi
	out=$(systemd-analyze verify --man=no "${units[@]}" 2>&1) || fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
	note "systemd-analyze verify: clean (${#units[@]} units)"
else
	echo "NOTE: systemd-analyze is not installed: the unit file was NOT verified" >&2
fi

if command -v groff >/dev/null; then
	out=$(groff -man -Tutf8 -ww -z "$here/docs/hsm-recover.8" 2>&1) || fail "groff: $out"
	[ -z "$out" ] || fail "groff warns: $out"
	for s in "EXIT STATUS" EXAMPLES; do
		grep -q "^\.SH $s\$" "$here/docs/hsm-recover.8" || fail "man page has no $s section"
	done
else
	echo "NOTE: groff is not installed: the man page was NOT checked" >&2
fi

# CLI contract.
"$BIN/hsm-recover" --help | grep -q -- '--rescan none|auto|full' || fail "--help"
"$BIN/hsm-recover" --version | grep -q '^hsm-recover ' || fail "--version"
expect_rc() { # rc cmd...
	local want=$1 rc; shift
	"$@" >"$T/out" 2>&1; rc=$?
	[ $rc = "$want" ] || { cat "$T/out"; fail "$* exited $rc, expected $want"; }
}
expect_rc 2 "$BIN/hsm-recover" --journal "$T/j" --rescan sometimes
expect_rc 2 "$BIN/hsm-recover" --journal "$T/j" --mount nonsense
expect_rc 2 "$BIN/hsm-recover" --journal "$T/j" --bogus
expect_rc 2 "$BIN/hsm-recover" --journal "$T/j" extra
expect_rc 2 env -u HSM_JOURNAL_DIR "$BIN/hsm-recover"
expect_rc 1 "$BIN/hsm-recover" --journal "$T/nonexistent"
[ "$(wc -l <"$T/out")" = 1 ] || fail "an error is not one line"

# A journal held by another writer: exit 1, the cause named; --dry-run works.
t_mkfs jdev ext4 64M
J=$T/jdev/j
"$H/recover-mkintent" --journal "$J" --create >/dev/null || fail "create journal"
HSM_JOURNAL_DIR=$J expect_rc 0 "$BIN/hsm-recover"
grep -q "recovered 0 intents" "$T/out" || fail "HSM_JOURNAL_DIR not used"
# Hold the journal for writing, as a running tracker does.
t_bg holder "$H/recover-hold" "$J" "$T/holding"
t_wait_for 20 grep -q holding "$T/holding" || fail "recover-hold did not open the journal"
expect_rc 1 "$BIN/hsm-recover" --journal "$J"
grep -q "another writer holds the journal" "$T/out" || { cat "$T/out"; fail "EBUSY not explained"; }
[ "$(wc -l <"$T/out")" = 1 ] || fail "the EBUSY error is not one line"
expect_rc 0 "$BIN/hsm-recover" --journal "$J" --dry-run
kill -TERM "$holder"; wait "$holder"
expect_rc 0 "$BIN/hsm-recover" --journal "$J"
echo PASS
