#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of oracle.py check: synthetic manifests, operation logs and feeds
for which the verdict is known, so that an oracle that always passes (or
always fails) is caught. Run by tests/integration/crash_smoke.sh."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = "/mnt/tfs"
S = 1000000000  # ns


def ts(ns):
    """ns since the epoch -> RFC 3339 with nanoseconds, as hsm-journal prints"""
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // S)) + ".%09dZ" % (ns % S)


def f(path, sha="a", size=1, ino=10, mode=0o644, gen=0):
    return {"path": path, "type": "f", "size": size, "sha1": sha, "mode": mode, "ino": ino, "gen": gen}


def d(path, ino=2, mode=0o755):
    return {"path": path, "type": "d", "mode": mode, "ino": ino}


def change(path, reasons, path2=None, handle=None):
    r = {"kind": "change", "reasons": reasons, "path": ROOT + "/" + path,
         "path2": ROOT + "/" + path2 if path2 else None}
    if handle:
        r["handle"] = handle
    return r


def marker(since, path="", jsn=1):
    return {"kind": "rescan", "jsn": jsn, "path": ROOT + ("/" + path if path else ""),
            "cause": "unclean-stop", "since": ts(since), "until": None}


T0 = 1700000000 * S


def op(seq, start, name, path, path2=None, end=None, rc=0, ino=0):
    b = "B %d %d %s %s%s\n" % (seq, start, name, path, " " + path2 if path2 else "")
    if end is None:
        return b  # cut by the crash
    return b + "E %d %d %d %d 0\n" % (seq, end, rc, ino)


def run(name, pre, post, feed, oplog, want_misses, extra=()):
    with tempfile.TemporaryDirectory() as t:
        for fn, content in (("pre", pre), ("post", post)):
            with open(os.path.join(t, fn), "w") as fh:
                for e in content:
                    fh.write(json.dumps(e) + "\n")
        with open(os.path.join(t, "feed"), "w") as fh:
            for r in feed:
                fh.write(json.dumps(r) + "\n")
            fh.write('{"cursor":"hsmj1:x:1"}\n')
        with open(os.path.join(t, "ops"), "w") as fh:
            fh.write("".join(oplog))
        p = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "check", "--root", ROOT,
                            "--pre", os.path.join(t, "pre"), "--post", os.path.join(t, "post"),
                            "--feed", os.path.join(t, "feed"), "--oplog", os.path.join(t, "ops"),
                            "--stats", os.path.join(t, "stats"), *extra],
                           capture_output=True, text=True)
        if p.returncode not in (0, 1):
            print("FAIL %s: oracle.py exited %d\n%s" % (name, p.returncode, p.stderr))
            return False
        with open(os.path.join(t, "stats")) as fh:
            misses = json.loads(fh.readline())["misses"]
        if misses != want_misses or (p.returncode == 1) != (want_misses > 0):
            print("FAIL %s: %d misses (exit %d), expected %d\n%s" % (name, misses, p.returncode,
                                                                     want_misses, p.stdout))
            return False
        print("ok   %s" % name)
        return True


