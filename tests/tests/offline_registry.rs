//! The registry on a disconnected RHEL host: the registry image carried in as an archive
//! (`registry up --image-archive`, a real docker-archive written by skopeo from a fixture
//! image) and run by its ID, and the registry port in firewalld. podman and firewalld cannot
//! run here, so both are stubs on `PATH` that record every call; the tests assert the exact
//! commands. The stub podman's "container" is the real distribution registry, so the port
//! answers as podman's would.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use mirror_core::{Digest, RegistryClient};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::{TestRegistry, free_port, require_tool};

fn write_exe(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `PATH` with `dir` first.
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

/// The calls a stub recorded since the last `take`.
fn take_calls(dir: &Path) -> Vec<String> {
    let f = dir.join("calls");
    let calls = std::fs::read_to_string(&f).unwrap_or_default();
    let _ = std::fs::remove_file(&f);
    calls.lines().map(str::to_string).collect()
}

/// A registry root with certificates for localhost and an htpasswd user.
fn registry_root(root: &Path) {
    let subject = root.join("certificate");
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(
        &subject,
        "countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n",
    )
    .unwrap();
    let out = mirrorctl(["tls", "generate", "--dir"])
        .arg(root.join("certs"))
        .arg("--certificate-file")
        .arg(&subject)
        .args([
            "--hostname",
            "localhost",
            "--san",
            "127.0.0.1",
            "--no-host-ips",
        ])
        .args(["--key-type", "ecdsa-p256"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let pw = root.join("pw");
    std::fs::write(&pw, "s3cret-pass\n").unwrap();
    let out = mirrorctl(["registry", "user", "add", "--username", "admin"])
        .arg("--password-file")
        .arg(&pw)
        .arg("--htpasswd")
        .arg(root.join("auth/htpasswd"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
}

/// A stub `podman` 4.9.3 in `dir`. `load -i F` stores the image as podman does: its ID is the
/// digest of the archive's config (read with skopeo); `image exists` answers for that ID;
/// `run -d ... -p [ADDR:]PORT:5000 ... IMAGE` (IMAGE must be loaded) starts the real
/// distribution registry on PORT as the "container"; `container exists|inspect` and `rm`
/// follow it. Every call is appended to `dir/calls`.
fn stub_podman(dir: &Path) {
    let script = r#"#!/bin/sh
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
    prev=; port=; for a in "$@"; do test "$prev" = -p && { p=${a%:5000}; port=${p##*:}; }; prev=$a; last=$a; done
    if ! test -f "$d/image-id" || test "$(cat "$d/image-id")" != "$last"; then echo "Error: $last: image not known" >&2; exit 125; fi
    printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$d/data" "$port" > "$d/registry.yml"
    env -u AWS_CA_BUNDLE docker-registry serve "$d/registry.yml" >"$d/registry.log" 2>&1 &
    echo $! > "$d/pid"; echo 0123456789ab ;;
  container)
    case "$2" in
      exists) test -f "$d/pid" ;;
      inspect) if alive; then echo true; elif test -f "$d/pid"; then echo false; else echo "Error: no such container" >&2; exit 125; fi ;;
    esac ;;
  rm) if test -f "$d/pid"; then kill "$(cat "$d/pid")" 2>/dev/null; rm -f "$d/pid"; fi ;;
  *) echo "stub podman: unexpected $*" >&2; exit 125 ;;
esac
"#;
    write_exe(&dir.join("podman"), script);
}

/// A stub `firewall-cmd` in `dir`, default zone `public`: it "runs" while `dir/running`
/// exists; open ports are lines of `dir/runtime` and `dir/permanent`; with `dir/deny`,
/// changes fail as they do for a user polkit refuses. Every call goes to `dir/calls`.
fn stub_firewall_cmd(dir: &Path) {
    let script = r#"#!/bin/sh
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
"#;
    write_exe(&dir.join("firewall-cmd"), script);
}

fn lines(dir: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Stops what a failed test left: the stub's registry process.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// A docker-archive of a fixture image, written by skopeo as on the connected side, and the
/// image's config digest read from the registry it came from.
fn docker_archive(dir: &Path) -> (PathBuf, Digest) {
    let skopeo = require_tool("skopeo");
    let source = TestRegistry::start();
    let rt = mirror_testkit::runtime();
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let c = f
        .components
        .iter()
        .find(|c| c.children.is_empty())
        .expect("a single-image component");
    let image = format!("{}@{}", f.component_repo, c.digest);
    let raw = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(raw.status.success(), "{:?}", text(&raw));
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let config = Digest::parse(manifest["config"]["digest"].as_str().unwrap()).unwrap();
    let archive = dir.join("registry.tar");
    let out = Command::new(&skopeo)
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{image}"))
        .arg(format!(
            "docker-archive:{}:docker.io/library/registry:2",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    (archive, config)
}

#[test]
fn registry_up_loads_a_carried_image_archive_and_runs_it_by_id() {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let (archive, id) = docker_archive(tmp.path());
    let bin = tmp.path().join("bin");
    stub_podman(&bin);
    let _cleanup = Cleanup(bin.clone());
    let root = tmp.path().join("registry");
    registry_root(&root);
    let port = free_port();
    let up = || {
        mirrorctl(["registry", "up", "--image-archive"])
            .arg(&archive)
            .arg("--port")
            .arg(port.to_string())
            .arg("--root")
            .arg(&root)
            .env("MIRRORCTL_SUPERVISOR", "process")
            .env("PATH", path_with(&bin))
            .output()
            .unwrap()
    };

    // The archive names the image; podman lacks it: loaded, then run by its ID.
    let out = up();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "started: podman container `mirror-registry` from {id}\n\
image: docker.io/library/registry:2 = {id} (loaded from {})\n\
listening on every interface, port {port}; config {}\n",
            archive.display(),
            root.join("config.yml").display()
        )
    );
    let v = root.display();
    assert_eq!(
        take_calls(&bin),
        [
            "version --format {{.Client.Version}}".to_string(),
            format!("image exists {id}"),
            format!("load -i {}", archive.display()),
            format!("image exists {id}"),
            "rm -f --ignore mirror-registry".to_string(),
            format!(
                "run -d --name mirror-registry --restart=always -p {port}:5000 \
-v {v}/data:/var/lib/registry:z -v {v}/auth:/auth:z -v {v}/certs:/certs:z \
-v {v}/config.yml:/etc/docker/registry/config.yml:ro,z {id}"
            ),
        ]
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("registry-state.json")).unwrap()).unwrap();
    assert_eq!(state["run"]["image"], id.as_str(), "{state}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    // A rerun: the image is there, nothing is loaded, nothing restarted.
    let out = up();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "already running (already right): podman container `mirror-registry` from {id}\n\
image: docker.io/library/registry:2 = {id} (already in podman's storage, as in {})\n",
            archive.display()
        )),
        "{stdout}"
    );
    let calls = take_calls(&bin);
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("load") || c.starts_with("run")),
        "{calls:?}"
    );

    let out = mirrorctl(["registry", "down", "--root"])
        .arg(&root)
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert_eq!(
        text(&out).0,
        format!("stopped: podman container `mirror-registry` from {id}\n")
    );
    assert!(take_calls(&bin).contains(&"rm -f --ignore mirror-registry".to_string()));
}

