#!/bin/sh
# No cycles between the files of the program: from the object files the
# build made (nm), file A depends on file B when A uses a symbol B defines;
# the test fails on any group of files that depend on each other in a
# circle (a strongly connected component of more than one file), inside a
# layer too (tests/layers.sh checks the direction between layers).  The
# server's connection reaches the dispatcher and the counters through hooks
# handed in by `signet serve`, so handlers depend on the connection and not
# the other way round.
command -v nm >/dev/null 2>&1 || { echo "nm missing"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 missing"; exit 77; }
exec python3 - "$PWD" <<'EOPY'
import collections, os, subprocess, sys

build = sys.argv[1]
objs = []
for d, _, files in os.walk(build):
    rel = os.path.relpath(d, build)
    if rel.split(os.sep)[0] not in ("core", "conf", "proxy"):
        continue
    objs += [os.path.join(d, f) for f in files if f.endswith(".o")]
if not objs:
    print("no object files under %s: build first" % build)
    sys.exit(99)

def name(o):
    base = os.path.basename(o)[:-2]
    for p in ("libsignet_a-", "signet-"):
        if base.startswith(p):
            base = base[len(p):]
    return os.path.join(os.path.relpath(os.path.dirname(o), build), base + ".c")

defs, uses = {}, collections.defaultdict(set)
for o in objs:
    out = subprocess.run(["nm", o], capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "TDBR":
            defs[p[2]] = name(o)
        elif len(p) == 2 and p[0] == "U":
            uses[name(o)].add(p[1])
edges = collections.defaultdict(set)
for f, syms in uses.items():
    for s in syms:
        if s in defs and defs[s] != f:
            edges[f].add(defs[s])

index, low, stack, on, comps = {}, {}, [], set(), []
def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in sorted(edges.get(v, ())):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop()
            on.discard(w)
            c.append(w)
            if w == v:
                break
        comps.append(sorted(c))
sys.setrecursionlimit(10000)
for v in sorted(set(edges) | {w for s in edges.values() for w in s}):
    if v not in index:
        visit(v)
bad = [c for c in comps if len(c) > 1]
nfiles = len({name(o) for o in objs})
for c in bad:
    print("cycle:", " <-> ".join(c))
    for f in c:
        print("  %s -> %s" % (f, ", ".join(sorted(edges[f] & set(c)))))
print("%d files, %d dependencies, %d cycle(s)" %
      (nfiles, sum(len(s) for s in edges.values()), len(bad)))
sys.exit(1 if bad else 0)
EOPY
