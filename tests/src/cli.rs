//! Running the real `mirrorctl` binary from integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `mirrorctl` binary that cargo built from the current tree for this test run.
///
/// The integration tests are `mirror-cli`'s own tests (its Cargo.toml points at
/// `tests/tests/`), so cargo builds `mirrorctl` before it runs them and puts it beside the
/// test executable: `<target>/<profile>/deps/<test>` -> `<target>/<profile>/mirrorctl`, the
/// path cargo passes to those tests as `CARGO_BIN_EXE_mirrorctl`.
pub fn mirrorctl_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir");
    let bin = profile_dir.join("mirrorctl");
    assert!(
        bin.is_file(),
        "`{}` is missing: run the integration tests with `cargo test -p mirror-cli` (or `--workspace`), which builds it",
        bin.display()
    );
    bin
}

/// A `Command` for `mirrorctl` with `args`, with a clean auth environment.
pub fn mirrorctl<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(mirrorctl_path());
    c.args(args);
    for v in [
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "DOCKER_CONFIG",
        "MIRROR_REGISTRY_PASSWORD",
        "MIRROR_RH_PASSWORD",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", std::env::temp_dir().join("mirrorctl-test-home"));
    c
}

/// Output as text, for assertions.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// `mirrorctl tls generate` into `certs` from the subject file `subject`, for `localhost` and
/// `127.0.0.1` only, with an ECDSA key (fast), as the host-setup tests need it; fails the test
/// when it fails, and returns its output.
pub fn generate_localhost_certs(certs: &Path, subject: &Path) -> (String, String) {
    let out = mirrorctl(["tls", "generate", "--dir"])
        .arg(certs)
        .arg("--certificate-file")
        .arg(subject)
        .args([
            "--hostname",
            "localhost",
            "--san",
            "127.0.0.1",
            "--no-host-ips",
            "--key-type",
            "ecdsa-p256",
            "--email",
            "admin@example.com",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t:?}");
    t
}

/// The commit of the workspace's git work tree, as `mirrorctl --version` reports it: `unknown`
/// without git (a source tarball).
pub fn git_head() -> String {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
