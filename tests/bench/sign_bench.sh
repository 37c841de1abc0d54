#!/bin/bash
# Functions run from traps, variables set through read:
# shellcheck disable=SC2317
# tests/bench/sign_bench.sh: what signing on push costs, side by side.
#
# One run starts a docker-registry (CNCF distribution, access log on) and
# signet in front of it (signing key, "signed/*" required, everything else
# off), on free 127.0.0.1 ports in a private temporary directory, and:
#
#   1. times SIGN_BENCH_N skopeo pushes of small distinct images (2 layers of
#      100 kB) (a) straight to the registry, (b) through signet to an
#      unsigned repository, (c) through signet to a signed repository, then
#      the same pushes again (re-push: every blob and, in (c), the signature
#      already there); and, on the blobs those pushes left, a curl PUT of a
#      new manifest by tag (direct / unsigned / signed), then the same PUT
#      again under another tag (signature already present).  Median, p90,
#      ratios.
#   2. lists the upstream requests signet makes for one signed manifest PUT
#      (and for a re-PUT of an already-signed manifest), from the registry's
#      access log between marker requests, with their timing in the registry
#      (start = completion - duration), groups the requests that overlap in
#      time into rounds and counts the rounds in series against a direct PUT;
#      and the background rechecks signet makes after answering.
#   3. reports signet's own "signature" log lines: duration_ms by outcome.
#
# Environment:
#   SIGN_BENCH_N=20      pushes per target (and manifest PUTs per target)
#   SIGN_BENCH_KEEP=1    keep the temporary directory and its logs
#   SIGNET=PATH          the signet binary (default: ./signet in the source
#                        tree, else signet on PATH)
#
# Exit status: 0 when every push and PUT succeeded (whether or not the
# target of <= 4 extra round trips was met), 1 when one failed or a server
# died, 2 on a setup problem.  The script installs nothing.
set -eu

N=${SIGN_BENCH_N:-20}
case $N in
'' | *[!0-9]*) echo "sign_bench: SIGN_BENCH_N must be a positive integer" >&2; exit 2 ;;
esac
[ "$N" -gt 0 ] || { echo "sign_bench: SIGN_BENCH_N must be > 0" >&2; exit 2; }

BENCH=sign_bench
BENCH_TOOLS="docker-registry skopeo curl python3 awk"
BENCH_DEBS="docker-registry skopeo curl python3 gawk"
KEEP=${SIGN_BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

read -r REG_PORT SIG_PORT <<EOF
$(free_ports 2)
EOF
REG=127.0.0.1:$REG_PORT
PROXY=127.0.0.1:$SIG_PORT

alive() {
	for p in $REG_PID $SIG_PID; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "sign_bench: a server died (pid $p)" >&2
			exit 1
		fi
	done
}


# --- the analysis helper (python3, standard library only) ---------------------

cat >"$T/tool.py" <<'PYEOF'
import json, math, os, re, statistics, sys
from datetime import datetime, timezone

def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]

def load(path):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()]
    except FileNotFoundError:
        return []

def report(d):
    groups = [
        ("skopeo push, new image (whole push: blob checks, uploads, manifest)", "push"),
        ("skopeo re-push, same image and tag (blobs and signature present)", "repush"),
        ("manifest PUT by tag, new manifest (curl time_total; blobs in place)", "mput"),
        ("manifest re-PUT, same manifest, new tag (signature present)", "reput"),
    ]
    targets = [("direct", "direct (registry)"), ("plain", "signet, unsigned"),
               ("signed", "signet, signed")]
    med = {}
    print("%-24s %4s %9s %9s %9s" % ("", "n", "median", "p90", "max"))
    for title, g in groups:
        print(title + ", ms:")
        for t, name in targets:
            xs = load(os.path.join(d, "%s.%s" % (g, t)))
            if not xs:
                continue
            med[g, t] = (statistics.median(xs), pct(xs, 90))
            print("  %-22s %4d %9.1f %9.1f %9.1f" % (
                name, len(xs), med[g, t][0], med[g, t][1], max(xs)))
    print()
    print("ratios (median / p90):")
    for title, g in groups:
        parts = []
        for a, b, label in (("signed", "direct", "signed/direct"),
                            ("plain", "direct", "unsigned/direct"),
                            ("signed", "plain", "signed/unsigned")):
            if (g, a) in med and (g, b) in med and med[g, b][0] > 0:
                parts.append("%s %.2f / %.2f" % (
                    label, med[g, a][0] / med[g, b][0],
                    med[g, a][1] / med[g, b][1]))
        print("  %-7s %s" % (g, "   ".join(parts)))
    for g in ("mput", "reput"):
        if (g, "signed") in med and (g, "direct") in med:
            print("  %-7s signed - direct: +%.1f ms median, +%.1f ms p90" % (
                g, med[g, "signed"][0] - med[g, "direct"][0],
                med[g, "signed"][1] - med[g, "direct"][1]))

