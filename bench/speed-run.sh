# Part of bench/speed.sh (sourced): runs one contender under measurement, and writes the report.
# Uses speed.sh's variables: bin, work, auth, src, src_pid, src_log, dst, dst_pid, dst_log,
# dst_ca, dst_name, release, parallel, tsv, size.

# Runs contender WHO of row ROW against the current source and target and appends a line to
# the TSV: wall, peak RSS, client CPU, the registries' CPU, and their requests.
measure() {
  local row=$1 who=$2 name=$1-$2 cmd input=/dev/null h1=()
  case $who in
    minimal)
      [ "$row" = http1 ] && h1=(--http1)
      cmd=("$bin/bench-copy" --jobs "$work/jobs.txt" -a "$auth" --ca-file "$work/src-certs/ca.crt"
        --ca-file "$dst_ca" --max "$parallel" "${h1[@]}")
      ;;
    mirrorctl | mirrorctl-noop | baseline)
      [ "$row" = http1 ] && h1=(--http-version 1.1)
      [ "$row" = h2 ] && h1=(--http-version auto)
      local exe=$bin/mirrorctl
      [ "$who" = baseline ] && exe=${BENCH_BASELINE:?BENCH_BASELINE: the older mirrorctl binary}
      cmd=("$exe" -q release mirror --from "$release" --to "$dst/ocp4/openshift4"
        -a "$auth" --ca-file "$work/src-certs/ca.crt" --ca-file "$dst_ca" --output json "${h1[@]}")
      ;;
    skopeo)
      # One process per image, $parallel at a time; GNU time's peak RSS is then the largest
      # single process and its CPU the sum over all of them.
      cmd=(xargs -P "$parallel" -L 1 skopeo copy -q --all --preserve-digests --insecure-policy
        --authfile "$auth" --src-cert-dir "$work/src-certs" --dest-cert-dir "$work/$dst_name-certs")
      input=$work/jobs-skopeo.txt
      ;;
    *) die "BENCH_CONTENDERS: unknown contender \`$who\` (minimal mirrorctl skopeo baseline)" ;;
  esac
  local s0 d0 k0 soff doff tok0 t wall
  s0=$(cpu_ticks "$src_pid") d0=$(cpu_ticks "$dst_pid") k0=$(cpu_ticks "${token_pid:-0}")
  soff=$(log_offset "$src_log") doff=$(log_offset "$dst_log")
  tok0=$(cat "$work/tokens/token-requests" 2>/dev/null || echo 0)
  log "$(row_title "$row"): $who -> $dst"
  sync
  t=$(now)
  /usr/bin/time -v -o "$work/$name.time" "${cmd[@]}" <"$input" >"$work/$name.out" ||
    die "$who failed in row $row (see above; time report: $(head -1 "$work/$name.time"))"
  wall=$(since "$t")
  # The access log line of a request is written when its response is done, the token count
  # every 50 ms.
  sleep 0.5
  local s1 d1 k1 sreq dreq tok1
  s1=$(cpu_ticks "$src_pid") d1=$(cpu_ticks "$dst_pid") k1=$(cpu_ticks "${token_pid:-0}")
  sreq=$(requests_since "$src_log" "$soff") dreq=$(requests_since "$dst_log" "$doff")
  tok1=$(cat "$work/tokens/token-requests" 2>/dev/null || echo 0)
  local rss cpu scpu dcpu
  rss=$(rss_kib "$work/$name.time")
  cpu=$(cpu_of_time "$work/$name.time")
  # The token issuer's CPU counts with the source's: it serves the source's clients.
  scpu=$(ticks_to_s $((s1 - s0 + k1 - k0)))
  dcpu=$(ticks_to_s $((d1 - d0)))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$row" "$who" "$wall" \
    "$rss" "$cpu" "$scpu" "$dcpu" "${sreq%%|*}" "${dreq%%|*}" $((tok1 - tok0)) \
    "${sreq#*|}" "${dreq#*|}" >>"$tsv"
  log "$who: ${wall}s, peak RSS $(mib "$rss") MiB, client CPU ${cpu}s, source CPU ${scpu}s, target CPU ${dcpu}s, requests ${sreq%%|*} + ${dreq%%|*}"
}

# A column of the TSV for ROW and WHO (empty when not measured).
val() {
  awk -F'\t' -v r="$1" -v w="$2" -v c="$3" \
    'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
     $2 == r && $3 == w { print $col[c] }' "$tsv"
}
# "A / B = Rx" for two walls, or nothing when one is missing.
cmp() {
  local a b
  a=$(val "$1" "$2" wall_s) b=$(val "$3" "$4" wall_s)
  [ -n "$a" ] && [ -n "$b" ] && echo "| $5 | $a s / $b s | $(ratio "$a" "$b")x | $6 |"
  return 0
}