#[test]
fn a_bad_image_archive_is_refused_before_anything_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    stub_podman(&bin);
    let root = tmp.path().join("registry");
    registry_root(&root);
    let not_tar = tmp.path().join("registry.tar");
    std::fs::write(&not_tar, "<html>proxy login</html>").unwrap();
    let up = |extra: &[&str], archive: &Path| {
        mirrorctl(["registry", "up", "--port", "5999", "--root"])
            .arg(&root)
            .arg("--image-archive")
            .arg(archive)
            .args(extra)
            .env("MIRRORCTL_SUPERVISOR", "process")
            .env("PATH", path_with(&bin))
            .output()
            .unwrap()
    };
    for (archive, extra, code, error) in [
        (
            not_tar.clone(),
            vec![],
            1,
            format!(
                "error: image archive `{}`: not a readable tar file: ",
                not_tar.display()
            ),
        ),
        (
            tmp.path().join("missing.tar"),
            vec![],
            1,
            format!(
                "error: image archive `{}`: cannot open it: No such file or directory",
                tmp.path().join("missing.tar").display()
            ),
        ),
        (
            not_tar.clone(),
            vec!["--runtime", "process"],
            2,
            "error: invalid setting `image-archive`: an image archive is run by podman; the process runtime runs a distribution binary of this host".to_string(),
        ),
    ] {
        let out = up(&extra, &archive);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert_eq!(stdout, "");
        assert!(stderr.starts_with(&error), "{stderr}");
        if code == 1 {
            assert!(
                stderr.contains("\nhint: on a host with network access save the image with `podman save -o registry.tar docker.io/library/registry:2`"),
                "{stderr}"
            );
        }
    }
    assert!(take_calls(&bin).is_empty());
    assert!(!root.join("data").exists() && !root.join("config.yml").exists());
}

