#!/usr/bin/env bash
# Benchmark of bundles (issue 12, "Benchmark"): mirror to disk and publish from disk against a
# registry-to-registry mirror of the same release, in one run. Not a test: it prints figures
# and writes them to bench/out/bundle-results.md; the published ones live in
# docs/performance.md.
#
# In one run:
#  1. installs what is missing (docker-registry, skopeo, GNU time, jq) and builds release binaries;
#  2. pushes a synthetic OpenShift release (mirror-fixture) into an upstream registry;
#  3. mirrors it registry to registry into an empty target (the reference), checks and drops it;
#  4. mirrors it to disk (`--to-dir`, an OCI layout directory), then reruns that (the no-op);
#  5. the volume writer against the disk write it does: copies the bundle directory with
#     `cp -r` and `sync` (the reference: the same bytes read, written and made durable once),
#     then packs that copy into volumes (`--to-dir COPY --archive-size SIZE` over the complete
#     directory bundle: the mirror is a no-op, timed in step 4 and subtracted; the rest is
#     packing: read, sha256, write, fsync, remove the packed files);
#  6. stops the upstream registry and deletes its data: nothing can reach the source;
#  7. `bundle verify` on both bundles;
#  8. publishes each bundle (`--from-dir`) into an empty target, checking the release digest and
#     the biggest component's with skopeo, and drops the target.
# Every command runs under /usr/bin/time -v (wall, peak RSS) after a `sync`. Registries listen on
# 127.0.0.1 with plain HTTP and are stopped on exit; the work dir is removed unless BENCH_KEEP=1.
# Disk: about 3x the release at the peak (two bundles and one registry); the script checks the
# free space first.
#
# Environment:
#   BENCH_COMPONENTS (100)  BENCH_TOTAL_MIB (2304)  BENCH_BIG_MIB (600)   fixture scale
#   BENCH_ARCHIVE_SIZE (500MiB)   volume size for step 5
#   BENCH_WORK (bench/out/bundle-work)   where registries and bundles live
#   BENCH_KEEP (0)                keep the work dir (nothing is left running either way)
#   CARGO_TARGET_DIR              where cargo builds (default: the workspace target/)
#
# Smoke run: BENCH_COMPONENTS=20 BENCH_TOTAL_MIB=200 BENCH_BIG_MIB=64 BENCH_ARCHIVE_SIZE=32MiB bench/bundle.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
. bench/lib.sh

components=${BENCH_COMPONENTS:-100}
total_mib=${BENCH_TOTAL_MIB:-2304}
big_mib=${BENCH_BIG_MIB:-600}
archive_size=${BENCH_ARCHIVE_SIZE:-500MiB}
work=${BENCH_WORK:-$root/bench/out/bundle-work}
out=$root/bench/out
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release

rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

# 1. Tools and binaries.
bench_setup

