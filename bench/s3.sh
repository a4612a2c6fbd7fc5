#!/usr/bin/env bash
# Benchmark of `mirrorctl release mirror` into a registry on S3 storage against the same
# registry on the filesystem (issue 15, "Benchmark"). Not a test: it prints figures and writes
# them to bench/out/s3-results.md; the published ones live in docs/performance.md.
#
# In one run:
#  1. installs what is missing (docker-registry, skopeo, moto, GNU time, jq) and builds release
#     binaries;
#  2. pushes a synthetic OpenShift release (mirror-fixture) into a plain-HTTP upstream registry;
#  3. starts moto's S3 server on loopback and makes a bucket;
#  4. starts two registries with `mirrorctl registry up` (TLS, htpasswd, process runtime): one
#     with `--storage filesystem`, one with `--storage s3` on that bucket;
#  5. mirrors the release into each under /usr/bin/time -v (wall, peak RSS), then reruns each
#     (the no-op case);
#  6. checks the release digest at both with skopeo, and reads the biggest component's blobs
#     back through the S3 registry (redirected to the store).
# Everything listens on 127.0.0.1; all is stopped on exit and the work dir is removed unless
# BENCH_KEEP=1. moto is an in-memory Python server made for tests: the S3 figures measure the
# registry's S3 path against moto, not against a production object store.
#
# Environment:
#   BENCH_COMPONENTS (100)  BENCH_TOTAL_MIB (2304)  BENCH_BIG_MIB (600)   fixture scale
#   BENCH_WORK (bench/out/s3-work)   where registries keep their data
#   BENCH_KEEP (0)                   keep the work dir
#   CARGO_TARGET_DIR                 where cargo builds (default: the workspace target/)
#
# Smoke run: BENCH_COMPONENTS=20 BENCH_TOTAL_MIB=200 BENCH_BIG_MIB=64 bench/s3.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
. bench/lib.sh

components=${BENCH_COMPONENTS:-100}
total_mib=${BENCH_TOTAL_MIB:-2304}
big_mib=${BENCH_BIG_MIB:-600}
work=${BENCH_WORK:-$root/bench/out/s3-work}
out=$root/bench/out
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release
user=bench
password=bench-password-not-secret

# 1. Tools and binaries.
bench_setup curl
mirrorctl=$bin/mirrorctl

