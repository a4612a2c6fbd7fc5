//! Running host commands: systemctl and podman.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::which;
use crate::error::Error;

/// Whether systemd runs this host (`/run/systemd/system` exists) and `systemctl` talks to it.
pub(crate) fn systemd_usable() -> bool {
    Path::new("/run/systemd/system").is_dir()
        && which("systemctl").is_some()
        && Command::new("systemctl")
            .args(["show", "--property=Version"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Runs `program args...`; a failure to start or a non-zero exit is a
/// [`Error::CommandFailed`] with the last lines of its stderr.
pub(crate) fn run(program: &Path, args: &[&str]) -> Result<String, Error> {
    let command = std::iter::once(program.display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error::CommandFailed {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(Error::CommandFailed {
            command,
            detail: format!(
                "{}: {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `systemctl args...`.
pub(crate) fn systemctl(args: &[&str]) -> Result<String, Error> {
    run(Path::new("systemctl"), args)
}

/// Whether `unit` is active.
pub(crate) fn unit_active(unit: &str) -> bool {
    Command::new("systemctl")
        .args(["is-active", "--quiet", unit])
        .status()
        .is_ok_and(|s| s.success())
}

/// podman, when installed and answering: its path and client version (major, minor).
pub(crate) fn podman() -> Option<(PathBuf, (u32, u32))> {
    let path = which("podman")?;
    let version = run(&path, &["version", "--format", "{{.Client.Version}}"]).ok()?;
    Some((path, parse_version(&version)?))
}

/// `4.9.3` -> (4, 9).
pub(crate) fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Whether podman at `version` reads Quadlet `.container` files (4.4 and later).
pub(crate) fn has_quadlet(version: (u32, u32)) -> bool {
    version >= (4, 4)
}

/// Whether a container named `name` exists, in any state (created, exited, running).
pub(crate) fn container_exists(podman: &Path, name: &str) -> bool {
    run(podman, &["container", "exists", name]).is_ok()
}

/// Whether the container is running.
pub(crate) fn container_running(podman: &Path, name: &str) -> bool {
    run(
        podman,
        &[
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            name,
        ],
    )
    .is_ok_and(|out| out == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("4.9.3\n"), Some((4, 9)));
        assert_eq!(parse_version("5.0.0-dev"), Some((5, 0)));
        assert_eq!(parse_version("3"), Some((3, 0)));
        assert_eq!(parse_version("x"), None);
        assert!(has_quadlet((4, 4)) && has_quadlet((5, 0)) && !has_quadlet((4, 3)));
    }

    #[test]
    fn failures_name_the_command() {
        let err = run(Path::new("/nonexistent/podman"), &["ps"]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`/nonexistent/podman ps` failed"),
            "{err}"
        );
        let err = run(Path::new("false"), &[]).unwrap_err();
        assert!(err.to_string().contains("exit status: 1"), "{err}");
    }
}