mkdir -p "$out"
rm -rf "$work"
mkdir -p "$work"
need_disk "$work" $((total_mib * 4))
cleanup() {
  local d
  for d in "$work"/*/; do
    [ -f "$d/registry.pid" ] && "$bin/mirror-fixture" down --dir "$d" >/dev/null 2>&1
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

empty_registry() {
  "$bin/mirror-fixture" up --dir "$work/$1" --empty >/dev/null
  (. "$work/$1/fixture.env" && echo "$REGISTRY")
}
drop_registry() {
  "$bin/mirror-fixture" down --dir "$work/$1" >/dev/null
  rm -rf "${work:?}/$1"
}
# Runs a command under /usr/bin/time -v as step $1; sets t_wall, t_rss (KiB).
timed() {
  local name=$1 t
  shift
  sync
  t=$(now)
  /usr/bin/time -v -o "$work/$name.time" "$@"
  t_wall=$(since "$t")
  t_rss=$(rss_kib "$work/$name.time")
}
check() {
  local ref=$1 want=$2 got
  got=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$ref" | sha256sum | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "error: $ref has digest $got, the source has $want" >&2
    exit 1
  fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 2. The fixture.
log "pushing the fixture: $components components, ~$total_mib MiB unique, big layer $big_mib MiB"
"$bin/mirror-fixture" up --dir "$work/upstream" \
  --components "$components" --total-mib "$total_mib" --big-mib "$big_mib" >/dev/null
. "$work/upstream/fixture.env"
upstream=$REGISTRY
fx=$work/upstream/fixture.json
version=$(jq -r .fixture.version "$fx")
unique_blobs=$(jq .fixture.unique_blobs "$fx")
unique_bytes=$(jq .fixture.unique_bytes "$fx")
n_components=$(jq '.fixture.components | length' "$fx")
big_digest=$(jq -r '.fixture.components[] | select(.name == "machine-os-content") | .digest' "$fx")
mc="$bin/mirrorctl -q release mirror --output json"

# 3. Registry to registry, the reference.
t_r2r=$(empty_registry r2r)
log "registry to registry -> $t_r2r"
timed r2r $mc --from "$RELEASE" --to "$t_r2r/ocp4/openshift4" \
  --insecure-registry "$upstream" --insecure-registry "$t_r2r" >"$work/r2r.json"
r2r_wall=$t_wall r2r_rss=$t_rss
check "$t_r2r/ocp4/openshift4:$version-x86_64" "$RELEASE_DIGEST"
drop_registry r2r

# 4. To disk, and the no-op rerun.
log "to disk -> $work/bundle-dir"
timed todir $mc --from "$RELEASE" --to-dir "$work/bundle-dir" --insecure-registry "$upstream" >"$work/todir.json"
todir_wall=$t_wall todir_rss=$t_rss
bundle_bytes=$(jq .blobs.bytes "$work/bundle-dir/mirrorctl-bundle.json")
timed noop $mc --from "$RELEASE" --to-dir "$work/bundle-dir" --insecure-registry "$upstream" >"$work/noop.json"
noop_wall=$t_wall
[ "$(jq .blobsWritten "$work/noop.json")" = 0 ] || { echo "error: the rerun wrote blobs" >&2; exit 1; }

# 5. The volume writer against the disk write it does.
log "cp -r of the bundle and sync (the reference disk write)"
timed cp sh -c "cp -r '$work/bundle-dir' '$work/bundle-vol' && sync"
cp_wall=$t_wall
log "packing that copy into $archive_size volumes"
timed pack $mc --from "$RELEASE" --to-dir "$work/bundle-vol" --archive-size "$archive_size" \
  --insecure-registry "$upstream" >"$work/pack.json"
pack_wall=$t_wall pack_rss=$t_rss
pack_only=$(awk -v a="$pack_wall" -v b="$noop_wall" 'BEGIN { x = a - b; if (x < 0) x = 0; printf "%.2f", x }')
n_volumes=$(jq '.volumes | length' "$work/bundle-vol/mirrorctl-bundle.json")
(cd "$work/bundle-vol" && sha256sum --quiet -c mirrorctl-bundle.sha256)

# 6. The source is gone.
log "stopping the upstream registry and deleting its data"
drop_registry upstream

# 7. Verify.
timed verify_dir "$bin/mirrorctl" -q bundle verify "$work/bundle-dir" >/dev/null
verify_dir_wall=$t_wall
timed verify_vol "$bin/mirrorctl" -q bundle verify "$work/bundle-vol" >/dev/null
verify_vol_wall=$t_wall

# 8. Publish each bundle into an empty target.
publish() {
  local name=$1 dir=$2 host
  host=$(empty_registry "$name")
  log "publishing $dir -> $host"
  timed "$name" $mc --from-dir "$dir" --to "$host/ocp4/openshift4" --insecure-registry "$host" >"$work/$name.json"
  check "$host/ocp4/openshift4:$version-x86_64" "$RELEASE_DIGEST"
  check "$host/ocp4/openshift4:$version-x86_64-machine-os-content" "$big_digest"
  drop_registry "$name"
}
publish pub-dir "$work/bundle-dir"
pub_dir_wall=$t_wall pub_dir_rss=$t_rss
publish pub-vol "$work/bundle-vol"
pub_vol_wall=$t_wall pub_vol_rss=$t_rss

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
total=$(awk -v a="$todir_wall" -v b="$pub_dir_wall" 'BEGIN { printf "%.2f", a + b }')
verdict() { if awk -v x="$1" -v lim="$2" 'BEGIN { exit !(x <= lim) }'; then echo met; else echo "**missed**"; fi; }
{
  echo "# bundle benchmark"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)."
  echo "Load average (1/5/15 min): $load_start at the start, $load_end at the end."
  echo
  echo "Fixture: $n_components components, $unique_blobs unique blobs, $(mib $((unique_bytes / 1024))) MiB unique, biggest layer ~$big_mib MiB."
  echo "Bundle: $(mib $((bundle_bytes / 1024))) MiB of blobs (manifests included); $n_volumes volumes of at most $archive_size."
  echo
  echo "| step | wall | rate | peak RSS |"
  echo "|---|---|---|---|"
  echo "| registry -> registry (reference) | ${r2r_wall} s | $(rate "$unique_bytes" "$r2r_wall") MiB/s | $(mib "$r2r_rss") MiB |"
  echo "| registry -> disk (\`--to-dir\`) | ${todir_wall} s | $(rate "$unique_bytes" "$todir_wall") MiB/s | $(mib "$todir_rss") MiB |"
  echo "| disk -> registry (\`--from-dir\`, directory) | ${pub_dir_wall} s | $(rate "$unique_bytes" "$pub_dir_wall") MiB/s | $(mib "$pub_dir_rss") MiB |"
  echo "| disk -> registry (\`--from-dir\`, volumes, checksums first) | ${pub_vol_wall} s | $(rate "$unique_bytes" "$pub_vol_wall") MiB/s | $(mib "$pub_vol_rss") MiB |"
  echo "| to disk + from disk / registry -> registry | $(ratio "$total" "$r2r_wall")x | | |"
  echo "| \`--to-dir\` rerun of the complete bundle | ${noop_wall} s | | |"
  echo "| \`bundle verify\` (directory / volumes) | ${verify_dir_wall} s / ${verify_vol_wall} s | | |"
  echo
  echo "The volume writer against the disk write it does (same bytes):"
  echo
  echo "| | wall | |"
  echo "|---|---|---|"
  echo "| \`cp -r\` of the bundle directory, then \`sync\` | ${cp_wall} s | |"
  echo "| \`--to-dir --archive-size\` over that copy: no-op mirror + packing | ${pack_wall} s (peak RSS $(mib "$pack_rss") MiB) | |"
  echo "| packing alone (less the no-op rerun of step 4): read, sha256, write, fsync, remove | ${pack_only} s | |"
  echo "| packing / (cp + sync) | $(ratio "$pack_only" "$cp_wall")x | <= 1x: $(verdict "$(ratio "$pack_only" "$cp_wall")" 1.0) |"
  echo
  echo "Both published targets hold the release at $RELEASE_DIGEST (checked with skopeo, the source registry stopped and deleted)."
} >"$out/bundle-results.md"
cat "$out/bundle-results.md"