mkdir -p "$out"
rm -rf "$work"
mkdir -p "$work"
moto_pid=
cleanup() {
  for r in fs s3; do
    [ -d "$work/$r" ] && "$mirrorctl" registry down --root "$work/$r" >/dev/null 2>&1 || true
  done
  [ -f "$work/upstream/registry.pid" ] && "$bin/mirror-fixture" down --dir "$work/upstream" >/dev/null 2>&1
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 2. The fixture.
log "pushing the fixture: $components components, ~$total_mib MiB unique, big layer $big_mib MiB"
"$bin/mirror-fixture" up --dir "$work/upstream" \
  --components "$components" --total-mib "$total_mib" --big-mib "$big_mib" >/dev/null
. "$work/upstream/fixture.env"
upstream=$REGISTRY
fx=$work/upstream/fixture.json
version=$(jq -r .fixture.version "$fx")
unique_bytes=$(jq .fixture.unique_bytes "$fx")
unique_blobs=$(jq .fixture.unique_blobs "$fx")
n_components=$(jq '.fixture.components | length' "$fx")
big_digest=$(jq -r '.fixture.components[] | select(.name == "machine-os-content") | .digest' "$fx")

# 3. moto and a bucket.
moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!
wait_port "127.0.0.1:$moto_port"
endpoint=http://127.0.0.1:$moto_port
curl -sf -X PUT "$endpoint/bench" >/dev/null
printf 'AKIABENCH\nbench-secret-key\n' >"$work/s3-credentials"
chmod 600 "$work/s3-credentials"
log "moto at $endpoint, bucket bench"

# 4. Two registries from the same certificates and user.
printf 'countrycode=US\nstate=NC\nlocality=Raleigh\norganization=Bench\nunit=IT\n' >"$work/certificate"
"$mirrorctl" -q tls generate --dir "$work/fs/certs" --certificate-file "$work/certificate" \
  --hostname localhost --san 127.0.0.1 --no-host-ips --key-type ecdsa-p256 \
  --email bench@example.com >/dev/null
printf '%s\n' "$password" >"$work/password"
"$mirrorctl" registry user add --username "$user" --password-file "$work/password" \
  --htpasswd "$work/fs/auth/htpasswd" >/dev/null
mkdir -p "$work/s3"
cp -a "$work/fs/certs" "$work/fs/auth" "$work/s3/"
fs_port=$(free_port)
s3_port=$(free_port)
up() {
  MIRRORCTL_SUPERVISOR=process "$mirrorctl" registry up --runtime process --bind 127.0.0.1 "$@" >/dev/null
}
up --root "$work/fs" --port "$fs_port"
up --root "$work/s3" --port "$s3_port" --storage s3 --s3-endpoint "$endpoint" \
  --s3-bucket bench --s3-root /mirror --s3-credentials-file "$work/s3-credentials"
fs=127.0.0.1:$fs_port
s3=127.0.0.1:$s3_port
auth=$(printf '%s:%s' "$user" "$password" | base64 -w0)
printf '{"auths":{"%s":{"auth":"%s"},"%s":{"auth":"%s"}}}\n' "$fs" "$auth" "$s3" "$auth" >"$work/auth.json"
log "registries: filesystem at $fs, s3 at $s3"

# 5. Mirror into each, then rerun.
run_mirror() {
  local name=$1 host=$2 t
  sync
  t=$(now)
  /usr/bin/time -v -o "$work/$name.time" "$mirrorctl" -q release mirror \
    --from "$RELEASE" --to "$host/ocp4/openshift4" -a "$work/auth.json" \
    --insecure-registry "$upstream" --ca-file "$work/fs/certs/ca.crt" \
    --output json >"$work/$name.json"
  m_wall=$(since "$t")
  m_rss=$(rss_kib "$work/$name.time")
}
declare -A wall rss noop copied
for name in fs s3; do
  host=$fs
  [ "$name" = s3 ] && host=$s3
  log "mirrorctl release mirror -> $name ($host)"
  run_mirror "$name" "$host"
  wall[$name]=$m_wall
  rss[$name]=$m_rss
  copied[$name]=$(jq .bytesCopied "$work/$name.json")
  log "$name: ${m_wall}s, peak RSS $(mib "$m_rss") MiB, $(mib $((copied[$name] / 1024))) MiB copied"
  run_mirror "$name-rerun" "$host"
  noop[$name]=$m_wall
  [ "$(jq .bytesCopied "$work/$name-rerun.json")" = 0 ] || { echo "error: the $name rerun copied bytes" >&2; exit 1; }
done

# 6. Correctness: the release digest at both, and the biggest component read back through the
# S3 registry (its blobs come from the store by redirect).
mkdir -p "$work/skopeo-certs"
cp "$work/fs/certs/ca.crt" "$work/skopeo-certs/"
for host in "$fs" "$s3"; do
  got=sha256:$(skopeo inspect --raw --cert-dir "$work/skopeo-certs" --authfile "$work/auth.json" \
    "docker://$host/ocp4/openshift4:$version-x86_64" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$RELEASE_DIGEST" ] || { echo "error: $host has $got, want $RELEASE_DIGEST" >&2; exit 1; }
done
t=$(now)
skopeo copy -q --preserve-digests --src-cert-dir "$work/skopeo-certs" --src-authfile "$work/auth.json" \
  "docker://$s3/ocp4/openshift4@$big_digest" "dir:$work/readback" >/dev/null
readback_s=$(since "$t")
readback_bytes=$(du -sb "$work/readback" | cut -f1)
presigned=$(grep -c 'X-Amz-Signature=' "$work/moto.log" || true)
log "both registries hold the release at $RELEASE_DIGEST; read back $(mib $((readback_bytes / 1024))) MiB through S3 in ${readback_s}s ($presigned presigned GETs)"

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
rate() { awk -v b="$unique_bytes" -v s="$1" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
ratio=$(awk -v a="${wall[s3]}" -v b="${wall[fs]}" 'BEGIN { printf "%.2f", a / b }')
{
  echo "# mirrorctl release mirror into S3 storage vs the filesystem"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM."
  echo "Load average (1/5/15 min): $load_start at the start, $load_end at the end."
  echo
  echo "Fixture: $n_components components, $unique_blobs unique blobs, $(mib $((unique_bytes / 1024))) MiB unique, biggest layer ~$big_mib MiB."
  echo "Both registries: Debian \`docker-registry\` started by \`mirrorctl registry up --runtime process\`, TLS and htpasswd on 127.0.0.1;"
  echo "S3: moto (in-memory, Python) on 127.0.0.1, \`--s3-root /mirror\`, redirects on."
  echo
  echo "| measure | filesystem | s3 (moto) |"
  echo "|---|---|---|"
  echo "| mirror into an empty registry (wall) | ${wall[fs]} s ($(rate "${wall[fs]}") MiB/s) | ${wall[s3]} s ($(rate "${wall[s3]}") MiB/s) |"
  echo "| mirrorctl peak RSS | $(mib "${rss[fs]}") MiB | $(mib "${rss[s3]}") MiB |"
  echo "| no-op rerun (wall) | ${noop[fs]} s | ${noop[s3]} s |"
  echo
  echo "S3 / filesystem: ${ratio}x. Release digest checked with skopeo at both: $RELEASE_DIGEST."
  echo "Read back through the S3 registry: machine-os-content, $(mib $((readback_bytes / 1024))) MiB in ${readback_s} s (blobs by redirect from moto; $presigned presigned GETs)."
} >"$out/s3-results.md"
cat "$out/s3-results.md"
