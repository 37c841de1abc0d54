#!/bin/bash
# Variables set through eval, functions run from traps:
# shellcheck disable=SC2154,SC2317
# tests/bench/verify_bench.sh: what verifying signatures on pull costs.
#
# One run starts a docker-registry (CNCF distribution) and two signets in
# front of it, on free 127.0.0.1 ports in a private temporary directory:
#
#   pass-through   signet with no policies: it verifies nothing
#   enforcing      signet with a signing key and the rule
#                  {"match": "v/*", "sign": "required", "verify": "enforce"}
#                  (everything else "sign": "off"), verify_cache
#                  success_ttl 300, failure_ttl 10
#
# Images pushed through the enforcing signet to v/... are signed there.  Then:
#
#   1. warm cache: VERIFY_BENCH_HEADS manifest HEADs by tag (v/app:1) from
#      VERIFY_BENCH_CONCURRENCY python3 threads, each on its own keep-alive
#      http.client connection, against (a) the registry directly, (b) the
#      pass-through signet, (c) the enforcing signet after one GET (cache
#      warm); then the same with one client (VERIFY_BENCH_SEQ sequential
#      HEADs per target): with 16 clients on 2 cores the registry's CPU
#      dominates.  VERIFY_BENCH_ROUNDS rounds, the order rotating.  Every
#      answer must be 200 with the right Docker-Content-Digest.
#      p50/p90/p99 (pooled over the rounds), throughput, CPU per request
#      (utime+stime from /proc/PID/stat, and the on-CPU ns of
#      /proc/PID/task/*/schedstat), and the added p50 latency of enforcing
#      over pass-through (target: < 10 %).
#   2. cold verification: VERIFY_BENCH_COLD distinct signed images (pushed
#      through the enforcing signet first); the enforcing signet is
#      restarted (empty cache), then one manifest GET per image through it
#      and through the pass-through signet (the order alternating), timed by
#      the client; median/p90 and the difference, and the
#      signet_verification_seconds histogram from GET /metrics.
#
# Environment:
#   VERIFY_BENCH_HEADS=2000       HEADs per target and round, 16 clients
#   VERIFY_BENCH_CONCURRENCY=16   concurrent HEAD clients
#   VERIFY_BENCH_ROUNDS=3         rounds of part 1 (percentiles are pooled)
#   VERIFY_BENCH_SEQ=1000         sequential HEADs per target and round
#   VERIFY_BENCH_COLD=50          images for the cold verification
#   VERIFY_BENCH_KEEP=1           keep the temporary directory and its logs
#   SIGNET=PATH                   the signet binary (default: ./signet in the
#                                 source tree, else signet on PATH)
#
# Exit status: 0 when every request was answered as expected (whether or
# not the target was met), 1 when one was not or a server died, 2 on a
# setup problem.  The script installs nothing.
set -eu

HEADS=${VERIFY_BENCH_HEADS:-2000}
CONC=${VERIFY_BENCH_CONCURRENCY:-16}
ROUNDS=${VERIFY_BENCH_ROUNDS:-3}
SEQ=${VERIFY_BENCH_SEQ:-1000}
COLD=${VERIFY_BENCH_COLD:-50}

BENCH=verify_bench
BENCH_TOOLS="docker-registry skopeo curl python3 awk"
BENCH_DEBS="docker-registry skopeo curl python3 gawk"
KEEP=${VERIFY_BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

for v in HEADS CONC ROUNDS SEQ COLD; do
	eval "val=\$$v"
	case $val in
	'' | *[!0-9]*) die "VERIFY_BENCH_$v must be a positive integer, not '$val'" ;;
	esac
	[ "$val" -gt 0 ] || die "VERIFY_BENCH_$v must be > 0"
done

read -r REG_PORT PASS_PORT ENF_PORT <<EOF
$(free_ports 3)
EOF
REG=127.0.0.1:$REG_PORT
PASS=127.0.0.1:$PASS_PORT
ENF=127.0.0.1:$ENF_PORT

alive() {
	for p in $REG_PID $PASS_PID $ENF_PID; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "verify_bench: a server died (pid $p)" >&2
			exit 1
		fi
	done
}

ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# --- the measuring and reporting helper (python3, standard library only) -------

