//! Stand-ins for host programs that cannot run here (podman needs cgroups and a network to
//! pull; firewalld needs D-Bus and root), put first on `PATH`. Each records every call in
//! `<dir>/calls`, so tests assert the exact commands mirrorctl runs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn write_exe(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("stub dir");
    std::fs::write(path, text).expect("write stub");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod stub");
}

/// `PATH` with `dir` first.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("PATH")
}

/// The calls the stubs in `dir` recorded since the last `take_calls`, one per line.
pub fn take_calls(dir: &Path) -> Vec<String> {
    let f = dir.join("calls");
    let calls = std::fs::read_to_string(&f).unwrap_or_default();
    let _ = std::fs::remove_file(&f);
    calls.lines().map(str::to_string).collect()
}

/// The lines of `dir/file` (empty when it does not exist).
pub fn lines(dir: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A `podman` 4.9.3 in `dir` that holds one image and runs one container:
/// - `load -i FILE` stores the image as podman does, its ID the digest of the archive's config
///   (read with skopeo, so a docker-archive is needed); `image exists ID` answers for it;
/// - `run -d ... -p [ADDR:]PORT:5000 -v HOST:CTR[:opts]... IMAGE` (IMAGE must be the loaded
///   ID) runs the real distribution registry as the "container": the config mounted at
///   `/etc/docker/registry/config.yml`, with every mounted container path replaced by its
///   host path and `:5000` by the published port, as podman's mounts and port mapping would
///   make it, so TLS, htpasswd and storage are the ones mirrorctl set up; the process is named
///   `conmon`, which holds a rootful container's published port;
/// - `container exists|inspect` and `rm -f` follow that process (pid in `dir/pid`).
pub fn podman(dir: &Path) {
    let script = r##"#!/bin/sh
d="$(dirname "$0")"
echo "$*" >> "$d/calls"
alive() { test -f "$d/pid" && kill -0 "$(cat "$d/pid")" 2>/dev/null; }
case "$1" in
  version) echo 4.9.3 ;;
  image) test "$2" = exists && test -f "$d/image-id" && test "$(cat "$d/image-id")" = "$3" ;;
  load)
    test "$2" = -i || exit 125
    id=$(skopeo inspect --config --raw "docker-archive:$3" | sha256sum | cut -d' ' -f1)
    test -n "$id" || { echo "Error: payload does not match any of the supported image formats" >&2; exit 125; }
    echo "sha256:$id" > "$d/image-id"; echo "Loaded image: sha256:$id" ;;
  run)
    prev=; addr=; cfg=; : > "$d/mounts.sed"
    for a in "$@"; do
      case "$prev" in
        -p) p=${a%:5000}; case "$p" in *:*) addr=$p ;; *) addr=":$p" ;; esac ;;
        -v) host=${a%%:*}; rest=${a#*:}; ctr=${rest%%:*}
            if test "$ctr" = /etc/docker/registry/config.yml; then cfg=$host
            else echo "s#\"$ctr#\"$host#g" >> "$d/mounts.sed"; fi ;;
      esac
      prev=$a; last=$a
    done
    if ! test -f "$d/image-id" || test "$(cat "$d/image-id")" != "$last"; then echo "Error: $last: image not known" >&2; exit 125; fi
    echo "s#\":5000\"#\"$addr\"#" >> "$d/mounts.sed"
    sed -f "$d/mounts.sed" "$cfg" > "$d/registry.yml"
    # Named conmon, the process that holds a rootful container's published port.
    ln -sf "$(command -v docker-registry)" "$d/conmon"
    env -u AWS_CA_BUNDLE "$d/conmon" serve "$d/registry.yml" >"$d/registry.log" 2>&1 &
    echo $! > "$d/pid"; echo 0123456789ab ;;
  container)
    case "$2" in
      exists) test -f "$d/pid" ;;
      inspect) if alive; then echo true; elif test -f "$d/pid"; then echo false; else echo "Error: no such container" >&2; exit 125; fi ;;
    esac ;;
  rm) if test -f "$d/pid"; then kill "$(cat "$d/pid")" 2>/dev/null; rm -f "$d/pid"; fi ;;
  *) echo "stub podman: unexpected $*" >&2; exit 125 ;;
esac
"##;
    write_exe(&dir.join("podman"), script);
}

/// A `firewall-cmd` in `dir`, default zone `public`: firewalld "runs" while `dir/running`
/// exists (else exit 252, as firewall-cmd does); open ports are the lines of `dir/runtime`
/// and `dir/permanent`; with `dir/deny`, changes fail as they do for a user polkit refuses.
pub fn firewall_cmd(dir: &Path) {
    let script = r##"#!/bin/sh
d="$(dirname "$0")"
echo "$*" >> "$d/calls"
test -f "$d/running" || { echo "not running"; exit 252; }
f="$d/runtime"; if test "$1" = --permanent; then f="$d/permanent"; shift; fi
touch "$d/runtime" "$d/permanent"
case "$1" in
  --state) echo running ;;
  --get-default-zone) echo public ;;
  --query-port=*) if grep -qx "${1#--query-port=}" "$f"; then echo yes; else echo no; exit 1; fi ;;
  --add-port=*|--remove-port=*)
    if test -f "$d/deny"; then echo "Authorization failed." >&2; exit 11; fi
    p=${1#*=}; grep -vx "$p" "$f" > "$f.new"; mv "$f.new" "$f"
    case "$1" in --add-port=*) echo "$p" >> "$f" ;; esac
    echo success ;;
  *) echo "stub firewall-cmd: unexpected $*" >&2; exit 2 ;;
esac
"##;
    write_exe(&dir.join("firewall-cmd"), script);
}
