//! `mirrorctl install` on a disconnected RHEL-like host: the registry image comes from a
//! carried archive (`--image-archive`, a real docker-archive written by skopeo) and firewalld
//! runs. podman and firewall-cmd are the recording stubs of `mirror_testkit::host_stubs`; the
//! stub podman's "container" is the real distribution registry serving mirrorctl's config
//! through podman's mounts, so every later step (login, mirror, extract) runs against it.

use std::path::Path;

use mirror_core::RegistryClient;
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::host_stubs::{self, lines, path_with, take_calls};
use mirror_testkit::{TestRegistry, free_port, require_tool, skopeo};

fn inputs(dir: &Path) {
    std::fs::write(
        dir.join("certificate"),
        "countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n",
    )
    .unwrap();
    std::fs::write(dir.join("password"), "s3cret-Mirror-pw\n").unwrap();
    let quay = mirror_core::auth::Credential {
        username: "rh-user".into(),
        password: "rh-token".into(),
    };
    std::fs::write(
        dir.join("pull-secret"),
        serde_json::json!({"auths": {"quay.io": {"auth": quay.to_auth_value(), "email": "me@example.com"}}}).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("trust/etc")).unwrap();
    std::fs::copy("/etc/os-release", dir.join("trust/etc/os-release")).unwrap();
}

/// Stops the stub's registry however the test ends.
struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn install_runs_the_carried_image_opens_firewalld_and_uninstall_closes_it() {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    inputs(dir);
    let (archive, id) = skopeo::docker_archive(dir);
    let bin = dir.join("bin");
    host_stubs::podman(&bin);
    host_stubs::firewall_cmd(&bin);
    std::fs::write(bin.join("running"), "").unwrap();
    let _cleanup = Cleanup(bin.clone());

    let source = TestRegistry::start();
    let rt = mirror_testkit::runtime();
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let port = free_port();
    let p = format!("{port}/tcp");
    let install = |archive: &Path| {
        let mut c = mirrorctl([
            "install",
            "--email",
            "admin@example.com",
            "--username",
            "mirror",
        ]);
        c.args(["--release", &f.release, "--image-archive"])
            .arg(archive);
        for (flag, path) in [
            ("--password-file", "password"),
            ("--pull-secret", "pull-secret"),
            ("--root", "registry"),
            ("--certificate-file", "certificate"),
            ("--output-dir", "out"),
            ("--trust-root", "trust"),
        ] {
            c.arg(flag).arg(dir.join(path));
        }
        c.args(["--hostname", "localhost", "--port", &port.to_string()])
            .args(["--insecure-registry", &source.host, "--min-free", "1MiB"])
            .env("MIRRORCTL_SUPERVISOR", "process")
            .env("PATH", path_with(&bin))
            .output()
            .unwrap()
    };

    // A file that is not an image archive stops the install before anything changes.
    let not_tar = dir.join("not.tar");
    std::fs::write(&not_tar, "<html>proxy login</html>").unwrap();
    let out = install(&not_tar);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: --image-archive: image archive `{}`: not a readable tar file",
            not_tar.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("\nhint: on a host with network access save the image with `podman save"),
        "{stderr}"
    );
    assert!(!dir.join("registry").exists() && take_calls(&bin).is_empty());

    // The install: the image is loaded and run by its ID, the port opened, everything after
    // runs against that registry.
    let out = install(&archive);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let registry_line = stderr
        .lines()
        .find(|l| l.contains("] registry "))
        .expect(&stderr);
    assert!(
        registry_line.starts_with("[        done] registry     started on every interface, port "),
        "{registry_line}"
    );
    assert!(
        registry_line.ends_with(&format!(
            "(podman container `mirror-registry` from {id}); image {id} loaded from {}; opened {p} in firewalld",
            archive.display()
        )),
        "{registry_line}"
    );
    let calls = take_calls(&bin);
    for want in [
        format!("load -i {}", archive.display()),
        format!("--add-port={p}"),
        format!("--permanent --add-port={p}"),
    ] {
        assert!(calls.contains(&want), "{want} not in {calls:#?}");
    }
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("run -d --name mirror-registry ")
                && c.ends_with(&format!(" {id}"))),
        "{calls:#?}"
    );
    assert!(!calls.iter().any(|c| c.starts_with("pull")), "{calls:#?}");
    assert_eq!(
        (lines(&bin, "runtime"), lines(&bin, "permanent")),
        (vec![p.clone()], vec![p.clone()])
    );
    assert!(dir.join("out/openshift-install").is_file(), "{stderr}");

    // A rerun: nothing loaded, started or opened.
    let out = install(&archive);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let registry_line = stderr.lines().find(|l| l.contains("] registry ")).unwrap();
    assert!(
        registry_line.starts_with("[already done] registry ")
            && registry_line.ends_with(&format!(
                "; image {id} already loaded from {}; {p} open in firewalld",
                archive.display()
            )),
        "{registry_line}"
    );
    let calls = take_calls(&bin);
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("load") || c.starts_with("run") || c.contains("--add-port")),
        "{calls:#?}"
    );

    // uninstall stops the container and closes what install opened.
    let out = mirrorctl(["uninstall", "--root"])
        .arg(dir.join("registry"))
        .arg("--output-dir")
        .arg(dir.join("out"))
        .arg("--trust-root")
        .arg(dir.join("trust"))
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
    let calls = take_calls(&bin);
    assert!(
        calls.contains(&"rm -f --ignore mirror-registry".to_string()),
        "{calls:#?}"
    );
    assert!(
        calls.contains(&format!("--permanent --remove-port={p}")),
        "{calls:#?}"
    );
    assert_eq!(
        (lines(&bin, "runtime"), lines(&bin, "permanent")),
        (vec![], vec![])
    );
}
