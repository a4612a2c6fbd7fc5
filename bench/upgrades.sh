#!/usr/bin/env bash
# Two releases that share most layers (issue 16, "Benchmark"): one `release mirror` run with
# both (`--from A --from B`) against two runs of one release each into empty registries (what
# a tool without cross-release dedup moves), plus B mirrored on top of A (an upgrade's
# incremental mirror). Not a test: it prints figures and writes bench/out/upgrades-<size>.md;
# the published ones live in docs/performance.md.
#
# The source is TLS; every target is TLS + htpasswd (bcrypt cost 5). Release B is the same
# synthetic release as A with a third of its components changed (mirror-fixture push
# --revision 1), as a z-stream changes some components and keeps the base layers. Each run is
# timed under /usr/bin/time -v (wall, peak RSS); bytes come from mirrorctl's JSON report.
#
# Environment:
#   BENCH_SIZE (2g)   small: 20 components, 200 MiB; 2g: 100 components, 2304 MiB (per release)
#   BENCH_COMPONENTS, BENCH_TOTAL_MIB, BENCH_BIG_MIB   override the preset's numbers
#   BENCH_WORK (bench/out/work-upgrades)  registry data; needs ~4x one release's size free
#   BENCH_KEEP (0)    keep the work dir (nothing is left running either way)
#   CARGO_TARGET_DIR  where cargo builds (default: the workspace target/)
#
# Smoke run: BENCH_SIZE=small bench/upgrades.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
. bench/lib.sh

size=${BENCH_SIZE:-2g}
case $size in
  small) preset=(20 200 64) ;;
  2g) preset=(100 2304 600) ;;
  *) die "BENCH_SIZE: \`$size\` is not small or 2g" ;;
esac
components=${BENCH_COMPONENTS:-${preset[0]}}
total_mib=${BENCH_TOTAL_MIB:-${preset[1]}}
big_mib=${BENCH_BIG_MIB:-${preset[2]}}
work=${BENCH_WORK:-$root/bench/out/work-upgrades}
out=$root/bench/out
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release

bench_setup
mkdir -p "$out"
rm -rf "$work"
need_disk "$(dirname "$work")" $((total_mib * 4 + 1024))
mkdir -p "$work"

targets=()
cleanup() {
  local d
  for d in "${targets[@]}" "$work/src"; do
    "$bin/mirror-fixture" down --dir "$d" >/dev/null 2>&1 || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pw=$work/password
(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pw")

# 1. Releases A (4.14.1) and B (4.14.2, a third of the components changed) in one source.
log "pushing two releases: $components components, ~$total_mib MiB unique each"
scale=(--components "$components" --total-mib "$total_mib" --big-mib "$big_mib")
"$bin/mirror-fixture" up --dir "$work/src" --tls "${scale[@]}" >/dev/null
"$bin/mirror-fixture" push --dir "$work/src" --version 4.14.2 --revision 1 "${scale[@]}" >/dev/null
. "$work/src/fixture.env"
src=$REGISTRY src_ca=$CA_FILE
rel_a=$src/openshift-release-dev/ocp-release:4.14.1-x86_64
rel_b=$src/openshift-release-dev/ocp-release:4.14.2-x86_64

# An empty TLS + htpasswd target named $1; sets `dst` to its host, writes its auth file
# ($work/$1.auth.json) and the path of its CA ($work/$1.ca).
target() {
  local d=$work/$1
  targets+=("$d")
  "$bin/mirror-fixture" up --dir "$d" --empty --tls --user bench --password-file "$pw" \
    --bcrypt-cost 5 >/dev/null
  dst=$(. "$d/fixture.env" && echo "$REGISTRY")
  (. "$d/fixture.env" && echo "$CA_FILE") >"$work/$1.ca"
  printf '{"auths":{"%s":{"auth":"%s"}}}' "$dst" \
    "$(printf 'bench:%s' "$(cat "$pw")" | base64 -w0)" >"$work/$1.auth.json"
}

# Runs mirrorctl into target $1 with the releases given; prints `wall bytes blobs rss_kib`.
run() {
  local name=$1 dst=$2
  shift 2
  local froms=() r
  for r in "$@"; do froms+=(--from "$r"); done
  local t
  t=$(now)
  /usr/bin/time -v -o "$work/$name.time" "$bin/mirrorctl" -q release mirror "${froms[@]}" \
    --to "$dst/ocp4/openshift4" -a "$work/$name.auth.json" --ca-file "$src_ca" \
    --ca-file "$(cat "$work/$name.ca")" --output json >"$work/$name.json" 2>"$work/$name.err" \
    || die "$name: $(cat "$work/$name.err")"
  echo "$(since "$t") $(jq .bytesCopied "$work/$name.json") $(jq .blobsCopied "$work/$name.json") $(rss_kib "$work/$name.time")"
}
mib_of() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

log "one run with both releases"
target both
read -r both_wall both_bytes both_blobs both_rss < <(run both "$dst" "$rel_a" "$rel_b")
log "each release alone into its own empty registry"
target alone-a
a_dst=$dst
read -r a_wall a_bytes a_blobs a_rss < <(run alone-a "$a_dst" "$rel_a")
target alone-b
read -r b_wall b_bytes b_blobs b_rss < <(run alone-b "$dst" "$rel_b")
log "B on top of A in the same registry (the incremental mirror of an upgrade)"
cp "$work/alone-a.auth.json" "$work/seq.auth.json"
cp "$work/alone-a.ca" "$work/seq.ca"
read -r inc_wall inc_bytes inc_blobs inc_rss < <(run seq "$a_dst" "$rel_b")

sep_wall=$(awk -v a="$a_wall" -v b="$b_wall" 'BEGIN { printf "%.2f", a + b }')
sep_bytes=$((a_bytes + b_bytes))
report=$out/upgrades-$size.md
{
  echo "Two releases, $components components and ~$total_mib MiB unique each, B sharing all but a third of A's components; load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| run | wall | bytes copied | blobs copied | peak RSS |"
  echo "|---|---|---|---|---|"
  echo "| both releases, one run (\`--from A --from B\`) | ${both_wall} s | $(mib_of "$both_bytes") MiB | $both_blobs | $(mib "$both_rss") MiB |"
  echo "| A alone, empty registry | ${a_wall} s | $(mib_of "$a_bytes") MiB | $a_blobs | $(mib "$a_rss") MiB |"
  echo "| B alone, empty registry | ${b_wall} s | $(mib_of "$b_bytes") MiB | $b_blobs | $(mib "$b_rss") MiB |"
  echo "| A and B separately (sum) | ${sep_wall} s | $(mib_of "$sep_bytes") MiB | $((a_blobs + b_blobs)) | |"
  echo "| B on top of A (incremental) | ${inc_wall} s | $(mib_of "$inc_bytes") MiB | $inc_blobs | $(mib "$inc_rss") MiB |"
  echo
  echo "Saved by one run against two separate ones: $(mib_of $((sep_bytes - both_bytes))) MiB ($(ratio "$both_bytes" "$sep_bytes")x the bytes), $(awk -v a="$sep_wall" -v b="$both_wall" 'BEGIN { printf "%.2f", a - b }') s ($(ratio "$both_wall" "$sep_wall")x the wall)."
} >"$report"
cat "$report"
