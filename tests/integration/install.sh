#!/bin/bash
# make install into a staging DESTDIR: programs, man pages and units land
# where the FHS says, the programs run, and every man page renders with the
# sections an administrator looks for.
. "$(dirname "$0")/../lib.sh"
need_root
top=$(cd "$(dirname "$0")/../.." && pwd)
dest=$T/dest
make -C "$top" -s install DESTDIR="$dest" PREFIX=/usr/local BUILD="$HSMJ_BUILD" >"$T/make.log" 2>&1 ||
	{ cat "$T/make.log"; fail "make install"; }
for p in hsm-tracker hsm-recover hsm-journal; do
	[ -x "$dest/usr/local/bin/$p" ] || fail "$p not installed"
	"$dest/usr/local/bin/$p" --version | grep -q "^$p [0-9]" || fail "$p --version"
done
for m in man1/hsm-journal.1 man8/hsm-tracker.8 man8/hsm-recover.8; do
	f=$dest/usr/local/share/man/$m
	[ -f "$f" ] || fail "$m not installed"
	out=$(MANWIDTH=80 man -l "$f" 2>"$T/man.err") || fail "man -l $m"
	[ -s "$T/man.err" ] && { cat "$T/man.err"; fail "man -l $m printed warnings"; }
	for s in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "$s" <<<"$out" || fail "$m has no $s section"
	done
done
for u in hsm-tracker.service hsm-recover.service; do
	[ -f "$dest/usr/local/lib/systemd/system/$u" ] || fail "$u not installed"
done
note "installed 3 programs, 3 man pages, 2 units under $dest"
echo PASS