def main():
    ok = True
    base = [d("a"), f("a/x", ino=11), f("y", ino=12)]
    # a content change nobody names is a miss; named by path, not
    changed = [d("a"), f("a/x", sha="b", ino=11), f("y", ino=12)]
    w = [op(1, T0 + 1 * S, "write", "a/x", end=T0 + 1 * S + 5, ino=11)]
    ok &= run("unnamed data change", base, changed, [], w, 1)
    ok &= run("named data change", base, changed, [change("a/x", ["data"])], w, 0)
    ok &= run("named as path2", base, changed, [change("z", ["rename-from"], "a/x")], w, 0)
    # identical trees need nothing
    ok &= run("no change", base, base, [], [], 0)
    # a whole-mount marker covers a change made after its since, not before
    ok &= run("marker after change", base, changed, [marker(T0 + 2 * S)], w, 1)
    ok &= run("marker before change", base, changed, [marker(T0)], w, 0)
    ok &= run("marker for another subtree", base, changed, [marker(T0, "b")], w, 1)
    # an operation the crash cut short counts until the crash
    ok &= run("cut operation", base, changed, [marker(T0 + 2 * S)],
              [op(1, T0 + 1 * S, "write", "a/x")], 0)
    # a failed rmdir of the ancestor changes nothing below it
    ok &= run("failed rmdir", base, changed, [marker(T0 + 2 * S)],
              w + [op(2, T0 + 3 * S, "rmdir", "a", end=T0 + 3 * S + 1, rc=39)], 1)
    # a rename of the ancestor after the marker's since does
    ok &= run("ancestor rename", base, changed, [marker(T0 + 2 * S)],
              w + [op(2, T0 + 3 * S, "rename", "a", "c", end=T0 + 3 * S + 1)], 0)
    # subtree rules: a new directory covers what is below it; a deleted one
    # covers what is gone below it, not what exists there now
    moved = [d("c"), f("c/x", ino=11), f("y", ino=12)]
    ok &= run("renamed dir, both names", base, moved,
              [change("a", ["rename-from"], "c"), change("c", ["rename-to"], "a")], [], 0)
    ok &= run("renamed dir, old name only", base, moved, [change("a", ["delete"])], [], 2)
    recreated = [d("a"), f("a/x", sha="b", ino=13), f("y", ino=12)]
    ok &= run("delete of dir does not cover a new file in it", base, recreated,
              [change("a", ["delete"])], [], 1)
    ok &= run("create of dir covers a new file in it", base, recreated,
              [change("a", ["create"])], [], 0)
    # mode and existence differences
    ok &= run("chmod unnamed", base, [d("a"), f("a/x", ino=11, mode=0o600), f("y", ino=12)], [], [], 1)
    ok &= run("new file unnamed", base, base + [f("n", ino=14)], [], [], 1)
    ok &= run("new file named", base, base + [f("n", ino=14)], [change("n", ["create"])], [], 0)
    # hard links: y's other name is named (by handle, ext4 type 1: ino 12,
    # generation 7); a miss only with --strict-links
    ll = [d("a"), f("a/x", ino=11), f("y", ino=12, gen=7), f("a/l", ino=12, gen=7)]
    ll2 = [d("a"), f("a/x", ino=11), f("y", sha="b", ino=12, gen=7), f("a/l", sha="b", ino=12, gen=7)]
    h = {"fsid": "0", "type": 1, "handle": (12).to_bytes(4, "little").hex() + (7).to_bytes(4, "little").hex()}
    ok &= run("other hard link named", ll, ll2, [change("a/l", ["data"], handle=h)], [], 0)
    ok &= run("other hard link, strict", ll, ll2, [change("a/l", ["data"], handle=h)], [], 1,
              ("--strict-links",))
    hx = {"fsid": "0", "type": 0x81, "handle": (12).to_bytes(8, "little").hex() + (7).to_bytes(4, "little").hex()}
    ok &= run("other hard link named, xfs handle", ll, ll2, [change("q", ["data"], handle=hx)], [], 0)
    hb = {"fsid": "0", "type": 0x4d,
          "handle": (12).to_bytes(8, "little").hex() + (5).to_bytes(8, "little").hex() + (7).to_bytes(4, "little").hex()}
    ok &= run("other hard link named, btrfs handle", ll, ll2, [change("q", ["data"], handle=hb)], [], 0)
    # a write through the other name, cut short by the crash (no E line):
    # its inode comes from the manifest, so a marker covers both names
    ok &= run("cut write through another name", ll, ll2, [marker(T0)],
              [op(1, T0 + 1 * S, "write", "a/l")], 0)
    h_other_gen = dict(h, handle=(12).to_bytes(4, "little").hex() + (8).to_bytes(4, "little").hex())
    ok &= run("same inode, other generation", ll, ll2, [change("q", ["data"], handle=h_other_gen)], [], 2)
    # a marker closed by a walk covers only what is gone
    closed = [marker(T0, jsn=5), {"kind": "rescan-done", "marker": 5}]
    ok &= run("walked marker, existing path", base, changed, closed, w, 1)
    ok &= run("walked marker, gone path", base, [d("a"), f("y", ino=12)], closed,
              [op(1, T0 + 1 * S, "unlink", "a/x", end=T0 + 1 * S + 5, ino=11)], 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