cat >"$T/vb.py" <<'PYEOF'
import hashlib, http.client, json, math, os, statistics, sys, threading, time

OCI = "application/vnd.oci.image.manifest.v1+json"
CLK = os.sysconf("SC_CLK_TCK")

def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]

def cpu(pid):
    """(utime+stime s from /proc/PID/stat, on-CPU s summed over the
    threads' schedstat, or None)"""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fl = s[s.rindex(")") + 2:].split()
    ticks = int(fl[11]) + int(fl[12])
    ns = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ns = None
    return ticks / CLK, (ns / 1e9 if ns is not None else None)

def parse_pids(spec):
    out = {}
    for part in spec.split(","):
        if part:
            k, v = part.split(":")
            out[k] = int(v)
    return out

def cpu_all(pids):
    return {k: cpu(p) for k, p in pids.items()}

def cpu_delta(a, b):
    out = {}
    for k in a:
        t = b[k][0] - a[k][0]
        n = (b[k][1] - a[k][1]) if a[k][1] is not None and b[k][1] is not None else None
        out[k] = [t, n]
    return out

class Bad(Exception):
    pass

def head(c, path, digest):
    c.request("HEAD", path, headers={"Accept": OCI})
    r = c.getresponse()
    r.read()
    got = r.getheader("Docker-Content-Digest")
    if r.status != 200 or got != digest:
        raise Bad("HEAD %s: HTTP %d, Docker-Content-Digest %s (want 200, %s)"
                  % (path, r.status, got, digest))

def heads(results, label, target, rnd, hostport, path, digest, n, conc, pids):
    """n HEADs from conc threads, each on its own keep-alive connection;
    4 untimed warm-up HEADs per thread first.  CPU of pids over the timed
    part only."""
    host, port = hostport.rsplit(":", 1)
    pids = parse_pids(pids)
    per = [n // conc + (1 if i < n % conc else 0) for i in range(conc)]
    lat = [[] for _ in range(conc)]
    errs = []
    ready = threading.Barrier(conc + 1)
    go = threading.Barrier(conc + 1)

    def worker(i):
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for _ in range(4):
                head(c, path, digest)
            ready.wait()
            go.wait()
            mine = lat[i]
            for _ in range(per[i]):
                t0 = time.perf_counter()
                head(c, path, digest)
                mine.append((time.perf_counter() - t0) * 1e3)
        except threading.BrokenBarrierError:
            pass
        except Exception as e:
            errs.append("%s: %s" % (type(e).__name__, e))
            ready.abort()
            go.abort()
        finally:
            c.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(conc)]
    for t in ts:
        t.start()
    try:
        ready.wait()
        c0 = cpu_all(pids)
        w0 = time.perf_counter()
        go.wait()
    except threading.BrokenBarrierError:
        pass
    for t in ts:
        t.join()
    w1 = time.perf_counter()
    c1 = cpu_all(pids) if not errs else None
    if errs:
        for e in errs[:5]:
            print("FAILED (%s %s): %s" % (label, target, e), file=sys.stderr)
        sys.exit(1)
    allv = [x for l in lat for x in l]
    rec = {"test": label, "target": target, "round": rnd, "n": len(allv),
           "conc": conc, "wall": w1 - w0, "lat": allv,
           "cpu": cpu_delta(c0, c1)}
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print("  %-6s %-13s round %s: %5d HEADs, %d client(s), p50 %.2f ms, "
          "%.0f/s" % (label, target, rnd, len(allv), conc,
                      statistics.median(allv), len(allv) / (w1 - w0)))

def get(c, path, digest):
    t0 = time.perf_counter()
    c.request("GET", path, headers={"Accept": OCI})
    r = c.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t0) * 1e3
    got = r.getheader("Docker-Content-Digest")
    if r.status != 200 or got != digest or \
            "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        raise Bad("GET %s: HTTP %d, Docker-Content-Digest %s, body sha256:%s "
                  "(want 200, %s): %s" % (path, r.status, got,
                  hashlib.sha256(body).hexdigest(), digest, body[:300]))
    return dt

