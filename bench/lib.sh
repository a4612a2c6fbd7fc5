# Shared by every benchmark script in bench/: setup, timing, a process's CPU, request counts from
# the registries' access logs, free ports and disk checks. Source it after `set -euo pipefail`.

log() { echo "== $*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# x / y with two decimals ("-" when y is 0 or not a number).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }

# From a `/usr/bin/time -v` report: peak RSS in KiB, and user + system CPU seconds.
rss_kib() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }
cpu_of_time() {
  awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"
}

# CPU time (user + system, in clock ticks) a live process has used so far; 0 when it is gone.
# Fields 14 and 15 of /proc/PID/stat, counted after the command name in parentheses.
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
    echo 0
    return
  }
  echo "${stat##*) }" | awk '{ print $12 + $13 }'
}
clk_tck=$(getconf CLK_TCK)
ticks_to_s() { awk -v t="$1" -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }'; }

# Size in bytes of a file (0 when missing): where the next access-log lines will start.
log_offset() { stat -c %s "$1" 2>/dev/null || echo 0; }

# Requests in the access log FILE after byte OFFSET, as `TOTAL|DETAIL`: distribution writes one
# combined-log line per request (`"GET /v2/... HTTP/2.0" 200 ...`) when `log.accesslog` is on.
# DETAIL counts them by method, and says how many were answered 401 and which protocols ran.
requests_since() {
  tail -c +$(($2 + 1)) "$1" 2>/dev/null | awk '
    match($0, /"(GET|HEAD|POST|PUT|PATCH|DELETE) [^ "]+ HTTP\/[0-9.]+" [0-9]+/) {
      split(substr($0, RSTART + 1, RLENGTH - 1), w, /[ "]+/)
      n++; m[w[1]]++; p[w[3]]++
      if (w[4] == 401) u++
    }
    END {
      d = ""
      split("GET HEAD POST PUT PATCH DELETE", order, " ")
      for (i = 1; i <= 6; i++) if (m[order[i]]) d = d sprintf("%s%s %d", d == "" ? "" : " ", order[i], m[order[i]])
      if (u) d = d sprintf(", %d x 401", u)
      pr = ""
      for (k in p) pr = pr sprintf("%s%s", pr == "" ? "" : "+", k)
      if (pr != "") d = d ", " pr
      printf "%d|%s\n", n, d
    }'
}

# A TCP port on 127.0.0.1 that nothing listens on, below the ephemeral range.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

# What every benchmark needs before it starts: the test packages (scripts/lib.sh), GNU time,
# jq and any other command named (by its Debian package name), and the release binaries of
# mirrorctl, mirror-fixture and bench-copy in $target_dir.
bench_setup() {
  ensure_packages
  local missing=() tool
  [ -x /usr/bin/time ] || missing+=(time)
  for tool in jq "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    need_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  log "building release binaries into $target_dir"
  cargo build -q --release -p mirror-cli -p mirror-testkit --bins
}

# Fails unless the file system holding DIR has NEED_MIB free.
need_disk() {
  local dir=$1 need=$2 avail
  mkdir -p "$dir"
  avail=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
  [ "$avail" -ge "$need" ] ||
    die "$dir has $avail MiB free; this run needs about $need MiB (set BENCH_WORK to a bigger disk, or a smaller BENCH_SIZE)"
}

# Waits until HOST:PORT accepts connections (30 s at most).
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on $1"
}

# Stops process PID (SIGTERM) and waits for it to exit (10 s at most).
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  die "pid $pid did not exit"
}