report() {
  local images=$(($(jq '.fixture.components | length' "$fx") + 1)) ncpu
  ncpu=$(nproc)
  echo "# mirror speed with TLS and authentication ($size)"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $ncpu CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)."
  echo "Load average (1/5/15 min): $load_start at the start, $load_end at the end."
  echo "mirrorctl and bench-copy built from commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . 2>/dev/null || echo " with local changes"); $(skopeo --version); $(docker-registry --version 2>&1 | head -1)."
  echo
  echo "Fixture: $((images - 1)) components + the release image, $n_manifests manifests," \
    "$unique_blobs unique blobs, $(mib $((unique_bytes / 1024))) MiB unique, biggest layer" \
    "~$big_mib MiB (pushed in ${fixture_s}s). Concurrency: $parallel (skopeo processes," \
    "bench-copy transfers, mirrorctl's default --max-per-registry)."
  echo
  echo "CPU columns are seconds of user + system time. *bound* = (source + target CPU) / $ncpu" \
    "CPUs: the wall no client could beat on this machine, since the registries must spend that" \
    "CPU anyway. Requests are access-log lines; for row (c) the source CPU includes the token" \
    "issuer's and *tokens* counts the tokens it issued."
  local row who
  for row in $rows; do
    echo
    echo "### $(row_title "$row")"
    echo
    echo "| contender | wall (s) | vs minimal | peak RSS (MiB) | client CPU | source CPU | target CPU | bound (s) | source requests | target requests | tokens |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    local minimal
    minimal=$(val "$row" minimal wall_s)
    awk -F'\t' -v r="$row" -v m="$minimal" -v n="$ncpu" 'NR > 1 && $2 == r {
      vs = (m != "" && m > 0 && $3 != "mirrorctl-noop") ? sprintf("%.2fx", $4 / m) : "-"
      printf "| %s | %s | %s | %.1f | %s | %s | %s | %.2f | %s | %s | %s |\n",
        $3, $4, vs, $5 / 1024, $6, $7, $8, ($7 + $8) / n, $9, $10, $11 }' "$tsv"
    echo
    awk -F'\t' -v r="$row" 'NR > 1 && $2 == r {
      printf "- %s: source %s; target %s\n", $3, ($12 == "" ? "none" : $12), ($13 == "" ? "none" : $13) }' "$tsv"
  done
  echo
  echo "### Against the targets of issue 17"
  echo
  echo "| comparison | walls | ratio | target |"
  echo "|---|---|---|---|"
  cmp a mirrorctl a skopeo "(a) mirrorctl / skopeo x$parallel" "<= 0.5x"
  cmp a mirrorctl a minimal "(a) mirrorctl / minimal" "<= 0.9x"
  cmp b mirrorctl b-noauth mirrorctl "(b) mirrorctl, auth / no auth" "<= 1.15x"
  cmp b minimal b-noauth minimal "(b) minimal, auth / no auth" ""
  cmp b mirrorctl b skopeo "(b) mirrorctl / skopeo x$parallel" ""
  cmp b mirrorctl b minimal "(b) mirrorctl / minimal" ""
  cmp c mirrorctl c skopeo "(c) mirrorctl / skopeo x$parallel" ""
  cmp c mirrorctl c minimal "(c) mirrorctl / minimal" ""
  cmp a mirrorctl a baseline "(a) mirrorctl / baseline (BENCH_BASELINE)" "<= 1.0x"
  cmp b mirrorctl b baseline "(b) mirrorctl / baseline" "<= 1.0x"
  cmp c mirrorctl c baseline "(c) mirrorctl / baseline" "<= 1.0x"
  cmp cost10 mirrorctl a mirrorctl "knob: mirrorctl, target bcrypt cost 10 / cost 5" ""
  cmp cost10 minimal a minimal "knob: minimal, target bcrypt cost 10 / cost 5" ""
  cmp http1 mirrorctl http1 minimal "(a) mirrorctl / minimal, both held to HTTP/1.1" ""
  cmp h2 mirrorctl h2 minimal "(a) mirrorctl / minimal, both allowed HTTP/2" ""
  cmp http1 mirrorctl h2 mirrorctl "knob: mirrorctl, HTTP/1.1 / HTTP/2" ""
  cmp http1 minimal h2 minimal "knob: minimal, HTTP/1.1 / HTTP/2" ""
  echo
  echo "Registry CPU per request in ms (the run's CPU over its requests). The no-op reruns move no"
  echo "data, so their lines are the cost of a request itself: TLS, auth (bcrypt on every request),"
  echo "logging."
  echo
  echo "| row | contender | source | target |"
  echo "|---|---|---|---|"
  awk -F'\t' 'NR > 1 && $9 > 0 && $10 > 0 {
    printf "| %s | %s | %.1f | %.1f |\n", $2, $3, 1000 * $7 / $9, 1000 * $8 / $10 }' "$tsv"
  echo
  echo "mirrorctl per row: peak RSS (target <= 64 MiB), no-op rerun (target < 1 s), requests per image (constant as the release grows):"
  echo
  echo "| row | peak RSS (MiB) | no-op rerun (s) | no-op requests (source + target) | requests per image (source + target) |"
  echo "|---|---|---|---|---|"
  for row in $rows; do
    local w s d
    w=$(val "$row" mirrorctl wall_s)
    [ -n "$w" ] || continue
    s=$(val "$row" mirrorctl src_requests) d=$(val "$row" mirrorctl dst_requests)
    echo "| $row | $(mib "$(val "$row" mirrorctl rss_kib)") | $(val "$row" mirrorctl-noop wall_s) |" \
      "$(val "$row" mirrorctl-noop src_requests) + $(val "$row" mirrorctl-noop dst_requests) |" \
      "$(awk -v s="$s" -v d="$d" -v i="$images" 'BEGIN { printf "%.1f + %.1f", s / i, d / i }') |"
  done
}