def cold(results, listfile, passhp, enfhp, pids):
    """One GET per image through each signet, the order alternating; the
    first image (index 0) is timed apart: the enforcing signet's first
    verification after its start."""
    pids = parse_pids(pids)
    imgs = [l.split() for l in open(listfile) if l.strip()]
    conns = {}
    for name, hp in (("pass", passhp), ("enforce", enfhp)):
        h, p = hp.rsplit(":", 1)
        conns[name] = http.client.HTTPConnection(h, int(p), timeout=30)
    lat = {"pass": [], "enforce": []}
    first = {}
    c0 = None
    try:
        for k, (repo, tag, digest) in enumerate(imgs):
            if k == 1:
                c0 = cpu_all(pids)
            path = "/v2/%s/manifests/%s" % (repo, tag)
            order = ("pass", "enforce") if k % 2 == 0 else ("enforce", "pass")
            for name in order:
                dt = get(conns[name], path, digest)
                if k == 0:
                    first[name] = dt
                else:
                    lat[name].append(dt)
    except Exception as e:
        print("FAILED (cold): %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
    c1 = cpu_all(pids)
    rec = {"test": "cold", "first": first, "pass": lat["pass"],
           "enforce": lat["enforce"], "cpu": cpu_delta(c0, c1) if c0 else {}}
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")

def fmt_cpu(v, n):
    t, ns = v
    s = "%7.1f" % (t / n * 1e6)
    s += " %7.1f" % (ns / n * 1e6) if ns is not None else "       -"
    return s

NAMES = {"direct": "(a) direct", "pass": "(b) pass-through",
         "enforce": "(c) enforcing"}

def warm_table(recs, label):
    by = {}
    for r in recs:
        if r["test"] == label:
            by.setdefault(r["target"], []).append(r)
    if not by:
        return {}
    conc = recs[0]["conc"] if recs else 0
    rounds = max(len(v) for v in by.values())
    print("%-18s %6s %8s %8s %8s %8s %8s   %-15s %-15s" % (
        "ms", "n", "p50", "p90", "p99", "max", "req/s",
        "signet us/req", "registry us/req"))
    print("%-18s %6s %8s %8s %8s %8s %8s   %7s %7s %7s %7s" % (
        "", "", "", "", "", "", "", "stat", "sched", "stat", "sched"))
    summ = {}
    for t in ("direct", "pass", "enforce"):
        rs = by.get(t)
        if not rs:
            continue
        lat = [x for r in rs for x in r["lat"]]
        n = len(lat)
        wall = sum(r["wall"] for r in rs)
        cpu = {}
        for r in rs:
            for k, v in r["cpu"].items():
                a = cpu.setdefault(k, [0.0, 0.0])
                a[0] += v[0]
                a[1] = a[1] + v[1] if (a[1] is not None and v[1] is not None) else None
        summ[t] = {"p50": statistics.median(lat), "p90": pct(lat, 90),
                   "p99": pct(lat, 99), "rps": n / wall, "cpu": cpu, "n": n,
                   "p50s": [statistics.median(r["lat"]) for r in rs]}
        sig = fmt_cpu(cpu["signet"], n) if "signet" in cpu else "      -        -"
        reg = fmt_cpu(cpu["registry"], n) if "registry" in cpu else "      -        -"
        print("%-18s %6d %8.2f %8.2f %8.2f %8.2f %8.0f   %s %s" % (
            NAMES[t], n, summ[t]["p50"], summ[t]["p90"], summ[t]["p99"],
            max(lat), summ[t]["rps"], sig, reg))
    if rounds > 1:
        print("per round p50 ms (req/s):")
        for t in ("direct", "pass", "enforce"):
            if t in by:
                print("  %-16s %s" % (NAMES[t], "  ".join(
                    "%.2f (%.0f)" % (statistics.median(r["lat"]),
                                     r["n"] / r["wall"]) for r in by[t])))
    return summ

def pctdiff(a, b):
    return (a - b) / b * 100.0 if b > 0 else float("nan")

def ratios(s, title):
    if "pass" not in s or "enforce" not in s:
        return None
    p, e = s["pass"], s["enforce"]
    print("%s:" % title)
    print("  enforcing vs pass-through: p50 %+.2f ms (%+.1f %%), p90 %+.2f ms "
          "(%+.1f %%), p99 %+.2f ms (%+.1f %%), throughput x%.3f" % (
              e["p50"] - p["p50"], pctdiff(e["p50"], p["p50"]),
              e["p90"] - p["p90"], pctdiff(e["p90"], p["p90"]),
              e["p99"] - p["p99"], pctdiff(e["p99"], p["p99"]),
              e["rps"] / p["rps"]))
    if "direct" in s:
        d = s["direct"]
        print("  pass-through vs direct:    p50 %+.2f ms (%+.1f %%), "
              "throughput x%.3f" % (p["p50"] - d["p50"],
                                    pctdiff(p["p50"], d["p50"]),
                                    p["rps"] / d["rps"]))
        print("  enforcing vs direct:       p50 %+.2f ms (%+.1f %%), "
              "throughput x%.3f" % (e["p50"] - d["p50"],
                                    pctdiff(e["p50"], d["p50"]),
                                    e["rps"] / d["rps"]))
    if len(e["p50s"]) > 1 and len(p["p50s"]) == len(e["p50s"]):
        print("  per round, p50 enforcing vs pass-through: %s" % ", ".join(
            "%+.1f %%" % pctdiff(a, b) for a, b in zip(e["p50s"], p["p50s"])))
    ce, cp = e["cpu"].get("signet"), p["cpu"].get("signet")
    if ce and cp:
        line = "  signet CPU per HEAD: enforcing %.1f us, pass-through %.1f us " \
               "(stat, x%.2f)" % (ce[0] / e["n"] * 1e6, cp[0] / p["n"] * 1e6,
                                  (ce[0] / e["n"]) / (cp[0] / p["n"]) if cp[0] else float("nan"))
        if ce[1] is not None and cp[1] is not None and cp[1] > 0:
            line += "; %.1f us vs %.1f us (schedstat, x%.2f)" % (
                ce[1] / e["n"] * 1e6, cp[1] / p["n"] * 1e6,
                (ce[1] / e["n"]) / (cp[1] / p["n"]))
        print(line)
    return pctdiff(e["p50"], p["p50"])

def report(results):
    recs = [json.loads(l) for l in open(results)]
    conc = max((r["conc"] for r in recs if r["test"] == "warm"), default=0)
    print("== 1. warm cache: manifest HEAD by tag, %d keep-alive clients ==" % conc)
    s16 = warm_table(recs, "warm")
    print()
    added16 = ratios(s16, "ratios (%d clients)" % conc)
    print()
    print("== 1b. the same, 1 client (sequential HEADs) ==")
    s1 = warm_table(recs, "seq")
    print()
    added1 = ratios(s1, "ratios (1 client)")
    print()
    for n, a in ((conc, added16), (1, added1)):
        if a is not None:
            print("TARGET added p50 latency, enforcing (warm cache) vs "
                  "pass-through, %2d client(s): %+.1f %% -> %s (target < 10 %%)"
                  % (n, a, "PASS" if a < 10 else "MISS"))
    print()
    for r in recs:
        if r["test"] != "cold":
            continue
        p, e = r["pass"], r["enforce"]
        print("== 2. cold verification: one manifest GET per image, %d images "
              "==" % len(e))
        print("%-26s %5s %8s %8s %8s %8s %8s" % ("ms", "n", "median", "mean",
                                                 "p90", "min", "max"))
        for name, xs in (("(b) pass-through", p), ("(c) enforcing, cold", e)):
            print("%-26s %5d %8.2f %8.2f %8.2f %8.2f %8.2f" % (
                name, len(xs), statistics.median(xs), statistics.mean(xs),
                pct(xs, 90), min(xs), max(xs)))
        diffs = [a - b for a, b in zip(e, p)]
        print("%-26s %5d %8.2f %8.2f %8.2f %8.2f %8.2f" % (
            "(c) - (b), per image", len(diffs), statistics.median(diffs),
            statistics.mean(diffs), pct(diffs, 90), min(diffs), max(diffs)))
        print("cost of a cold verification (client view): median %+.2f ms, "
              "p90 %+.2f ms (difference of the medians / p90s: %+.2f / %+.2f "
              "ms); enforcing / pass-through median x%.2f" % (
                  statistics.median(diffs), pct(diffs, 90),
                  statistics.median(e) - statistics.median(p),
                  pct(e, 90) - pct(p, 90),
                  statistics.median(e) / statistics.median(p)))
        f = r.get("first", {})
        if f:
            print("first verification after the enforcing signet started "
                  "(not counted above): enforcing %.2f ms, pass-through %.2f ms"
                  % (f.get("enforce", float("nan")), f.get("pass", float("nan"))))
        c = r.get("cpu", {})
        if "enforce" in c and "pass" in c:
            n = len(e)
            line = "signet CPU per GET: enforcing (cold) %.0f us, pass-through " \
                   "%.0f us (stat: %d and %d ticks of %d ms in all)" % (
                       c["enforce"][0] / n * 1e6, c["pass"][0] / n * 1e6,
                       round(c["enforce"][0] * CLK), round(c["pass"][0] * CLK),
                       1000 // CLK)
            if c["enforce"][1] is not None and c["pass"][1] is not None:
                line += "; %.0f us vs %.0f us (schedstat)" % (
                    c["enforce"][1] / n * 1e6, c["pass"][1] / n * 1e6)
            print(line)
            if "registry" in c:
                print("registry CPU per image (its GETs through both signets "
                      "and the enforcing signet's signature reads): %.0f us "
                      "(stat)%s" % (c["registry"][0] / n * 1e6,
                                    "" if c["registry"][1] is None else
                                    ", %.0f us (schedstat)" % (c["registry"][1] / n * 1e6)))

def metrics(path):
    """The verification histogram and the cache counters, and its mean."""
    text = open(path).read()
    keep = [l for l in text.splitlines()
            if l.startswith(("signet_verification_seconds",
                             "signet_verify_cache_total",
                             "signet_decisions_total",
                             "signet_upstream_errors_total"))]
    for l in keep:
        print("  " + l)
    vals = {}
    for l in keep:
        k, _, v = l.rpartition(" ")
        vals[k] = float(v)
    s = vals.get("signet_verification_seconds_sum")
    n = vals.get("signet_verification_seconds_count")
    if s is not None and n:
        print("  -> mean verification time %.2f ms over %d (signet's own clock, "
              "from the request's start to the decision)" % (s / n * 1e3, n))
    if not any(l.startswith("signet_verification_seconds_count") for l in keep):
        print("  (no signet_verification_seconds_count line: the histogram is "
              "missing or cut short)")

def mkimages(outdir, listfile, spec):
    """spec lines: NAME REPO TAG SEED; one 1-layer 20000-byte image each,
    as helpers.py mkimage LAYOUT --layers 1 --size 20000 --seed SEED"""
    sys.path.insert(0, os.path.dirname(os.environ["HELPERS"]))
    import contextlib, io, helpers
    with open(listfile, "w") as out:
        for line in open(spec):
            name, repo, tag, seed = line.split()
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                helpers.mkimage(os.path.join(outdir, name), 1, 20000,
                                ["amd64"], seed)
            out.write("%s %s %s %s\n" % (name, repo, tag, buf.getvalue().strip()))

def metric(path, name):
    for l in open(path):
        if l.startswith(name + " "):
            print(int(float(l.split()[1])))
            return
    print(-1)

cmd = sys.argv[1]
if cmd == "heads":
    heads(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6],
          sys.argv[7], sys.argv[8], int(sys.argv[9]), int(sys.argv[10]),
          sys.argv[11])
elif cmd == "cold":
    cold(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
elif cmd == "report":
    report(sys.argv[2])
elif cmd == "metrics":
    metrics(sys.argv[2])
elif cmd == "metric":
    metric(sys.argv[2], sys.argv[3])
elif cmd == "mkimages":
    mkimages(sys.argv[2], sys.argv[3], sys.argv[4])
PYEOF
TOOL="python3 $T/vb.py"
export HELPERS

# --- versions ---------------------------------------------------------------------


echo "signet verification benchmark: $HEADS HEADs x $ROUNDS rounds x $CONC clients," \
    "$SEQ sequential HEADs, $COLD cold images (per target)"
print_versions skopeo
echo

# --- servers ----------------------------------------------------------------------

export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null 2>&1 ||
    die "signet keygen failed"
cat >"$T/signet-pass.json" <<EOF
{"listen": ["$PASS"], "upstream": {"url": "http://$REG"},
 "log": {"level": "warn", "access": false}}
EOF
cat >"$T/signet-enforce.json" <<EOF
{"listen": ["$ENF"], "upstream": {"url": "http://$REG"},
 "log": {"level": "warn", "access": false},
 "signing": {"key": "$T/k.key"},
 "verify_cache": {"success_ttl": 300, "failure_ttl": 10},
 "policies": [{"match": "v/*", "sign": "required", "verify": "enforce",
               "keys": ["$T/k.pub"]},
              {"match": "*", "sign": "off"}]}
EOF
"$SIGNET" check-config -c "$T/signet-enforce.json" >/dev/null 2>&1 ||
    die "signet check-config -c $T/signet-enforce.json failed"

start_registry "$REG"
"$SIGNET" serve -c "$T/signet-pass.json" >"$T/signet-pass.log" 2>&1 &
PASS_PID=$!
PIDS="$PIDS $PASS_PID"
"$SIGNET" serve -c "$T/signet-enforce.json" >"$T/signet-enforce.log" 2>&1 &
ENF_PID=$!
PIDS="$PIDS $ENF_PID"
wait_ready docker-registry "$REG_PID" "http://$REG/v2/"
wait_ready signet-pass "$PASS_PID" "http://$PASS/v2/"
wait_ready signet-enforce "$ENF_PID" "http://$ENF/v2/"

SKOPEO="skopeo copy -q --dest-tls-verify=false"
MT=application/vnd.oci.image.manifest.v1+json
echo "setup ($T, removed on exit unless VERIFY_BENCH_KEEP=1):"
echo "  COSIGN_PASSWORD=pw $SIGNET keygen --output-key-prefix $T/k"
echo "  docker-registry serve $T/registry.yml     # $REG:"
sed 's/^/      /' "$T/registry.yml"
echo "  $SIGNET serve -c $T/signet-pass.json     # (b) pass-through, $PASS:"
sed 's/^/      /' "$T/signet-pass.json"
echo "  COSIGN_PASSWORD=pw $SIGNET serve -c $T/signet-enforce.json     # (c) enforcing, $ENF:"
sed 's/^/      /' "$T/signet-enforce.json"
echo "images (each: python3 $HELPERS mkimage LAYOUT --layers 1 --size 20000 --seed S,"
echo "  run in one python3 process; pushed signed through (c)):"
echo "  $SKOPEO oci:LAYOUT docker://$ENF/v/app:1"
echo "  $SKOPEO oci:LAYOUT docker://$ENF/v/cold:K     K = 0..$COLD"
echo "measured:"
echo "  1.  HEAD /v2/v/app/manifests/1, Accept: $MT, python3 http.client,"
echo "      $CONC threads x 1 keep-alive connection, $HEADS HEADs per target and round"
echo "      (4 untimed per thread first), $ROUNDS rounds, order rotating; against"
echo "      (a) http://$REG  (b) http://$PASS  (c) http://$ENF"
echo "      (c) after one GET /v2/v/app/manifests/1 (cache warm); each answer: 200 and"
echo "      Docker-Content-Digest checked; CPU = delta over the timed HEADs of utime+stime"
echo "      (/proc/PID/stat, $(getconf CLK_TCK) Hz ticks) and of on-CPU ns"
echo "      (/proc/PID/task/*/schedstat)"
echo "  1b. the same with 1 client, $SEQ HEADs per target and round (in each round after"
echo "      the $CONC-client HEADs)"
echo "  2.  (c) restarted (empty cache), GET /readyz (opens its upstream connection), then"
echo "      per image K = 0..$COLD: GET /v2/v/cold/manifests/K, Accept: $MT"
echo "      through (b) and (c) (order alternating), one keep-alive connection each,"
echo "      200 + Docker-Content-Digest + sha256 of the body checked; K = 0 reported"
echo "      apart; then GET http://$ENF/metrics"
echo

# --- images --------------------------------------------------------------------------

RUN=$$-$(date +%s)
mkdir -p "$T/img"
{
	echo "app v/app 1 app-$RUN"
	echo "unsigned v/unsigned 1 unsigned-$RUN"
	for k in $(seq 0 "$COLD"); do
		echo "cold$k v/cold $k cold-$k-$RUN"
	done
} >"$T/img.spec"
t0=$(now_ns)
$TOOL mkimages "$T/img" "$T/img.list" "$T/img.spec"
echo "# made $((COLD + 3)) images in $(ms_since "$t0") ms"

# push NAME REPO TAG HOST: skopeo copy, in the background (4 at a time)
push() {
	if ! $SKOPEO "oci:$T/img/$1" "docker://$4/$2:$3" >"$T/push-$1.out" 2>&1; then
		echo "FAILED: $SKOPEO oci:$T/img/$1 docker://$4/$2:$3" >&2
		sed 's/^/  /' "$T/push-$1.out" >&2
		return 1
	fi
}
t0=$(now_ns)
jobs=""
n=0
while read -r name repo tag _; do
	host=$ENF
	[ "$name" = unsigned ] && host=$REG	# straight to the registry: no signature
	push "$name" "$repo" "$tag" "$host" &
	jobs="$jobs $!"
	n=$((n + 1))
	if [ $((n % 4)) = 0 ]; then
		for j in $jobs; do wait "$j" || failures=$((failures + 1)); done
		jobs=""
	fi
done <"$T/img.list"
for j in $jobs; do wait "$j" || failures=$((failures + 1)); done
[ "$failures" = 0 ] || { echo "verify_bench: $failures push(es) failed" >&2; exit 1; }
alive
echo "# pushed $n images (4 in parallel) in $(ms_since "$t0") ms"

APP_DIGEST=$(awk '$1 == "app" { print $4 }' "$T/img.list")
awk '$1 ~ /^cold/ { print $2, $3, $4 }' "$T/img.list" >"$T/cold.list"

# Sanity: (c) verifies (an unsigned image is refused, the signed one served
# and now cached), (b) does not.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $MT" \
    "http://$ENF/v2/v/unsigned/manifests/1")
[ "$code" = 403 ] || { echo "verify_bench: unsigned image through (c): HTTP $code, want 403" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $MT" \
    "http://$PASS/v2/v/unsigned/manifests/1")
[ "$code" = 200 ] || { echo "verify_bench: unsigned image through (b): HTTP $code, want 200" >&2; exit 1; }
h=$(curl -s -D - -o /dev/null -H "Accept: $MT" "http://$ENF/v2/v/app/manifests/1" | tr -d '\r')
if ! echo "$h" | grep -q "^HTTP/1.1 200" ||
    ! echo "$h" | grep -qi "^Docker-Content-Digest: $APP_DIGEST$"; then
	echo "verify_bench: GET v/app:1 through (c) failed: $h" >&2
	exit 1
fi
echo "# checked: v/unsigned:1 -> 403 through (c), 200 through (b); v/app:1 ($APP_DIGEST)"
echo "#   -> 200 through (c), verified and cached"
echo

# --- 1. warm cache --------------------------------------------------------------------

R=$T/results.jsonl
: >"$R"
curl -s "http://$ENF/metrics" >"$T/m0.txt"
target_args() {
	case $1 in
	direct) echo "$REG registry:$REG_PID" ;;
	pass) echo "$PASS signet:$PASS_PID,registry:$REG_PID" ;;
	enforce) echo "$ENF signet:$ENF_PID,registry:$REG_PID" ;;
	esac
}
order_for() {
	case $(($1 % 3)) in
	1) echo direct pass enforce ;;
	2) echo pass enforce direct ;;
	0) echo enforce direct pass ;;
	esac
}
echo "# 1. warm cache ..."
t0=$(now_ns)
for r in $(seq 1 "$ROUNDS"); do
	for t in $(order_for "$r"); do
		# shellcheck disable=SC2046
		set -- $(target_args "$t")
		$TOOL heads "$R" warm "$t" "$r" "$1" /v2/v/app/manifests/1 \
		    "$APP_DIGEST" "$HEADS" "$CONC" "$2" || failures=$((failures + 1))
	done
	for t in $(order_for "$r"); do
		# shellcheck disable=SC2046
		set -- $(target_args "$t")
		$TOOL heads "$R" seq "$t" "$r" "$1" /v2/v/app/manifests/1 \
		    "$APP_DIGEST" "$SEQ" 1 "$2" || failures=$((failures + 1))
	done
	alive