#[test]
fn registry_up_opens_the_port_in_firewalld_and_down_purge_closes_only_what_it_opened() {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    stub_firewall_cmd(&bin);
    std::fs::write(bin.join("running"), "").unwrap();
    let root = tmp.path().join("registry");
    registry_root(&root);
    let port = free_port();
    let p = format!("{port}/tcp");
    let run = |args: &[&str]| {
        mirrorctl(args)
            .arg("--root")
            .arg(&root)
            .env("MIRRORCTL_SUPERVISOR", "process")
            .env("PATH", path_with(&bin))
            .output()
            .unwrap()
    };
    let port_s = port.to_string();
    let up = || run(&["registry", "up", "--runtime", "process", "--port", &port_s]);
    let queries = || {
        vec![
            "--state".to_string(),
            "--get-default-zone".to_string(),
            format!("--query-port={p}"),
            format!("--permanent --query-port={p}"),
        ]
    };

    let out = up();
    let _down = scopeguard(&root, &bin);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.ends_with(&format!(
            "firewall: opened {p} in firewalld (zone public), now and permanently\n"
        )),
        "{stdout}"
    );
    let mut want = queries();
    want.extend([
        format!("--add-port={p}"),
        format!("--permanent --add-port={p}"),
    ]);
    assert_eq!(take_calls(&bin), want);
    assert_eq!(
        (lines(&bin, "runtime"), lines(&bin, "permanent")),
        (vec![p.clone()], vec![p.clone()])
    );

    // A rerun finds it open; when only the runtime rule went (`firewall-cmd --remove-port`
    // without `--permanent`), only that is added back.
    let out = up();
    assert!(
        text(&out)
            .0
            .ends_with(&format!("firewall: {p} was open already (zone public)\n")),
        "{:?}",
        text(&out)
    );
    assert_eq!(take_calls(&bin), queries());
    std::fs::write(bin.join("runtime"), "").unwrap();
    let out = up();
    assert!(
        text(&out).0.ends_with("now and permanently\n"),
        "{:?}",
        text(&out)
    );
    let mut want = queries();
    want.push(format!("--add-port={p}"));
    assert_eq!(take_calls(&bin), want);

    // preflight sees it open.
    let out = run(&[
        "preflight",
        "--offline",
        "--output",
        "json",
        "--port",
        &port_s,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "firewall")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "pass", "{check}");
    assert_eq!(
        check["detail"],
        format!("port {p} is open in firewalld (zone public)")
    );
    take_calls(&bin);

    // down keeps the rule; down --purge closes what up opened.
    let out = run(&["registry", "down"]);
    assert!(text(&out).0.starts_with("stopped: "), "{:?}", text(&out));
    assert!(take_calls(&bin).is_empty());
    let out = run(&["registry", "down", "--purge"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!("not running (already right)\nfirewall: closed {p} in firewalld (zone public)\n")
    );
    let mut want = queries();
    want.extend([
        format!("--remove-port={p}"),
        format!("--permanent --remove-port={p}"),
    ]);
    assert_eq!(take_calls(&bin), want);
    assert_eq!(
        (lines(&bin, "runtime"), lines(&bin, "permanent")),
        (vec![], vec![])
    );
    assert!(!root.join("firewall.json").exists());

    // A port the administrator opened is theirs: up finds it open, purge leaves it.
    std::fs::write(bin.join("runtime"), format!("{p}\n")).unwrap();
    std::fs::write(bin.join("permanent"), format!("{p}\n")).unwrap();
    let out = up();
    assert!(
        text(&out)
            .0
            .ends_with(&format!("firewall: {p} was open already (zone public)\n")),
        "{:?}",
        text(&out)
    );
    let out = run(&["registry", "down", "--purge"]);
    assert_eq!(text(&out).0.lines().count(), 1, "{:?}", text(&out));
    assert_eq!(lines(&bin, "permanent"), vec![p.clone()]);
    take_calls(&bin);

    // Not allowed to change firewalld (not root): the registry runs, exit 1, the command to run.
    std::fs::write(bin.join("runtime"), "").unwrap();
    std::fs::write(bin.join("permanent"), "").unwrap();
    std::fs::write(bin.join("deny"), "").unwrap();
    let out = up();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("started: "), "{stdout}");
    assert!(
        stderr.starts_with(&format!("error: port {p} in firewalld: `{}", bin.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("/firewall-cmd --add-port={p}` failed: exit status: 11: Authorization failed.\nhint: rerun this as root, or open it yourself: `firewall-cmd --add-port={p} && firewall-cmd --permanent --add-port={p}`")),
        "{stderr}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    // On loopback only, or with --no-firewall, firewalld is not touched.
    take_calls(&bin);
    std::fs::remove_file(bin.join("deny")).unwrap();
    let out = run(&[
        "registry",
        "up",
        "--runtime",
        "process",
        "--port",
        &port_s,
        "--bind",
        "127.0.0.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = run(&[
        "registry",
        "up",
        "--runtime",
        "process",
        "--port",
        &port_s,
        "--no-firewall",
    ]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(take_calls(&bin).is_empty());

    // uninstall closes what up opened, before it removes the root (and the record in it).
    let out = run(&["registry", "up", "--runtime", "process", "--port", &port_s]);
    assert!(
        text(&out).0.ends_with("now and permanently\n"),
        "{:?}",
        text(&out)
    );
    take_calls(&bin);
    let out = mirrorctl(["uninstall", "--root"])
        .arg(&root)
        .arg("--output-dir")
        .arg(tmp.path().join("out"))
        .arg("--trust-root")
        .arg(tmp.path().join("trust"))
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "[        done] registry     stopped; closed {p} in firewalld\n"
        )),
        "{stderr}"
    );
    let mut want = queries();
    want.extend([
        format!("--remove-port={p}"),
        format!("--permanent --remove-port={p}"),
    ]);
    assert_eq!(take_calls(&bin), want);
    assert_eq!(
        (lines(&bin, "runtime"), lines(&bin, "permanent")),
        (vec![], vec![])
    );

    // firewalld stopped: nothing to do, and preflight says so.
    std::fs::remove_file(bin.join("running")).unwrap();
    let out = run(&[
        "preflight",
        "--offline",
        "--output",
        "json",
        "--port",
        &port_s,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "firewall")
        .unwrap()
        .clone();
    assert_eq!(check["detail"], "firewalld does not run", "{check}");
}

/// `registry down` when the test ends, however it ends.
fn scopeguard(root: &Path, bin: &Path) -> impl Drop {
    struct Down(PathBuf, PathBuf);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = mirrorctl(["registry", "down", "--root"])
                .arg(&self.0)
                .env("PATH", path_with(&self.1))
                .output();
        }
    }
    Down(root.to_path_buf(), bin.to_path_buf())
}
