#!/usr/bin/env bash
# Benchmark of `mirrorctl release mirror` against skopeo, on loopback registries (issue 3,
# "Benchmark"). Not a test: it prints figures and writes them to bench/out/results.md; the
# published ones live in docs/performance.md.
#
# In one run:
#  1. installs what is missing (docker-registry, skopeo, GNU time, jq) and builds release binaries;
#  2. pushes a synthetic OpenShift release (mirror-fixture) into an upstream registry;
#  3. mirrors it with mirrorctl into an empty registry under /usr/bin/time -v (wall, peak RSS);
#  4. copies the same images into another empty registry with `skopeo copy --all
#     --preserve-digests`, 8 processes in parallel, one per component by digest plus the release;
#  5. reruns mirrorctl against its filled target (the no-op case);
#  6. sweeps --max-per-registry over fresh empty targets;
#  7. checks the release digest (and the biggest component's) at both targets with skopeo.
# Every registry listens on 127.0.0.1 and serves plain HTTP; all are stopped on exit and the
# work dir is removed unless BENCH_KEEP=1.
#
# Environment:
#   BENCH_COMPONENTS (100)  BENCH_TOTAL_MIB (2304)  BENCH_BIG_MIB (600)   fixture scale
#   BENCH_SKOPEO_PARALLEL (8)     skopeo processes in flight
#   BENCH_SWEEP ("2 4 8 16")      --max-per-registry values to sweep; empty to skip
#   BENCH_WORK (bench/out/work)   where registries keep their data
#   BENCH_KEEP (0)                keep the work dir and leave nothing running either way
#   CARGO_TARGET_DIR              where cargo builds (default: the workspace target/)
#
# Smoke run: BENCH_COMPONENTS=20 BENCH_TOTAL_MIB=200 BENCH_BIG_MIB=64 BENCH_SWEEP="4 8" bench/mirror.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
. bench/lib.sh

components=${BENCH_COMPONENTS:-100}
total_mib=${BENCH_TOTAL_MIB:-2304}
big_mib=${BENCH_BIG_MIB:-600}
parallel=${BENCH_SKOPEO_PARALLEL:-8}
sweep=${BENCH_SWEEP-2 4 8 16}
work=${BENCH_WORK:-$root/bench/out/work}
out=$root/bench/out
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release

# 1. Tools and binaries.
bench_setup

