#!/bin/bash
# Settle racing writers: four writer loops do random modifications of 12
# files while the tracker settles them every 50 ms. Afterwards, for every
# file, the last change record's post stat must equal the file's final stat
# (a modification that slipped past a settle would leave the feed behind),
# and nothing may stay in flight. Seeded; the seed is printed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers/tracker-lib.sh"
tr_setup
seed=${HSMJ_SEED:-$(date +%s)}
note "seed $seed"
declare -A initial
for i in $(seq 0 11); do head -c 20000 /dev/urandom >"$TFS/r$i"; done
sync
for i in $(seq 0 11); do initial[$i]=$(stat -c '%s %.9Y' "$TFS/r$i"); done
tr_start --settle-delay 0.05

ops=(write append pwrite writev shrink grow otrunc fallocate mmap read)
writer() { # id
	RANDOM=$((seed + $1))
	local end=$((SECONDS + 6)) f op
	while [ $SECONDS -lt $end ]; do
		f=$TFS/r$((RANDOM % 12)) op=${ops[$((RANDOM % ${#ops[@]}))]}
		"$WL" "$op" "$f" 2>/dev/null || echo "op $op $f failed" >&2
		[ $((RANDOM % 4)) = 0 ] && sleep 0.0$((RANDOM % 10))
	done
}
pids=()
for w in 1 2 3 4; do writer "$w" & pids+=($!); done
wait "${pids[@]}"
tr_wait_settled 30

bad=0
for i in $(seq 0 11); do
	f=$TFS/r$i
	final="$(stat -c '%s %.9Y' "$f")"
	last=$(tr_feed feed | awk -F'\t' -v p="$f" '$2 == "change" && $3 ~ /data/ && $7 == p { l = $8 " " $9 } END { print l }')
	[ -n "$last" ] || last=${initial[$i]} # never modified: must be unchanged
	if [ "$final" != "$last" ]; then
		echo "r$i: final stat '$final', last change record '$last'" >&2
		bad=1
	fi
done
[ "$bad" = 0 ] || fail "the feed lags behind the files (seed $seed)"
note "$(tr_changes | grep -c data) data change records for 12 files"
tr_stop