KV = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')

def go_duration(s):
    m = re.fullmatch(r'([0-9.]+)(ns|µs|us|ms|s)', s)
    if not m:
        # e.g. 1m2.5s: rare here
        total = 0.0
        for v, u in re.findall(r'([0-9.]+)(h|m(?!s)|s|ms|µs|us|ns)', s):
            total += float(v) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3,
                                 "µs": 1e-6, "us": 1e-6, "ns": 1e-9}[u]
        return total
    return float(m.group(1)) * {"ns": 1e-9, "µs": 1e-6, "us": 1e-6,
                                "ms": 1e-3, "s": 1.0}[m.group(2)]

def go_time(s):
    # 2026-11-28T11:56:38.006942725Z (nanoseconds; datetime keeps micro)
    base, _, frac = s.rstrip("Z").partition(".")
    t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)

def registry_requests(path):
    """The registry's per-request lines ("response completed"), in order."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("time=") or 'msg="response completed' not in line:
                continue
            kv = {}
            for k, v in KV.findall(line):
                if v.startswith('"'):
                    v = v[1:-1].replace('\\"', '"')
                kv[k] = v
            try:
                end = go_time(kv["time"])
                dur = go_duration(kv["http.response.duration"])
            except (KeyError, ValueError):
                continue
            out.append({"end": end, "start": end - dur, "dur": dur,
                        "method": kv.get("http.request.method", "?"),
                        "uri": kv.get("http.request.uri", "?"),
                        "status": kv.get("http.response.status", "?"),
                        "peer": kv.get("http.request.remoteaddr", "?"),
                        "ua": kv.get("http.request.useragent", "")})
    return out

def window(reqs, begin, end, repos=None):
    """Requests logged after marker begin and before marker end."""
    def idx(name):
        for i, r in enumerate(reqs):
            if "/v2/bench-marker/%s/" % name in r["uri"]:
                return i
        raise SystemExit("marker %s not in the registry log" % name)
    i, j = idx(begin), idx(end)
    out = [r for r in reqs[i + 1:j] if "/bench-marker/" not in r["uri"]]
    if repos:
        out = [r for r in out if any("/v2/%s/" % p in r["uri"] for p in repos)]
    return out, reqs[i], reqs[j]

def short(uri):
    path, _, q = uri.partition("?")
    path = re.sub(r'(sha256[:-])([0-9a-f]{12})[0-9a-f]{52}', r'\1\2…', path)
    path = re.sub(r'(/uploads/)([0-9a-f]{8})[0-9a-f-]{28}', r'\1\2…', path)
    m = re.search(r'digest=sha256(?::|%3A)([0-9a-f]{12})', q)
    if m:
        path += "?digest=sha256:%s…" % m.group(1)
    return path

def rounds_overlap(reqs):
    """Group requests whose [start, end] overlap (transitively)."""
    groups = []
    for r in sorted(reqs, key=lambda r: r["start"]):
        if groups and r["start"] <= groups[-1]["end"]:
            groups[-1]["reqs"].append(r)
            groups[-1]["end"] = max(groups[-1]["end"], r["end"])
        else:
            groups.append({"reqs": [r], "start": r["start"], "end": r["end"]})
    return groups

def rounds_starts(reqs, gap):
    """Group requests sent together: a start more than gap s after the
    previous start opens a new round."""
    groups = []
    for r in sorted(reqs, key=lambda r: r["start"]):
        if groups and r["start"] - groups[-1]["last"] <= gap:
            groups[-1]["reqs"].append(r)
            groups[-1]["last"] = r["start"]
            groups[-1]["end"] = max(groups[-1]["end"], r["end"])
        else:
            groups.append({"reqs": [r], "start": r["start"], "last": r["start"],
                           "end": r["end"]})
    return groups

def show(title, reqs, gs):
    print(title)
    if not reqs:
        print("  (no requests)")
        return
    t0 = min(r["start"] for r in reqs)
    conns = {}
    print("  %-5s %8s %8s %5s %4s  %s" % ("round", "start", "time", "conn",
          "st", "request   (ms, as the registry saw it: start = logged "
          "completion - duration)"))
    for n, g in enumerate(gs, 1):
        for r in sorted(g["reqs"], key=lambda r: r["start"]):
            c = conns.setdefault(r["peer"], "c%d" % (len(conns) + 1))
            print("  %-5s %8.2f %8.2f %5s %4s  %s %s" % (
                n, (r["start"] - t0) * 1e3, r["dur"] * 1e3, c, r["status"],
                r["method"], short(r["uri"])))
    busy = sum(g["end"] - g["start"] for g in rounds_overlap(reqs))
    span = max(r["end"] for r in reqs) - t0
    gaps = [(gs[k + 1]["start"] - max(r["end"] for r in gs[k]["reqs"])) * 1e3
            for k in range(len(gs) - 1)]
    print("  %d request(s), %d round(s), %d upstream connection(s); first "
          "start to last end %.2f ms, registry busy %.2f ms; from a round's "
          "last answer to the next round's first request: %s ms" % (
              len(reqs), len(gs), len(conns), span * 1e3, busy * 1e3,
              ", ".join("%.2f" % g for g in gaps) or "-"))

def roundtrips(log, times, delay_ms):
    reqs = registry_requests(log)
    D = delay_ms / 1e3
    nrounds = {}
    R1 = ("direct/rt", "signed/rt")
    R2 = ("direct/rtd", "signed/rtd")

    print("A. straight to the registry (no delay); rounds = requests "
          "overlapping in time:")
    print()
    d, _, _ = window(reqs, "d0", "d1", R1)
    show("(i) direct PUT by tag (curl -> registry):", d, rounds_overlap(d))
    print()
    s, _, s_end = window(reqs, "s0", "s1", R1)
    gs = rounds_overlap(s)
    nrounds["overlap-signed"] = len(gs)
    show("(ii) signed PUT by tag, new signature (curl -> signet -> registry):",
         s, gs)
    print()
    bg, _, _ = window(reqs, "s1", "s2", R1)
    print("(iii) after signet answered (ii), the next 5.5 s (background "
          "rechecks), time after the answer:")
    if not bg:
        print("  (none)")
    for r in bg:
        print("  +%6.0f ms %8.2f %4s  %s %s" % (
            (r["start"] - s_end["end"]) * 1e3, r["dur"] * 1e3, r["status"],
            r["method"], short(r["uri"])))
    print()
    a, _, _ = window(reqs, "r0", "r1", R1)
    gs = rounds_overlap(a)
    nrounds["overlap-again"] = len(gs)
    show("(iv) the same PUT again through signet (signature already present):",
         a, gs)
    print()
    bg2, _, _ = window(reqs, "r1", "r2", R1)
    print("(v) after (iv), the next 5.5 s: %d request(s)%s" % (
        len(bg2), "".join("\n  %s %s" % (r["method"], short(r["uri"]))
                          for r in bg2)))
    print()

    print("B. every upstream response held %g ms by a relay; rounds = requests "
          "sent together (start gap <= %g ms):" % (delay_ms, delay_ms / 2))
    print()
    for key, b, e, title in (
            ("direct", "dd0", "dd1", "(vi) direct PUT by tag through the relay:"),
            ("signed", "ds0", "ds1", "(vii) signed PUT by tag, new signature, "
             "signet-2 -> relay -> registry:"),
            ("again", "da0", "da1", "(viii) the same PUT again through signet-2 "
             "(signature present):")):
        w, _, _ = window(reqs, b, e, R2)
        gs = rounds_starts(w, D / 2)
        nrounds["delay-" + key] = len(gs)
        nrounds["reqs-" + key] = len(w)
        show(title, w, gs)
        print()

    print("C. latency (curl time_total, ms, median of %d new manifests each):"
          % len(load(os.path.join(times, "rt.signed"))))
    lat = {}
    print("  %-28s %9s %9s %9s %7s" % ("", "no delay", "delayed", "added",
                                       "rounds"))
    for key, label in (("direct", "direct PUT"),
                       ("signed", "signed PUT, new signature"),
                       ("again", "signed PUT, already signed")):
        x = load(os.path.join(times, "rt." + key))
        y = load(os.path.join(times, "rtd." + key))
        if not x or not y:
            continue
        mx, my = statistics.median(x), statistics.median(y)
        lat[key] = (my - mx) / (delay_ms)
        print("  %-28s %9.1f %9.1f %9.1f %7.2f" % (label, mx, my, my - mx,
                                                   lat[key]))
    print("  (rounds = added / %g ms: the upstream round trips in series)"
          % delay_ms)
    print()

    nd = nrounds["delay-direct"]
    ns, na = nrounds["delay-signed"], nrounds["delay-again"]
    print("SUMMARY round trips to the registry in series, for one manifest PUT "
          "by tag:")
    print("  direct:                     1 request, %d round (relay view), "
          "%.2f from latency" % (nd, lat.get("direct", float("nan"))))
    print("  signed, new signature:      %d requests, %d rounds (relay view), "
          "%.2f from latency, %d by overlap without delay" % (
              nrounds["reqs-signed"], ns, lat.get("signed", float("nan")),
              nrounds["overlap-signed"]))
    print("    -> %d extra round trips in series: %s (target <= 4)" % (
        ns - nd, "PASS" if ns - nd <= 4 else "MISS"))
    print("  signed, already signed:     %d requests, %d rounds (relay view), "
          "%.2f from latency, %d by overlap without delay" % (
              nrounds["reqs-again"], na, lat.get("again", float("nan")),
              nrounds["overlap-again"]))
    print("    -> %d extra round trips in series" % (na - nd))
    print("  background after a new signature: %d request(s) (rechecks); after "
          "a re-PUT: %d" % (len(bg), len(bg2)))

def sigdur(log):
    by = {}
    other = []
    with open(log, errors="replace") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("msg") != "signature":
                continue
            by.setdefault(o.get("outcome"), []).append(o)
            if o.get("attempts", 1) != 1 or o.get("outcome") not in ("signed", "present"):
                other.append(line.strip())
    for outcome, os_ in sorted(by.items()):
        ds = [o["duration_ms"] for o in os_]
        print("  outcome %-9s %4d line(s): duration_ms median %.2f, p90 %.2f, "
              "max %.2f" % (outcome, len(ds), statistics.median(ds),
                            pct(ds, 90), max(ds)))
    for line in other[:10]:
        print("  unusual: " + line[:400])

def access(log):
    # signet's own view of the client's manifest PUTs, by repository
    by = {}
    with open(log, errors="replace") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("msg") != "access" or o.get("method") != "PUT" or \
                    o.get("endpoint") != "manifest":
                continue
            repo = o.get("repository", "")
            if repo not in ("plain/app", "signed/app"):
                continue
            by.setdefault(repo, []).append(o["duration_ms"])
    for repo, ds in sorted(by.items()):
        print("  PUT manifest %-10s %4d request(s): duration_ms median %.2f, "
              "p90 %.2f" % (repo, len(ds), statistics.median(ds), pct(ds, 90)))

def mkman(spec):
    # lines "LAYOUT OUT ANNOTATION": the layout's manifest + one annotation
    for line in open(spec):
        layout, out, ann = line.split()
        idx = json.load(open(os.path.join(layout, "index.json")))
        dig = idx["manifests"][0]["digest"].split(":", 1)[1]
        m = json.load(open(os.path.join(layout, "blobs", "sha256", dig)))
        m["annotations"] = {"org.example.signet-bench": ann}
        with open(out, "w") as f:
            f.write(json.dumps(m, separators=(",", ":")))

def blobs(layout):
    idx = json.load(open(os.path.join(layout, "index.json")))
    dig = idx["manifests"][0]["digest"].split(":", 1)[1]
    m = json.load(open(os.path.join(layout, "blobs", "sha256", dig)))
    print(" ".join([m["config"]["digest"]] + [l["digest"] for l in m["layers"]]))

cmd = sys.argv[1]
if cmd == "report":
    report(sys.argv[2])
elif cmd == "roundtrips":
    roundtrips(sys.argv[2], sys.argv[3], float(sys.argv[4]))
elif cmd == "sigdur":
    sigdur(sys.argv[2])
elif cmd == "access":
    access(sys.argv[2])
elif cmd == "mkman":
    mkman(sys.argv[2])
elif cmd == "blobs":
    blobs(sys.argv[2])
PYEOF
TOOL="python3 $T/tool.py"

# --- versions ---------------------------------------------------------------------


echo "signet signing benchmark: N=$N per target, images of 2 layers x 100000 bytes"
print_versions skopeo
echo

# --- servers ----------------------------------------------------------------------

mkdir -p "$T/registry"
cat >"$T/registry.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $T/registry
  delete:
    enabled: true
http:
  addr: $REG
  secret: signet-signbench-$$
EOF
export COSIGN_PASSWORD=signbench
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null 2>&1 ||
    die "signet keygen failed"
cat >"$T/signet.json" <<EOF
{"listen": ["$PROXY"], "upstream": {"url": "http://$REG"},
 "log": {"level": "info", "access": true},
 "signing": {"key": "$T/k.key"},
 "policies": [{"match": "signed/*", "sign": "required"},
              {"match": "*", "sign": "off"}]}
EOF

docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
REG_PID=$!
PIDS="$PIDS $REG_PID"
"$SIGNET" serve -c "$T/signet.json" >"$T/signet.log" 2>&1 &
SIG_PID=$!
PIDS="$PIDS $SIG_PID"
wait_ready docker-registry "$REG_PID" "http://$REG/v2/"
wait_ready signet "$SIG_PID" "http://$PROXY/v2/"

SKOPEO="skopeo copy -q --dest-tls-verify=false"
MT=application/vnd.oci.image.manifest.v1+json
echo "setup ($T, removed on exit unless SIGN_BENCH_KEEP=1):"
echo "  COSIGN_PASSWORD=signbench $SIGNET keygen --output-key-prefix $T/k"
echo "  docker-registry serve $T/registry.yml     # 127.0.0.1:$REG_PORT, access log on, level info:"
sed 's/^/      /' "$T/registry.yml"
echo "  COSIGN_PASSWORD=signbench $SIGNET serve -c $T/signet.json     # 127.0.0.1:$SIG_PORT:"
sed 's/^/      /' "$T/signet.json"
echo "commands measured (i = 1..$N; targets: direct = $REG, repo direct/app;"
echo "  unsigned = signet $PROXY, repo plain/app; signed = signet $PROXY, repo signed/app):"
echo "  python3 $HELPERS mkimage IMG --layers 2 --size 100000 --seed <target>-<i>-<run>"
echo "  push:    $SKOPEO oci:IMG docker://HOST/REPO:i   (wall time, date +%s%N around it)"
echo "  re-push: the same command again"
echo "  mput:    curl -s -o /dev/null -w '%{http_code} %{time_total}' -X PUT -H 'Expect:' \\"
echo "             -H 'Content-Type: $MT' --data-binary @MAN http://HOST/v2/REPO/manifests/m<i>"
echo "           (MAN = image i's manifest plus an annotation, so a new digest whose blobs"
echo "            are already in REPO: only the manifest PUT is timed)"
echo "  re-PUT:  the same bytes to .../manifests/r<i> (signature already present)"
echo "  The order of the three targets rotates from one i to the next."
echo

# --- test images -------------------------------------------------------------------

RUN=$$-$(date +%s)
mkdir -p "$T/img" "$T/man" "$T/times"
t0=$(now_ns)
: >"$T/man.spec"
for i in $(seq 1 "$N"); do
	for t in direct plain signed; do
		python3 "$HELPERS" mkimage "$T/img/$t-$i" --layers 2 --size 100000 \
		    --seed "$t-$i-$RUN" >/dev/null
		echo "$T/img/$t-$i $T/man/$t-$i.json $t-$i-$RUN" >>"$T/man.spec"
	done
done
$TOOL mkman "$T/man.spec"
echo "# made $((3 * N)) images in $((($(now_ns) - t0) / 1000000)) ms"

host_of() {
	case $1 in direct) echo "$REG" ;; *) echo "$PROXY" ;; esac
}
repo_of() {
	case $1 in direct) echo direct/app ;; plain) echo plain/app ;; signed) echo signed/app ;; esac
}
order_for() {
	case $(($1 % 3)) in
	0) echo direct plain signed ;;
	1) echo plain signed direct ;;
	2) echo signed direct plain ;;
	esac
}

# push SERIES TARGET I: one timed skopeo copy
push() {
	h=$(host_of "$2")
	r=$(repo_of "$2")
	s=$(now_ns)
	if $SKOPEO "oci:$T/img/$2-$3" "docker://$h/$r:$3" >"$T/skopeo.out" 2>&1; then
		e=$(now_ns)
		awk -v d=$((e - s)) 'BEGIN { printf "%.3f\n", d / 1e6 }' >>"$T/times/$1.$2"
	else
		failures=$((failures + 1))
		echo "FAILED: $SKOPEO oci:$T/img/$2-$3 docker://$h/$r:$3" >&2
		sed 's/^/  /' "$T/skopeo.out" >&2
	fi
}

# put SERIES TARGET I TAG: one timed curl PUT of manifest i by tag
put() {
	h=$(host_of "$2")
	r=$(repo_of "$2")
	out=$(curl -s -o "$T/put.out" -w '%{http_code} %{time_total}' -X PUT \
	    -H 'Expect:' -H "Content-Type: $MT" --data-binary "@$T/man/$2-$3.json" \
	    "http://$h/v2/$r/manifests/$4" || echo "000 0")
	code=${out%% *}
	if [ "$code" = 201 ]; then
		awk -v t="${out#* }" 'BEGIN { printf "%.3f\n", t * 1000 }' >>"$T/times/$1.$2"
	else
		failures=$((failures + 1))
		echo "FAILED: PUT http://$h/v2/$r/manifests/$4 -> $code: $(head -c 300 "$T/put.out")" >&2
	fi
}

# marker NAME: a request only the registry sees, to cut its log
marker() {
	curl -s -o /dev/null "http://$REG/v2/bench-marker/$1/manifests/m" || true
}

# --- 1. timings ----------------------------------------------------------------------

echo "# 1. pushes ($N per target) ..."
t0=$(now_ns)
for i in $(seq 1 "$N"); do
	for t in $(order_for "$i"); do push push "$t" "$i"; done
done
for i in $(seq 1 "$N"); do
	for t in $(order_for "$i"); do push repush "$t" "$i"; done
done
alive
for i in $(seq 1 "$N"); do
	for t in $(order_for "$i"); do put mput "$t" "$i" "m$i"; done
done
for i in $(seq 1 "$N"); do
	for t in $(order_for "$i"); do put reput "$t" "$i" "r$i"; done
done
alive
echo "# done in $((($(now_ns) - t0) / 1000000)) ms"
echo
echo "== 1. latency =="
$TOOL report "$T/times"
echo

# --- 2. round trips ------------------------------------------------------------------

# Two views of the same requests:
#  - signet as above, straight to the registry: the registry's log gives each
#    request's start and duration; requests that overlap in time are
#    parallel.  But signet does CPU work between sending the requests of one
#    round (it signs after sending the list GET), so on loopback a short
#    parallel request can end before its sibling starts, and overlap alone
#    can overstate the rounds.
#  - a second signet (same key and policies) whose upstream is a small
#    delaying TCP relay (every upstream response held DELAY_MS): each round
#    trip in series then costs DELAY_MS, the requests of one round are sent
#    within a few ms of each other, and a new round starts >= DELAY_MS after
#    the previous one.  Rounds = clusters of start times (gap > DELAY_MS/2),
#    and, independently, (latency with delay - latency without) / DELAY_MS.
DELAY_MS=40
R=3	# manifests PUT per variant in this part (medians)
read -r DLY_PORT SIG2_PORT <<EOF
$(free_ports 2)
EOF
DLY=127.0.0.1:$DLY_PORT
PROXY2=127.0.0.1:$SIG2_PORT
cat >"$T/delay.py" <<'PYEOF'
# delay.py PORT UPSTREAM_PORT DELAY_MS: a TCP relay on 127.0.0.1:PORT that
# holds every upstream->client chunk DELAY_MS after it arrives (order kept);
# client->upstream bytes pass at once.
import asyncio, sys, time
PORT, UP, DELAY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1e3

async def pump(r, w, delay):
    q = asyncio.Queue()
    async def writer():
        while True:
            due, data = await q.get()
            if data is None:
                break
            d = due - time.monotonic()
            if d > 0:
                await asyncio.sleep(d)
            w.write(data)
            await w.drain()
        try:
            w.write_eof()
        except OSError:
            pass
    t = asyncio.ensure_future(writer())
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            q.put_nowait((time.monotonic() + delay, data))
    except OSError:
        pass
    q.put_nowait((0, None))
    try:
        await t
    except OSError:
        pass

async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", UP)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, uw, 0), pump(ur, cw, DELAY),
                         return_exceptions=True)
    cw.close()
    uw.close()

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", PORT)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
PYEOF
python3 "$T/delay.py" "$DLY_PORT" "$REG_PORT" "$DELAY_MS" >"$T/delay.log" 2>&1 &
DLY_PID=$!
PIDS="$PIDS $DLY_PID"
sed -e "s|\"listen\": \[\"$PROXY\"\]|\"listen\": [\"$PROXY2\"]|" \
    -e "s|\"url\": \"http://$REG\"|\"url\": \"http://$DLY\"|" \
    "$T/signet.json" >"$T/signet2.json"
"$SIGNET" serve -c "$T/signet2.json" >"$T/signet2.log" 2>&1 &
SIG2_PID=$!
PIDS="$PIDS $SIG2_PID"
wait_ready delay-relay "$DLY_PID" "http://$DLY/v2/"
wait_ready signet-2 "$SIG2_PID" "http://$PROXY2/v2/"

# New manifests (image signed-1 plus an annotation) in fresh repositories,
# blobs mounted there straight in the registry beforehand (not timed).
: >"$T/rt.spec"
for k in $(seq 1 "$R"); do
	echo "$T/img/signed-1 $T/man/rt$k.json rt$k-$RUN" >>"$T/rt.spec"
done
$TOOL mkman "$T/rt.spec"
for d in $($TOOL blobs "$T/img/signed-1"); do
	for r in signed/rt direct/rt signed/rtd direct/rtd; do
		c=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
		    "http://$REG/v2/$r/blobs/uploads/?mount=$d&from=signed/app")
		[ "$c" = 201 ] || die "mounting $d into $r: HTTP $c"
	done
done
# rtput SERIES K URL: PUT manifest rtK, time_total in ms to times/SERIES
rtput() {
	out=$(curl -s -o "$T/put.out" -w '%{http_code} %{time_total}' -X PUT \
	    -H 'Expect:' -H "Content-Type: $MT" --data-binary "@$T/man/rt$2.json" \
	    "$3" || echo "000 0")
	code=${out%% *}
	if [ "$code" = 201 ]; then
		awk -v t="${out#* }" 'BEGIN { printf "%.3f\n", t * 1000 }' >>"$T/times/$1"
	else
		failures=$((failures + 1))
		echo "FAILED: PUT $3 -> $code: $(head -c 300 "$T/put.out")" >&2
	fi
}
echo "# 2. round trips: waiting for background rechecks of part 1 to end ..."
sleep 5
for k in $(seq 1 "$R"); do
	if [ "$k" = 1 ]; then mk=marker; else mk=:; fi
	$mk d0
	rtput rt.direct "$k" "http://$REG/v2/direct/rt/manifests/$k"
	$mk d1
	$mk s0
	rtput rt.signed "$k" "http://$PROXY/v2/signed/rt/manifests/$k"
	$mk s1
	[ "$k" != 1 ] || sleep 5.5
	$mk s2
	$mk r0
	rtput rt.again "$k" "http://$PROXY/v2/signed/rt/manifests/$k"
	$mk r1
	[ "$k" != 1 ] || sleep 5.5
	$mk r2
	$mk dd0
	rtput rtd.direct "$k" "http://$DLY/v2/direct/rtd/manifests/$k"
	$mk dd1
	$mk ds0
	rtput rtd.signed "$k" "http://$PROXY2/v2/signed/rtd/manifests/$k"
	$mk ds1
	$mk da0
	rtput rtd.again "$k" "http://$PROXY2/v2/signed/rtd/manifests/$k"
	$mk da1
done
alive
for p in $DLY_PID $SIG2_PID; do
	kill -0 "$p" 2>/dev/null || { echo "sign_bench: pid $p died" >&2; exit 1; }
done

echo "== 2. upstream requests for one manifest PUT by tag =="
echo "commands: curl -s -X PUT -H 'Expect:' -H 'Content-Type: $MT' --data-binary @MAN URL, URL ="
echo "  direct:  http://$REG/v2/direct/rt/manifests/K"
echo "  signed:  http://$PROXY/v2/signed/rt/manifests/K  (new signature), then the same again"
echo "  delayed: http://$DLY/v2/direct/rtd/manifests/K  (through the relay)"
echo "           http://$PROXY2/v2/signed/rtd/manifests/K  (signet-2, upstream = the relay), twice"
echo "  (MAN = manifest K = 1..$R, each a new digest; listings are of K = 1; the registry's"
echo "   log is cut with GET /v2/bench-marker/NAME/manifests/m; the relay is python3"
echo "   $T/delay.py $DLY_PORT $REG_PORT $DELAY_MS: each upstream response held ${DELAY_MS} ms)"
$TOOL roundtrips "$T/registry.log" "$T/times" "$DELAY_MS"
echo

# --- 3. signet's own numbers -----------------------------------------------------------

echo "== 3. signet's log =="
echo "\"msg\":\"signature\" lines (outcome signed = a new signature written," \
    "present = already there):"
$TOOL sigdur "$T/signet.log"
echo "\"msg\":\"access\" lines of the client's manifest PUTs (both parts):"
$TOOL access "$T/signet.log"
cat "$T/signet.log" "$T/signet2.log" | grep '"level":"\(warn\|error\)"' >"$T/sigerr" || true
echo "signet warn/error lines (both signets): $(wc -l <"$T/sigerr")"
head -n 5 "$T/sigerr" | cut -c1-300 | sed 's/^/  /'
# the registry's errors, less the 404s that pushes and the markers cause
grep '^time=.*level=error' "$T/registry.log" |
    grep -v 'err.code="\(blob unknown\|manifest unknown\|name unknown\)"' \
    >"$T/regerr" || true
echo "registry error lines (other than blob/manifest/name unknown): $(wc -l <"$T/regerr")"
head -n 5 "$T/regerr" | cut -c1-300 | sed 's/^/  /'
echo
if [ "$failures" -ne 0 ]; then
	echo "RESULT: $failures push(es)/PUT(s) FAILED"
	exit 1
fi
echo "RESULT: all pushes and PUTs succeeded"
