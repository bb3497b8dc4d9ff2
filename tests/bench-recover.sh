#!/bin/bash
# Measures hsm-recover's replay on a cold cache, with the stats made one
# syscall at a time (the default) and with an io_uring IORING_OP_STATX
# prefetch of each batch (HSMJ_RECOVER_STATX=uring). Not a pass/fail test:
# `make bench` runs it (section "recover") and prints the numbers.
#   [BENCH_FILES=20000] [BENCH_ROUNDS=3] bash tests/bench-recover.sh
. "$(dirname "$0")/lib.sh"
need_root
H=$HSMJ_BUILD/tests/helpers
files=${BENCH_FILES:-20000}
rounds=${BENCH_ROUNDS:-3}

t_mkfs tfs ext4 1G
t_mkfs jdev ext4 1G
TFS=$T/tfs
# 200 directories, files spread over them: lookups and inode tables cold.
for ((d = 0; d < 200; d++)); do mkdir "$TFS/d$d"; done
for ((i = 0; i < files; i++)); do : >"$TFS/d$((i % 200))/f$i"; done
find "$TFS" -type f >"$T/list"
"$H/recover-mkintent" --journal "$T/jdev/base" --create --register "$TFS" --batch 1000 \
	--from "$T/list" >/dev/null || fail "recover-mkintent"
# A tenth of them changed.
for ((i = 0; i < files; i += 10)); do echo x >"$TFS/d$((i % 200))/f$i"; done

run() { # mode
	rm -rf "$T/jdev/j"
	cp -a "$T/jdev/base" "$T/jdev/j"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	local t0 t1
	t0=$(date +%s%N)
	HSMJ_RECOVER_STATX=$1 "$BIN/hsm-recover" --journal "$T/jdev/j" >"$T/out" 2>&1 || { cat "$T/out"; fail "run $1"; }
	t1=$(date +%s%N)
	echo "$1 $(( (t1 - t0) / 1000000 )) ms: $(tail -n1 "$T/out")"
}
for ((r = 0; r < rounds; r++)); do
	run sync
	run uring
done
# Where the time goes: --dry-run (no commits) cold and warm, and the
# commit size.
rm -rf "$T/jdev/j"; cp -a "$T/jdev/base" "$T/jdev/j"; sync; echo 3 >/proc/sys/vm/drop_caches
echo "dry-run cold: $("$BIN/hsm-recover" --journal "$T/jdev/j" --dry-run | tail -n1)"
echo "dry-run warm: $("$BIN/hsm-recover" --journal "$T/jdev/j" --dry-run | tail -n1)"
echo "dry-run warm uring: $(HSMJ_RECOVER_STATX=uring "$BIN/hsm-recover" --journal "$T/jdev/j" --dry-run | tail -n1)"
for b in 64 1024; do
	rm -rf "$T/jdev/j"; cp -a "$T/jdev/base" "$T/jdev/j"; sync; echo 3 >/proc/sys/vm/drop_caches
	echo "batch $b cold: $(HSMJ_RECOVER_BATCH=$b "$BIN/hsm-recover" --journal "$T/jdev/j" | tail -n1)"
done
