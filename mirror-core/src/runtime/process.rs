//! A distribution binary run as a detached background process, tracked by `<root>/registry.pid`,
//! logging to `<root>/registry.log`.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::RegistryLayout;
use crate::error::Error;
use mirror_tls::fsutil::{PUBLIC_MODE, write_atomic};

/// The names distribution's binary has: Debian/Ubuntu `docker-registry`, Fedora/EPEL
/// `docker-distribution`'s `registry`.
pub(crate) const BINARY_NAMES: [&str; 2] = ["docker-registry", "registry"];

/// How to install a distribution binary on this host (its package manager's command).
pub(crate) fn install_binary() -> String {
    format!(
        "install the distribution registry: {}; or give the binary's path",
        crate::preflight::tools::Installer::of_this_host().registry_binary()
    )
}

/// Finds the binary: `explicit` (which must exist), else the first of [`BINARY_NAMES`] on
/// `PATH`.
pub(crate) fn find_binary(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return Err(Error::ToolMissing {
            what: "the registry binary".into(),
            looked_for: format!("`{}` does not exist", p.display()),
            install: install_binary(),
        });
    }
    for name in BINARY_NAMES {
        if let Some(p) = which(name) {
            return Ok(p);
        }
    }
    Err(Error::ToolMissing {
        what: "a distribution registry binary".into(),
        looked_for: format!("`{}` on PATH", BINARY_NAMES.join("` or `")),
        install: install_binary(),
    })
}

/// `name` on `PATH`.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    which_in(&std::env::var_os("PATH")?, name)
}

/// `name` in one of the directories of `path` (a `PATH`-style list).
pub(crate) fn which_in(path: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether `pid` is a live (not zombie) process whose command line names `config`.
pub(crate) fn is_ours(pid: u32, config: &Path) -> bool {
    if !is_alive(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = config.as_os_str().as_encoded_bytes();
    cmdline.split(|b| *b == 0).any(|arg| arg == want)
}

/// Whether `pid` exists and is not a zombie.
pub(crate) fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The pid in `<root>/registry.pid` when that process is running our config; a stale pid file
/// is removed.
pub(crate) fn running_pid(layout: &RegistryLayout) -> Result<Option<u32>, Error> {
    let path = layout.pid_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let pid = text.trim().parse::<u32>().ok();
    match pid {
        Some(pid) if is_ours(pid, &layout.config()) => Ok(Some(pid)),
        _ => {
            let _ = std::fs::remove_file(&path);
            Ok(None)
        }
    }
}

/// Starts `binary serve <config>` detached (its own session via `setsid` when installed, else
/// its own process group), stdin closed, output appended to the log; writes the pid file and
/// waits until `addr` accepts connections.
pub(crate) fn start(
    layout: &RegistryLayout,
    binary: &Path,
    addr: SocketAddr,
    wait: Duration,
) -> Result<u32, Error> {
    let log_path = layout.log_file();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&log_path)
        .map_err(|e| Error::io("open log", &log_path, e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| Error::io("open log", &log_path, e))?;
    let config = layout.config();
    let mut cmd = match which("setsid") {
        // Not a process group leader, so `setsid` calls setsid(2) and execs in place: the pid
        // stays the registry's.
        Some(setsid) => {
            let mut c = Command::new(setsid);
            c.arg(binary);
            c
        }
        None => {
            let mut c = Command::new(binary);
            c.process_group(0);
            c
        }
    };
    // Distribution 2.8's S3 driver panics at start when AWS_CA_BUNDLE is set
    // (`LoadCustomCABundleError: ... HTTPClient's transport unsupported type`); a private CA
    // for the store goes in the host trust store, which the registry reads.
    cmd.env_remove("AWS_CA_BUNDLE");
    cmd.arg("serve")
        .arg(&config)
        .current_dir(&layout.root)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    let mut child = cmd.spawn().map_err(|e| Error::Runtime {
        reason: format!("cannot start `{}`: {e}", binary.display()),
        log: None,
    })?;
    let pid = child.id();
    write_atomic(
        &layout.pid_file(),
        format!("{pid}\n").as_bytes(),
        PUBLIC_MODE,
    )?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(layout.pid_file());
            return Err(Error::Runtime {
                reason: format!(
                    "`{} serve {}` exited ({status}): {}",
                    binary.display(),
                    config.display(),
                    last_error_line(&log_path)
                ),
                log: Some(log_path),
            });
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(pid);
        }
        if started.elapsed() > wait {
            let _ = stop_pid(pid, Duration::from_secs(5));
            let _ = child.try_wait();
            let _ = std::fs::remove_file(layout.pid_file());
            return Err(Error::Runtime {
                reason: format!("nothing listens on {addr} after {}s", wait.as_secs()),
                log: Some(log_path),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last line of the log that looks like an error, else its last line.
fn last_error_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("level=fatal") || l.contains("level=error") || l.contains("panic")
        })
        .or(lines.last())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "no output".into())
}

/// Stops `pid`: SIGTERM, then SIGKILL after `grace`. Returns once it is gone.
pub(crate) fn stop_pid(pid: u32, grace: Duration) -> Result<(), Error> {
    use rustix::process::{Pid, Signal, kill_process};
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return Ok(());
    };
    let failed = |e: rustix::io::Errno| Error::Runtime {
        reason: format!("cannot stop the registry (pid {pid}): {e}"),
        log: None,
    };
    match kill_process(p, Signal::TERM) {
        Ok(()) => {}
        Err(rustix::io::Errno::SRCH) => return Ok(()),
        Err(e) => return Err(failed(e)),
    }
    for (limit, signal) in [(grace, Some(Signal::KILL)), (Duration::from_secs(5), None)] {
        let start = Instant::now();
        while start.elapsed() < limit {
            if !is_alive(pid) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(sig) = signal {
            match kill_process(p, sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(failed(e)),
            }
        }
    }
    if is_alive(pid) {
        return Err(Error::Runtime {
            reason: format!("the registry (pid {pid}) is still running after SIGKILL"),
            log: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_not_ours() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(!is_ours(me, Path::new("/nonexistent/config.yml")));
        assert!(!is_alive(u32::MAX));
    }

    #[test]
    fn a_stale_pid_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = RegistryLayout::new(dir.path());
        std::fs::write(layout.pid_file(), format!("{}\n", std::process::id())).unwrap();
        assert_eq!(running_pid(&layout).unwrap(), None);
        assert!(!layout.pid_file().exists());
    }

    #[test]
    fn a_missing_binary_says_what_to_install() {
        let err = find_binary(Some(Path::new("/nonexistent/registry"))).unwrap_err();
        assert!(
            err.hint()
                .unwrap()
                .to_string()
                .contains("apt-get install docker-registry")
        );
    }

    #[test]
    fn stops_a_real_process() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        // Reap in the background so the process does not linger as a zombie.
        let reaper = std::thread::spawn(move || child.wait());
        stop_pid(pid, Duration::from_secs(5)).unwrap();
        reaper.join().unwrap().unwrap();
        assert!(!is_alive(pid));
    }
}