mkdir -p "$out"
rm -rf "$work"
mkdir -p "$work"
cleanup() {
  local d
  for d in "$work"/*/; do
    [ -f "$d/registry.pid" ] && "$bin/mirror-fixture" down --dir "$d" >/dev/null 2>&1
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# An empty registry under $work/$1; prints its host:port.
empty_registry() {
  "$bin/mirror-fixture" up --dir "$work/$1" --empty >/dev/null
  (. "$work/$1/fixture.env" && echo "$REGISTRY")
}
# Stops the registry under $work/$1 and drops its data.
drop_registry() {
  "$bin/mirror-fixture" down --dir "$work/$1" >/dev/null
  rm -rf "${work:?}/$1"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 2. The fixture.
log "pushing the fixture: $components components, ~$total_mib MiB unique, big layer $big_mib MiB"
t=$(now)
"$bin/mirror-fixture" up --dir "$work/upstream" \
  --components "$components" --total-mib "$total_mib" --big-mib "$big_mib" >/dev/null
fixture_s=$(since "$t")
. "$work/upstream/fixture.env"
upstream=$REGISTRY
fx=$work/upstream/fixture.json
version=$(jq -r .fixture.version "$fx")
n_components=$(jq '.fixture.components | length' "$fx")
n_manifests=$(jq .fixture.manifests "$fx")
unique_blobs=$(jq .fixture.unique_blobs "$fx")
unique_bytes=$(jq .fixture.unique_bytes "$fx")
component_repo=$(jq -r .fixture.component_repo "$fx")
release_repo=$(jq -r .fixture.release_repo "$fx")
log "fixture ready in ${fixture_s}s: $n_components components, $n_manifests manifests, $unique_blobs blobs, $(mib $((unique_bytes / 1024))) MiB"

# mirrorctl into the registry under $work/$1; extra flags after. Sets m_wall, m_rss (KiB) and
# leaves the JSON report in $work/$1.json.
run_mirrorctl() {
  local name=$1 host t
  shift
  host=$(cd "$work/$name" && . ./fixture.env && echo "$REGISTRY")
  sync
  t=$(now)
  /usr/bin/time -v -o "$work/$name.time" "$bin/mirrorctl" -q release mirror \
    --from "$RELEASE" --to "$host/ocp4/openshift4" \
    --insecure-registry "$upstream" --insecure-registry "$host" \
    --output json "$@" >"$work/$name.json"
  m_wall=$(since "$t")
  m_rss=$(rss_kib "$work/$name.time")
}

# 3. mirrorctl into an empty target.
target_m=$(empty_registry target-mirrorctl)
log "mirrorctl release mirror -> $target_m (default --max-per-registry)"
run_mirrorctl target-mirrorctl
mirror_wall=$m_wall
mirror_rss=$m_rss
mirror_bytes=$(jq .bytesCopied "$work/target-mirrorctl.json")
mirror_blobs=$(jq .blobsCopied "$work/target-mirrorctl.json")
mirror_mounted=$(jq .blobsMounted "$work/target-mirrorctl.json")
log "mirrorctl: ${mirror_wall}s, peak RSS $(mib "$mirror_rss") MiB, $mirror_blobs blobs / $(mib $((mirror_bytes / 1024))) MiB copied, $mirror_mounted mounted"

# 4. skopeo, $parallel processes, into another empty target.
target_s=$(empty_registry target-skopeo)
jobs=$work/skopeo-jobs.txt
jq -r --arg repo "$component_repo" --arg to "$target_s/ocp4/openshift4:$version-x86_64" \
  '.fixture.components[] | "\(.name) docker://\($repo)@\(.digest) docker://\($to)-\(.name)"' \
  "$fx" >"$jobs"
echo "release docker://$release_repo@$RELEASE_DIGEST docker://$target_s/ocp4/openshift4:$version-x86_64" >>"$jobs"
mkdir -p "$work/skopeo-rss"
log "skopeo copy --all --preserve-digests x$parallel -> $target_s ($(wc -l <"$jobs") images)"
export work
sync
t=$(now)
xargs -P "$parallel" -L 1 bash -c '
  /usr/bin/time -f %M -o "$work/skopeo-rss/$0" skopeo copy -q --all --preserve-digests \
    --insecure-policy --src-tls-verify=false --dest-tls-verify=false "$1" "$2" \
    || { echo "error: skopeo copy $1 failed" >&2; exit 255; }' <"$jobs"
skopeo_wall=$(since "$t")
skopeo_rss=$(sort -n "$work"/skopeo-rss/* | tail -1)
log "skopeo x$parallel: ${skopeo_wall}s, peak RSS of one process $(mib "$skopeo_rss") MiB"

# 5. The no-op rerun.
log "mirrorctl rerun against the filled target"
run_mirrorctl target-mirrorctl
noop_wall=$m_wall
noop_rss=$m_rss
noop_bytes=$(jq .bytesCopied "$work/target-mirrorctl.json")
[ "$noop_bytes" = 0 ] || { echo "error: the rerun copied $noop_bytes bytes" >&2; exit 1; }
log "no-op rerun: ${noop_wall}s"

# 7. Correctness, cheaply: the release digest and the big component's at both targets.
big_digest=$(jq -r '.fixture.components[] | select(.name == "machine-os-content") | .digest' "$fx")
check() {
  local ref=$1 want=$2 got
  got=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$ref" | sha256sum | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "error: $ref has digest $got, the source has $want" >&2
    exit 1
  fi
}
for host in "$target_m" "$target_s"; do
  check "$host/ocp4/openshift4:$version-x86_64" "$RELEASE_DIGEST"
  check "$host/ocp4/openshift4:$version-x86_64-machine-os-content" "$big_digest"
done
log "both targets hold the release at $RELEASE_DIGEST"

# 6. The --max-per-registry sweep, each on a fresh empty target.
sweep_rows=()
for n in $sweep; do
  empty_registry "sweep-$n" >/dev/null
  log "sweep: --max-per-registry $n"
  run_mirrorctl "sweep-$n" --max-per-registry "$n"
  sweep_rows+=("| $n | $m_wall | $(awk -v b="$mirror_bytes" -v s="$m_wall" 'BEGIN { printf "%.0f", b / 1048576 / s }') | $(mib "$m_rss") |")
  log "sweep $n: ${m_wall}s, peak RSS $(mib "$m_rss") MiB"
  drop_registry "sweep-$n"
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# 8. Results.
ratio=$(awk -v a="$mirror_wall" -v b="$skopeo_wall" 'BEGIN { printf "%.2f", a / b }')
verdict() { if awk -v x="$1" -v lim="$2" 'BEGIN { exit !(x <= lim) }'; then echo met; else echo "**missed**"; fi; }
rate() { awk -v b="$unique_bytes" -v s="$1" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
{
  echo "# mirrorctl release mirror benchmark"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)."
  echo "Load average (1/5/15 min): $load_start at the start, $load_end at the end."
  echo
  echo "Fixture: $n_components components, $n_manifests manifests, $unique_blobs unique blobs," \
    "$(mib $((unique_bytes / 1024))) MiB unique, biggest layer ~$big_mib MiB (pushed in ${fixture_s}s)."
  echo "All registries: distribution (\`docker-registry\`), plain HTTP on 127.0.0.1, filesystem storage."
  echo
  echo "| measure | value | target | |"
  echo "|---|---|---|---|"
  echo "| mirrorctl, empty target (wall) | ${mirror_wall} s ($(rate "$mirror_wall") MiB/s) | | |"
  echo "| skopeo copy x$parallel, empty target (wall) | ${skopeo_wall} s ($(rate "$skopeo_wall") MiB/s) | | |"
  echo "| mirrorctl / skopeo x$parallel | ${ratio}x | <= 0.5x | $(verdict "$ratio" 0.5) |"
  echo "| mirrorctl peak RSS | $(mib "$mirror_rss") MiB | <= 64 MiB | $(verdict "$(mib "$mirror_rss")" 64) |"
  echo "| skopeo peak RSS (largest single process) | $(mib "$skopeo_rss") MiB | | |"
  echo "| mirrorctl no-op rerun (wall) | ${noop_wall} s (peak RSS $(mib "$noop_rss") MiB) | < 1 s | $(verdict "$noop_wall" 0.999) |"
  echo
  echo "mirrorctl copied $mirror_blobs blobs ($(mib $((mirror_bytes / 1024))) MiB) and mounted $mirror_mounted."
  echo "Release digest checked with skopeo at both targets: $RELEASE_DIGEST."
  if [ ${#sweep_rows[@]} -gt 0 ]; then
    echo
    echo "\`--max-per-registry\` sweep (fresh empty target each):"
    echo
    echo "| --max-per-registry | wall (s) | MiB/s | peak RSS (MiB) |"
    echo "|---|---|---|---|"
    printf '%s\n' "${sweep_rows[@]}"
  fi
} >"$out/results.md"
cat "$out/results.md"
