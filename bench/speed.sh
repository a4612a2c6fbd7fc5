#!/usr/bin/env bash
# Mirror speed where users run it (issue 17): TLS and authentication at both ends, the registry
# `mirrorctl registry up` sets up, a bearer-token source. Not a test: it prints figures and
# writes them to bench/out/speed-<size>.md (and .tsv); the published ones live in
# docs/performance.md.
#
# In one run it pushes a synthetic OpenShift release (mirror-fixture) once into a TLS source
# registry, then for each row below restarts that source in the row's auth mode (same data,
# same port) and runs each contender into a fresh, empty target of the row's kind:
#   a         source TLS + htpasswd (bcrypt cost 5)  -> target TLS + htpasswd (cost 5)
#   b         source as in a  -> a target set up by mirrorctl itself: `tls generate` (RSA 4096),
#             `registry user add` (its default cost, 5), `registry up --runtime process`
#   b-noauth  source as in a  -> the same registry config as b without its `auth:` section
#   c         source TLS + bearer tokens (mirror-fixture token-server) -> target as in a
#   cost10    as a, the target's htpasswd hash at bcrypt cost 10 (knob: what `user add` writes)
#   http1     as a, the clients held to HTTP/1.1 (knob: protocol; --http-version 1.1, which is
#             mirrorctl's default, and bench-copy --http1; skopeo speaks HTTP/1.1 anyway)
#   h2        as a, the clients allowed HTTP/2 (knob: --http-version auto; bench-copy's
#             default, so its row-a run is this one too). The registries still offer
#             HTTP/2 (distribution's `http.http2.disabled: true` would refuse it for everyone).
# Contenders: `mirrorctl release mirror` (release build; its no-op rerun right after),
# `skopeo copy --all --preserve-digests` as BENCH_PARALLEL processes, one per image, and
# bench-copy, the minimal client (tests/src/bin/bench-copy.rs). Each is timed under
# /usr/bin/time -v (wall, peak RSS, client CPU); the registries' own CPU comes from
# /proc/PID/stat before and after, their requests from their access logs. After each run the
# release digest at the target is checked with skopeo. Everything listens on 127.0.0.1; all
# is stopped on exit and the work dir removed unless BENCH_KEEP=1.
#
# Environment:
#   BENCH_SIZE (2g)       small: 20 components, 200 MiB, 64 MiB big layer
#                         2g:    100 components, 2304 MiB, 600 MiB (bench/mirror.sh's fixture)
#                         real:  180 components, 14600 MiB (~15.3 GB), 1024 MiB
#   BENCH_COMPONENTS, BENCH_TOTAL_MIB, BENCH_BIG_MIB   override the preset's numbers
#   BENCH_ROWS ("a b b-noauth c cost10 http1 h2")
#   BENCH_CONTENDERS ("minimal mirrorctl skopeo")      for rows a, b and c
#   BENCH_KNOB_CONTENDERS ("minimal mirrorctl")        for rows b-noauth, cost10, http1 and h2
#   BENCH_BASELINE        another mirrorctl binary (an older commit's release build): adds the
#                         contender `baseline` (same arguments as mirrorctl) to rows a, b and c,
#                         to show that a change made nothing slower
#   BENCH_PARALLEL (8)    skopeo processes and bench-copy transfers in flight (mirrorctl's
#                         default --max-per-registry is 8 too)
#   BENCH_WORK (bench/out/work-speed)   registry data; needs ~2.2x the release's size free
#   BENCH_KEEP (0)        keep the work dir (nothing is left running either way)
#   CARGO_TARGET_DIR      where cargo builds (default: the workspace target/)
#
# Smoke run: BENCH_SIZE=small bench/speed.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
. bench/lib.sh

size=${BENCH_SIZE:-2g}
case $size in
  small) preset=(20 200 64) ;;
  2g) preset=(100 2304 600) ;;
  real) preset=(180 14600 1024) ;;
  *) die "BENCH_SIZE: \`$size\` is not small, 2g or real" ;;
esac
components=${BENCH_COMPONENTS:-${preset[0]}}
total_mib=${BENCH_TOTAL_MIB:-${preset[1]}}
big_mib=${BENCH_BIG_MIB:-${preset[2]}}
rows=${BENCH_ROWS:-a b b-noauth c cost10 http1 h2}
contenders=${BENCH_CONTENDERS:-minimal mirrorctl skopeo${BENCH_BASELINE:+ baseline}}
knob_contenders=${BENCH_KNOB_CONTENDERS:-minimal mirrorctl}
parallel=${BENCH_PARALLEL:-8}
work=${BENCH_WORK:-$root/bench/out/work-speed}
out=$root/bench/out
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=$target_dir/release
tsv=$out/speed-$size.tsv

