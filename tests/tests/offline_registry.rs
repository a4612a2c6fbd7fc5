//! The registry on a disconnected RHEL host: the registry image carried in as an archive
//! (`registry up --image-archive`, a real docker-archive written by skopeo from a fixture
//! image) and run by its ID, and the registry port in firewalld. podman and firewalld cannot
//! run here, so both are stubs on `PATH` that record every call; the tests assert the exact
//! commands. The stub podman's "container" is the real distribution registry, so the port
//! answers as podman's would.

use std::path::{Path, PathBuf};
use std::process::Command;

use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::host_stubs::{self, lines, path_with, take_calls};
use mirror_testkit::moto::{BUCKET, Moto};
use mirror_testkit::{free_port, require_tool, skopeo};

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

/// Stops what a failed test left: the stub's registry process.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn registry_up_loads_a_carried_image_archive_and_runs_it_by_id() {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let (archive, id) = skopeo::docker_archive(tmp.path());
    let bin = tmp.path().join("bin");
    host_stubs::podman(&bin);
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
listening on every interface, port {port}; config {}\n\
storage: filesystem\n",
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
    // The "container" serves mirrorctl's config through podman's mounts: TLS with our CA and
    // the htpasswd user.
    let out = mirrorctl([
        "registry",
        "status",
        "--username",
        "admin",
        "--password-file",
    ])
    .arg(root.join("pw"))
    .arg("--registry")
    .arg(format!("localhost:{port}"))
    .arg("--root")
    .arg(&root)
    .env("PATH", path_with(&bin))
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.matches("\nok  ").count(), 5, "{stdout}");
    take_calls(&bin);

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
    host_stubs::podman(&bin);
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
    host_stubs::firewall_cmd(&bin);
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

/// S3 storage and a carried image together: the bucket is checked, the image loaded and run
/// by its ID with the S3 configuration for the version its saved name tells (2.x: no
/// `forcepathstyle`), the replicas' http secret made, the port opened; the registry stores in
/// the bucket; `status` checks the bucket; `down --purge` stops it and closes the port.
#[test]
fn a_carried_image_runs_on_s3_storage_behind_the_opened_port() {
    require_tool("docker-registry");
    let m = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let (archive, id) = skopeo::docker_archive(tmp.path());
    let bin = tmp.path().join("bin");
    host_stubs::podman(&bin);
    host_stubs::firewall_cmd(&bin);
    std::fs::write(bin.join("running"), "").unwrap();
    let _cleanup = Cleanup(bin.clone());
    let root = tmp.path().join("registry");
    registry_root(&root);
    let creds = m.credentials_file(tmp.path());
    let port = free_port();
    let p = format!("{port}/tcp");
    let out = mirrorctl(["registry", "up", "--image-archive"])
        .arg(&archive)
        .args(["--port", &port.to_string(), "--storage", "s3"])
        .args(["--s3-endpoint", &m.endpoint, "--s3-bucket", BUCKET])
        .arg("--s3-credentials-file")
        .arg(&creds)
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    let _down = scopeguard(&root, &bin);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "started: podman container `mirror-registry` from {id}\n\
image: docker.io/library/registry:2 = {id} (loaded from {})\n\
listening on every interface, port {port}; config {}\n\
storage: s3 bucket `{BUCKET}` at {} (region us-east-1, root /, blob downloads redirected to the store) (config for registry 2.0, from the tag of `docker.io/library/registry:2`)\n\
http secret: {} (created; give every replica this file)\n\
firewall: opened {p} in firewalld (zone public), now and permanently\n",
            archive.display(),
            root.join("config.yml").display(),
            m.endpoint,
            root.join("auth/http-secret").display()
        )
    );
    // podman's calls are those of a filesystem registry (the test above); then firewalld's.
    let calls = take_calls(&bin);
    assert!(calls[5].ends_with(&format!(" {id}")), "{calls:?}");
    assert_eq!(
        calls[6..],
        [
            "--state".to_string(),
            "--get-default-zone".to_string(),
            format!("--query-port={p}"),
            format!("--permanent --query-port={p}"),
            format!("--add-port={p}"),
            format!("--permanent --add-port={p}"),
        ]
    );
    let config = std::fs::read_to_string(root.join("config.yml")).unwrap();
    assert!(
        config.contains(&format!("regionendpoint: \"{}\"", m.endpoint))
            && !config.contains("forcepathstyle"),
        "{config}"
    );

    // What is pushed lands in the bucket, through the "container" podman runs.
    let out = Command::new(require_tool("skopeo"))
        .args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "admin:s3cret-pass",
        ])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://localhost:{port}/carried/registry:2"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let keys = m.keys(BUCKET);
    assert!(
        keys.iter()
            .any(|k| k.contains("docker/registry/v2/repositories/carried/registry/")),
        "{keys:?}"
    );
    let out = mirrorctl([
        "registry",
        "status",
        "--username",
        "admin",
        "--password-file",
    ])
    .arg(root.join("pw"))
    .arg("--registry")
    .arg(format!("localhost:{port}"))
    .arg("--root")
    .arg(&root)
    .env("PATH", path_with(&bin))
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("\nok    storage  s3 bucket `{BUCKET}`")),
        "{stdout}"
    );
    take_calls(&bin);

    let out = mirrorctl(["registry", "down", "--purge", "--root"])
        .arg(&root)
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(
        text(&out).0,
        format!(
            "stopped: podman container `mirror-registry` from {id}\nfirewall: closed {p} in firewalld (zone public)\n"
        )
    );
    assert_eq!(
        (lines(&bin, "runtime"), lines(&bin, "permanent")),
        (vec![], vec![])
    );
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
