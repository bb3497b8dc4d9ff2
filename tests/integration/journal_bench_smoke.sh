#!/bin/bash
# The journal benchmark runs on a loop-mounted ext4 and prints a number for
# every batch size. No thresholds: this only proves it works.
. "$(dirname "$0")/../lib.sh"
need_root

bench=$BIN/hsmj-bench-journal
[ -x "$bench" ] || fail "$bench not built"
t_mkfs jsmoke ext4 256M

out=$T/bench.out
"$bench" --create --duration 0.2 "$T/jsmoke/journal" >"$out" 2>&1 || { cat "$out"; fail "bench exited non-zero"; }
cat "$out"

for b in 1 8 64 512; do
	# "batch commits/s intents/s commits p50 p99", all numbers, commits > 0
	grep -Eq "^ *$b +[0-9]+ +[0-9]+ +[1-9][0-9]* +[0-9]+ +[0-9]+$" "$out" ||
		fail "no result row for batch $b"
done
grep -Eq '^intents/s ratio batch 64 / batch 1: [0-9]+\.[0-9]$' "$out" || fail "no ratio line"

# The journal it wrote is a valid journal: the bench can reopen it.
"$bench" --duration 0.05 --batches 2 "$T/jsmoke/journal" >"$out" 2>&1 || { cat "$out"; fail "reopen failed"; }
grep -Eq '^ *2 +[0-9]+ +[0-9]+ +[1-9]' "$out" || fail "no row after reopen"
exit 0
