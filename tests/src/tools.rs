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
    let package = name;
    panic!(
        "`{name}` is not installed, and this test needs it: run `apt-get install -y {package}` (Debian/Ubuntu) or `dnf install -y {}` (RHEL family), or simply `./scripts/test.sh`, which installs it",
        if name == "docker-registry" {
            "docker-distribution"
        } else {
            package
        }
    );
}