# What each row runs against.
row_source() {
  case $1 in
    a | b | b-noauth | cost10 | http1 | h2) echo basic ;;
    c) echo token ;;
    *) die "BENCH_ROWS: unknown row \`$1\` (a b b-noauth c cost10 http1 h2)" ;;
  esac
}
row_target() {
  case $1 in
    a | c | http1 | h2) echo basic5 ;;
    b) echo mrc ;;
    b-noauth) echo mrc-noauth ;;
    cost10) echo basic10 ;;
  esac
}
row_title() {
  case $1 in
    a) echo "(a) TLS + htpasswd cost 5 -> TLS + htpasswd cost 5" ;;
    b) echo "(b) TLS + htpasswd cost 5 -> mirrorctl registry up (RSA 4096, its default htpasswd cost 5)" ;;
    b-noauth) echo "(b) without auth: -> the same registry config, no auth section" ;;
    c) echo "(c) TLS + bearer tokens -> TLS + htpasswd cost 5" ;;
    cost10) echo "knob: as (a), target htpasswd at bcrypt cost 10" ;;
    http1) echo "knob: as (a), the clients held to HTTP/1.1" ;;
    h2) echo "knob: as (a), the clients allowed HTTP/2" ;;
  esac
}
row_contenders() {
  case $1 in
    a | b | c) echo "$contenders" ;;
    *) echo "$knob_contenders" ;;
  esac
}
for r in $rows; do row_source "$r" >/dev/null; done

# 1. Tools, binaries, disk.
bench_setup
mkdir -p "$out"
rm -rf "$work"
# The fixture's layer files and the source hold the release once each while it is pushed; then
# the source and one target at a time.
need_disk "$(dirname "$work")" $((total_mib * 22 / 10 + 1024))
mkdir -p "$work"

src_pid="" token_pid="" dst_name="" dst_kind=""
cleanup() {
  [ -n "$dst_name" ] && target_down >/dev/null 2>&1
  "$bin/mirror-fixture" down --dir "$work/src" >/dev/null 2>&1
  [ -n "$token_pid" ] && stop_pid "$token_pid"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pw=$work/password
(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pw")
auth_value=$(printf 'bench:%s' "$(cat "$pw")" | base64 -w0)
auth=$work/auth.json

# 2. The release, pushed once into a TLS source without auth; rows restart it in their mode.
src_port=$(free_port)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "pushing the fixture: $components components, ~$total_mib MiB unique, big layer $big_mib MiB"
t=$(now)
"$bin/mirror-fixture" up --dir "$work/src" --tls --access-log --port "$src_port" \
  --components "$components" --total-mib "$total_mib" --big-mib "$big_mib" >/dev/null
fixture_s=$(since "$t")
cp "$work/src/fixture.json" "$work/release.json"
. "$work/src/fixture.env"
release=$RELEASE
release_digest=$RELEASE_DIGEST
fx=$work/release.json
version=$(jq -r .fixture.version "$fx")
n_manifests=$(jq .fixture.manifests "$fx")
unique_blobs=$(jq .fixture.unique_blobs "$fx")
unique_bytes=$(jq .fixture.unique_bytes "$fx")
log "fixture ready in ${fixture_s}s: $(jq '.fixture.components | length' "$fx") components, $n_manifests manifests, $unique_blobs blobs, $(mib $((unique_bytes / 1024))) MiB"

token_up() {
  [ -n "$token_pid" ] && return
  "$bin/mirror-fixture" token-server --dir "$work/tokens" --user bench --password-file "$pw" \
    >"$work/tokens.log" 2>&1 &
  token_pid=$!
  for _ in $(seq 100); do
    [ -f "$work/tokens/token.env" ] && break
    sleep 0.1
  done
  . "$work/tokens/token.env"
}

# Restarts the source over its data, on the same port, in MODE (basic, token).
src_mode=plain
source_up() {
  local mode=$1 args=(up --dir "$work/src" --empty --tls --access-log --port "$src_port")
  [ "$mode" = "$src_mode" ] && return
  "$bin/mirror-fixture" down --dir "$work/src" >/dev/null
  case $mode in
    basic) args+=(--user bench --password-file "$pw" --bcrypt-cost 5) ;;
    token)
      token_up
      args+=(--token-realm "$REALM" --token-cert "$TOKEN_CERT")
      ;;
  esac
  "$bin/mirror-fixture" "${args[@]}" >/dev/null
  . "$work/src/fixture.env"
  src=$REGISTRY src_pid=$REGISTRY_PID src_log=$work/src/registry/registry.log src_mode=$mode
  mkdir -p "$work/src-certs"
  cp "$CA_FILE" "$work/src-certs/ca.crt"
}

# Certificates and htpasswd made by mirrorctl itself, once, copied into each (b) target.
mrc_template() {
  local t=$work/mrc-template
  [ -d "$t/auth" ] && return
  mkdir -p "$t"
  printf 'countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Bench\nunit=IT\n' \
    >"$t/certificate"
  "$bin/mirrorctl" -q tls generate --dir "$t/certs" --certificate-file "$t/certificate" \
    --hostname localhost --san 127.0.0.1 --no-host-ips --email bench@example.com >/dev/null
  "$bin/mirrorctl" -q registry user add --username bench --password-file "$pw" \
    --htpasswd "$t/auth/htpasswd" >/dev/null
}

