//! Required external tools.

use std::path::PathBuf;

/// Finds `name` on PATH or panics with the command that installs it.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    if name == "moto_server" {
        panic!(
            "`moto_server` is not installed, and this test needs it: run `pip install 'moto[server]'` (in a virtualenv on Debian 12, with the venv's bin on PATH), or simply `./scripts/test.sh`, which installs it"
        );
    }
    // (Debian package, RHEL package) holding the program.
    let (deb, rpm) = match name {
        "docker-registry" => ("docker-registry", "docker-distribution"),
        "update-ca-certificates" => ("ca-certificates", "ca-certificates"),
        "keytool" => ("default-jre-headless", "java-17-openjdk-headless"),
        "gpg" | "gpgconf" => ("gnupg", "gnupg2"),
        other => (other, other),
    };
    panic!(
        "`{name}` is not installed, and this test needs it: run `apt-get install -y {deb}` (Debian/Ubuntu) or `dnf install -y {rpm}` (RHEL family), or simply `./scripts/test.sh`, which installs it"
    );
}
