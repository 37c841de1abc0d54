#!/bin/bash
# Copy throughput: a 1 GiB image (one layer; COPY_BENCH_MIB changes the
# size, COPY_BENCH_LAYERS splits it into that many layers) from one real
# registry to another, with `signet copy` and with `skopeo copy`,
# side by side in one run; prints MiB/s and the ratio signet/skopeo.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
SIGNET=${SIGNET:-$top/signet}
MIB=${COPY_BENCH_MIB:-1024}
ROUNDS=${COPY_BENCH_ROUNDS:-2}
LAYERS=${COPY_BENCH_LAYERS:-1}
T=$(mktemp -d /tmp/signet-copybench.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
for c in docker-registry skopeo python3 "$SIGNET"; do
	command -v "$c" >/dev/null || { echo "missing: $c"; exit 2; }
done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
registry() {	# registry NAME -> prints host:port
	p=$(port)
	mkdir -p "$T/$1"
	printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' \
	    "$T/$1" "$p" >"$T/$1.yml"
	docker-registry serve "$T/$1.yml" >"$T/$1.log" 2>&1 &
	PIDS="$PIDS $!"
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/v2/" && break; sleep 0.1; done
	echo "127.0.0.1:$p"
}
A=$(registry a)
echo "signet copy benchmark: ${MIB} MiB in $LAYERS layer(s), $ROUNDS round(s), from $A to a new registry per tool and round"
echo "versions: $("$SIGNET" version); $(skopeo --version); $(docker-registry --version)"

# an OCI layout with incompressible layers (registries do not unpack them)
mkdir -p "$T/img/blobs/sha256"
for i in $(seq 1 "$LAYERS"); do
	head -c $((MIB * 1024 * 1024 / LAYERS)) /dev/urandom >"$T/layer$i"
done
python3 - "$T" "$LAYERS" <<'PY'
import hashlib, json, os, sys
T = sys.argv[1]
n = int(sys.argv[2])
def put(data_path=None, data=None):
    h = hashlib.sha256()
    if data is None:
        with open(data_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        size = os.path.getsize(data_path)
        os.rename(data_path, "%s/img/blobs/sha256/%s" % (T, h.hexdigest()))
    else:
        h.update(data)
        size = len(data)
        open("%s/img/blobs/sha256/%s" % (T, h.hexdigest()), "wb").write(data)
    return {"digest": "sha256:" + h.hexdigest(), "size": size}
layers = []
for i in range(1, n + 1):
    layer = put(data_path="%s/layer%d" % (T, i))
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    layers.append(layer)
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
c = put(data=cfg)
c["mediaType"] = "application/vnd.oci.image.config.v1+json"
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": c, "layers": layers}).encode()
m = put(data=man)
m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
json.dump({"schemaVersion": 2, "manifests": [m]}, open(T + "/img/index.json", "w"))
open(T + "/img/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
skopeo copy -q --dest-tls-verify=false "oci:$T/img" "docker://$A/bench/img:1"

now() { date +%s%N; }
# a fresh target each time: no blob is already there to mount or skip
for r in $(seq 1 "$ROUNDS"); do
	BS=$(registry "s$r")
	BG=$(registry "g$r")
	sync
	t0=$(now)
	skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
	    "docker://$A/bench/img:1" "docker://$BS/img:1"
	t1=$(now)
	"$SIGNET" copy --allow-http "$A/bench/img:1" "$BG/img:1" >/dev/null 2>&1
	t2=$(now)
	sk=$(( (t1 - t0) / 1000000 ))
	sg=$(( (t2 - t1) / 1000000 ))
	echo "round $r: skopeo ${sk} ms ($(( MIB * 1000 / (sk > 0 ? sk : 1) )) MiB/s), signet ${sg} ms ($(( MIB * 1000 / (sg > 0 ? sg : 1) )) MiB/s)"
	echo "$sk $sg" >>"$T/times"
done
python3 - "$T/times" "$MIB" <<'PY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
mib = int(sys.argv[2])
sk = statistics.median(r[0] for r in rows)
sg = statistics.median(r[1] for r in rows)
print("median: skopeo %.0f MiB/s, signet %.0f MiB/s; signet/skopeo throughput %.2f (target >= 1.0)"
      % (mib * 1000 / sk, mib * 1000 / sg, sk / sg))
PY