done
curl -s "http://$ENF/metrics" >"$T/m1.txt"
echo "# done in $(ms_since "$t0") ms"
[ "$failures" = 0 ] || { echo "verify_bench: HEADs failed" >&2; exit 1; }
miss0=$($TOOL metric "$T/m0.txt" 'signet_verify_cache_total{result="miss"}')
miss1=$($TOOL metric "$T/m1.txt" 'signet_verify_cache_total{result="miss"}')
hit0=$($TOOL metric "$T/m0.txt" 'signet_verify_cache_total{result="hit"}')
hit1=$($TOOL metric "$T/m1.txt" 'signet_verify_cache_total{result="hit"}')
echo "# (c) during part 1: verification cache hits +$((hit1 - hit0)), misses" \
    "+$((miss1 - miss0)) (every HEAD must be a hit: $(((HEADS + 4 * CONC + SEQ + 4) * ROUNDS)) expected)"
[ $((miss1 - miss0)) = 0 ] || echo "WARNING: cache misses during the warm-cache part"

# --- 2. cold verification -------------------------------------------------------------

echo "# 2. cold: restarting (c) ..."
stop "$ENF_PID"
rest=""
for p in $PIDS; do
	[ "$p" = "$ENF_PID" ] || rest="$rest $p"
done
PIDS=$rest
"$SIGNET" serve -c "$T/signet-enforce.json" >>"$T/signet-enforce.log" 2>&1 &
ENF_PID=$!
PIDS="$PIDS $ENF_PID"
wait_ready signet-enforce "$ENF_PID" "http://$ENF/v2/"
# opens (c)'s upstream connection, so the first GET does not pay for it
curl -s -o /dev/null "http://$ENF/readyz"
curl -s "http://$ENF/metrics" >"$T/m2.txt"
t0=$(now_ns)
$TOOL cold "$R" "$T/cold.list" "$PASS" "$ENF" \
    "pass:$PASS_PID,enforce:$ENF_PID,registry:$REG_PID" || failures=$((failures + 1))
