//! Registering a RHEL host with Red Hat, as the script did before `yum install podman`, but
//! only when the package install needs it and only with the account given.
//!
//! The account password reaches `subscription-manager` the way a person would give it: typed
//! at its `Password:` prompt, here through a pseudo-terminal that becomes the child's
//! controlling terminal. It is never on a command line (visible in `ps`), never in the
//! child's environment, and never in what we report (the prompt does not echo, and the
//! transcript is scrubbed anyway). Current subscription-manager refuses to prompt when its
//! stdin is not a terminal, so a pipe would not do.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::auth::Credential;
use crate::error::Error;

/// How long registration may take (it talks to Red Hat's servers).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(300);

/// Where host programs are looked up: the process's `PATH`, or another one (tests put
/// stand-ins for `dnf` and `subscription-manager` first).
#[derive(Clone, Debug, Default)]
pub(crate) struct Host {
    path: Option<OsString>,
}

impl Host {
    /// The real host.
    pub(crate) fn system() -> Self {
        Host::default()
    }

    /// Programs looked up in `path` instead of `$PATH`.
    #[cfg(test)]
    pub(crate) fn with_path(path: impl Into<OsString>) -> Self {
        Host {
            path: Some(path.into()),
        }
    }

    /// The program's full path, when it is on this host's `PATH`.
    pub(crate) fn find(&self, name: &str) -> Option<PathBuf> {
        match &self.path {
            Some(path) => crate::runtime::process::which_in(path, name),
            None => crate::runtime::process::which(name),
        }
    }

    /// A command for `program` with this host's `PATH` and the C locale (so prompts and
    /// messages are the English ones we look for).
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.find(program).unwrap_or_else(|| program.into()));
        if let Some(p) = &self.path {
            cmd.env("PATH", p);
        }
        cmd.env("LC_ALL", "C").env("LANG", "C");
        cmd
    }
}

/// Whether the host is registered with Red Hat: `None` when it has no
/// `subscription-manager` (CentOS, Rocky, Fedora, ...), so registration cannot apply.
pub(crate) fn registered(host: &Host) -> Option<bool> {
    host.find("subscription-manager")?;
    let out = host
        .command("subscription-manager")
        .arg("identity")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(out.status.success())
}

/// Runs `subscription-manager register --username USER` and answers its password prompt
/// through a pseudo-terminal. Returns the command's last line on success (its
/// "registered with ID" line).
pub(crate) fn register(host: &Host, account: &Credential) -> Result<String, Error> {
    let fail = |reason: String| {
        Error::HostPackages {
        reason: format!(
            "registering this host with Red Hat as `{}` failed: {reason}",
            account.username
        ),
        hint: "check the Red Hat account user and password (`--rh-username`, `--rh-password-file` or MIRROR_RH_PASSWORD), or run `subscription-manager register` yourself and rerun".into(),
    }
    };
    let pty_err = |e: rustix::io::Errno| fail(format!("cannot open a pseudo-terminal: {e}"));
    let master = rustix::pty::openpt(
        rustix::pty::OpenptFlags::RDWR
            | rustix::pty::OpenptFlags::NOCTTY
            | rustix::pty::OpenptFlags::CLOEXEC,
    )
    .map_err(pty_err)?;
    rustix::pty::grantpt(&master).map_err(pty_err)?;
    rustix::pty::unlockpt(&master).map_err(pty_err)?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(pty_err)?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(pty_err)?;
    let dup = |fd: &std::os::fd::OwnedFd| {
        fd.try_clone()
            .map_err(|e| fail(format!("cannot duplicate the pseudo-terminal: {e}")))
    };

    // util-linux's `setsid --ctty` starts it in a new session whose controlling terminal is
    // its stdin, our pseudo-terminal: that is where getpass() reads from. (It does not fork:
    // our child is not a process-group leader.)
    host.find("setsid").ok_or_else(|| {
        fail("`setsid` (util-linux) is not on PATH: install util-linux".to_string())
    })?;
    let sm = host.find("subscription-manager").ok_or_else(|| {
        fail("`subscription-manager` is not on PATH: install subscription-manager".to_string())
    })?;
    let mut cmd = host.command("setsid");
    cmd.arg("--ctty")
        .arg(sm)
        .args(["register", "--username", &account.username])
        .stdin(Stdio::from(dup(&slave)?))
        .stdout(Stdio::from(dup(&slave)?))
        .stderr(Stdio::from(slave));
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot run `subscription-manager`: {e}")))?;
    // The command holds copies of the slave; closing them lets the reader see the end.
    drop(cmd);

    let mut reader = std::fs::File::from(dup(&master)?);
    let mut writer = std::fs::File::from(master);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // EIO once every holder of the slave has closed it: the end of the transcript.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let mut transcript = Vec::new();
    let mut answered = 0usize;
    let mut exited = None;
    let mut quiet_since = Instant::now();
    let problem = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(chunk) => {
                transcript.extend_from_slice(&chunk);
                quiet_since = Instant::now();
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let text = String::from_utf8_lossy(&transcript).to_ascii_lowercase();
        let prompts = text.matches("password:").count();
        if prompts > answered {
            if answered > 0 {
                break Some("it asked for the password again".to_string());
            }
            let line = format!("{}\n", account.password);
            if let Err(e) = writer.write_all(line.as_bytes()) {
                break Some(format!("cannot answer its password prompt: {e}"));
            }
            answered = prompts;
        }
        if text.contains("username:") {
            break Some("it asked for a user name".to_string());
        }
        if exited.is_none() {
            exited = child.try_wait().ok().flatten();
        }
        if exited.is_some() && quiet_since.elapsed() > Duration::from_millis(500) {
            // It has exited and said nothing more: a grandchild that kept the terminal open
            // gets no say over how long we wait.
            break None;
        }
        if Instant::now() > deadline {
            break Some(format!("no answer within {} s", REGISTER_TIMEOUT.as_secs()));
        }
    };
    if problem.is_some() {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for `subscription-manager`: {e}")))?;
    let said = scrub(&transcript, &account.password);
    let last = said.lines().last().unwrap_or_default().to_string();
    match problem {
        Some(why) => Err(fail(format!("{why} ({last})"))),
        None if status.success() => Ok(last),
        None => Err(fail(if last.is_empty() {
            format!("`subscription-manager register` exited with {status}")
        } else {
            last
        })),
    }
}

/// The transcript as text: carriage returns and the password's prompt removed, any
/// occurrence of the password replaced, empty lines dropped.
fn scrub(transcript: &[u8], password: &str) -> String {
    let text = String::from_utf8_lossy(transcript).replace('\r', "");
    let text = if password.is_empty() {
        text
    } else {
        text.replace(password, "<redacted>")
    };
    text.lines()
        .map(|l| {
            let l = l.trim();
            l.strip_prefix("Password:").map_or(l, str::trim)
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