# An empty target of KIND under $work/NAME; sets dst, dst_pid, dst_log, dst_ca.
target_up() {
  local kind=$1 name=$2 d=$work/$2 cost=5
  dst_kind=$kind dst_name=$name
  case $kind in
    basic5 | basic10)
      [ "$kind" = basic10 ] && cost=10
      "$bin/mirror-fixture" up --dir "$d" --empty --tls --access-log \
        --user bench --password-file "$pw" --bcrypt-cost "$cost" >/dev/null
      . "$d/fixture.env"
      dst=$REGISTRY dst_pid=$REGISTRY_PID dst_log=$d/registry/registry.log dst_ca=$CA_FILE
      ;;
    mrc | mrc-noauth)
      mrc_template
      mkdir -p "$d"
      cp -r "$work/mrc-template/certs" "$work/mrc-template/auth" "$d/"
      local port
      port=$(free_port)
      MIRRORCTL_SUPERVISOR=process "$bin/mirrorctl" -q registry up --root "$d" --port "$port" \
        --bind 127.0.0.1 --runtime process --supervisor process >/dev/null
      dst=127.0.0.1:$port dst_pid=$(cat "$d/registry.pid") dst_log=$d/registry.log
      dst_ca=$d/certs/ca.crt
      if [ "$kind" = mrc-noauth ]; then
        # The configuration mirrorctl wrote, without its auth section, run by hand.
        "$bin/mirrorctl" -q registry down --root "$d" >/dev/null
        awk '/^auth:/ { skip = 1; next } /^[^ #]/ { skip = 0 } !skip' "$d/config.yml" \
          >"$d/config-noauth.yml"
        docker-registry serve "$d/config-noauth.yml" >>"$d/registry.log" 2>&1 </dev/null &
        dst_pid=$!
        wait_port "$dst"
      fi
      ;;
  esac
  mkdir -p "$d-certs"
  cp "$dst_ca" "$d-certs/ca.crt"
  jq -n --arg s "$src" --arg d "$dst" --arg a "$auth_value" \
    '{auths: {($s): {auth: $a}, ($d): {auth: $a}}}' >"$auth"
  chmod 600 "$auth"
}

target_down() {
  local d=$work/$dst_name
  case $dst_kind in
    mrc) "$bin/mirrorctl" -q registry down --root "$d" >/dev/null ;;
    mrc-noauth) stop_pid "$dst_pid" ;;
    *) "$bin/mirror-fixture" down --dir "$d" >/dev/null ;;
  esac
  rm -rf "$d" "$d-certs"
  dst_name=""
}

# The images to copy, for skopeo (docker:// pairs) and bench-copy (plain pairs); release last.
write_jobs() {
  jq -r --arg src "$src" --arg to "$dst/ocp4/openshift4:$version-x86_64" '
    (.fixture.component_repo | sub("^[^/]+"; $src)) as $repo
    | (.fixture.components[] | "\($repo)@\(.digest) \($to)-\(.name)"),
      "\(.fixture.release_repo | sub("^[^/]+"; $src))@\(.fixture.release_digest) \($to)"' \
    "$fx" >"$work/jobs.txt"
  sed 's|^|docker://|; s| | docker://|' "$work/jobs.txt" >"$work/jobs-skopeo.txt"
}

# The release and the biggest component at the target must have the source's digests.
check_target() {
  local ref=$dst/ocp4/openshift4:$version-x86_64 want=$release_digest got
  local big
  big=$(jq -r '.fixture.components[] | select(.name == "machine-os-content") | .digest' "$fx")
  for pair in "$ref $want" "$ref-machine-os-content $big"; do
    set -- $pair
    got=sha256:$(skopeo inspect --raw --authfile "$auth" --cert-dir "$work/$dst_name-certs" \
      "docker://$1" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$2" ] || die "$1 has digest $got, the source has $2"
  done
}

. bench/speed-run.sh

printf 'size\trow\tcontender\twall_s\trss_kib\tclient_cpu_s\tsrc_cpu_s\tdst_cpu_s\tsrc_requests\tdst_requests\ttokens\tsrc_detail\tdst_detail\n' >"$tsv"
for row in $rows; do
  source_up "$(row_source "$row")"
  for who in $(row_contenders "$row"); do
    target_up "$(row_target "$row")" "dst-$row-$who"
    write_jobs
    measure "$row" "$who"
    [ "$who" = mirrorctl ] && measure "$row" "mirrorctl-noop"
    check_target
    target_down
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
report >"$out/speed-$size.md"
cat "$out/speed-$size.md"