alive
curl -s "http://$ENF/metrics" >"$T/m3.txt"
echo "# done in $(ms_since "$t0") ms"
[ "$failures" = 0 ] || { echo "verify_bench: cold GETs failed" >&2; exit 1; }
echo

# --- report ---------------------------------------------------------------------------

$TOOL report "$R"
echo
echo "signet's GET http://$ENF/metrics after part 2 (the restarted (c): $((COLD + 1))"
echo "cold verifications, K = 0 included):"
$TOOL metrics "$T/m3.txt"
echo
for f in signet-pass signet-enforce; do
	grep '"level":"\(warn\|error\)"' "$T/$f.log" >"$T/$f.err" || true
done
# (c) logs a warn-level "decision" line for the deliberate 403 of v/unsigned
grep -v '"repository":"v/unsigned"' "$T/signet-enforce.err" >"$T/signet-enforce.err2" || true
echo "warn/error lines: (b) $(wc -l <"$T/signet-pass.err"), (c) $(wc -l <"$T/signet-enforce.err2")" \
    "(plus $(($(wc -l <"$T/signet-enforce.err") - $(wc -l <"$T/signet-enforce.err2"))) for the" \
    "deliberate 403 of v/unsigned)"
cat "$T/signet-pass.err" "$T/signet-enforce.err2" | head -n 5 | cut -c1-300 | sed 's/^/  /'
# the registry's errors, less the 404s that pushes (blob checks) and the
# verifications' reads cause
grep '^time=.*level=error' "$T/registry.log" |
    grep -v 'err.code="\(blob unknown\|manifest unknown\|name unknown\)"' \
    >"$T/regerr" || true
echo "registry error lines (other than blob/manifest/name unknown): $(wc -l <"$T/regerr")"
head -n 3 "$T/regerr" | cut -c1-300 | sed 's/^/  /'
echo
if [ "$failures" -ne 0 ]; then
	echo "RESULT: $failures step(s) FAILED"
	exit 1
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT: every request answered as expected"
