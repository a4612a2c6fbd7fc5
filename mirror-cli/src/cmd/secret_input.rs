//! Passwords from a file, stdin, the environment or a prompt: never from argv.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;

use clap::Args;

/// The environment variable holding the registry password.
pub const PASSWORD_ENV: &str = "MIRROR_REGISTRY_PASSWORD";

/// Where the password comes from: `--password-file`, `--password-stdin`, else
/// `$MIRROR_REGISTRY_PASSWORD`, else a prompt when stdin is a terminal.
#[derive(Args, Debug, Clone, Default)]
pub struct PasswordArgs {
    /// Read the password from this file (one line; a final newline is dropped, more lines are refused)
    #[arg(long, value_name = "FILE", conflicts_with = "password_stdin")]
    pub password_file: Option<PathBuf>,
    /// Read the password from standard input (one line; a final newline is dropped, more lines are refused)
    #[arg(long)]
    pub password_stdin: bool,
}

/// A password. `Debug` never shows it.
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl PasswordArgs {
    /// Reads the password; `confirm` asks twice at a prompt. Errors never hold the secret.
    pub fn read(&self, prompt: &str, confirm: bool) -> Result<Password, String> {
        let pw = if let Some(path) = &self.password_file {
            read_file(path)?
        } else if self.password_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
            one_line(&text).map_err(|e| format!("the password on stdin {e}"))?
        } else if let Some(v) = std::env::var_os(PASSWORD_ENV) {
            v.into_string()
                .map_err(|_| format!("${PASSWORD_ENV} is not UTF-8"))?
        } else if std::io::stdin().is_terminal() {
            let first = prompt_hidden(prompt)?;
            if confirm {
                let again = prompt_hidden("Repeat the password: ")?;
                if again != first {
                    return Err("the passwords do not match".into());
                }
            }
            first
        } else {
            return Err(format!(
                "no password given: pass `--password-file FILE` or `--password-stdin`, or set ${PASSWORD_ENV}"
            ));
        };
        if pw.is_empty() {
            return Err("the password is empty".into());
        }
        Ok(Password(pw))
    }
}

/// A password file's one line, without its line ending ([`mirror_core::secret::read_secret_file`]).
/// Errors never hold the secret.
fn read_file(path: &std::path::Path) -> Result<String, String> {
    mirror_core::secret::read_secret_file(path).map_err(|e| mirror_core::ErrorChain(&e).to_string())
}

/// `text` without exactly one trailing line ending ([`mirror_core::secret::secret_line`]); a second
/// line is refused.
fn one_line(text: &str) -> Result<String, String> {
    mirror_core::secret::secret_line(text)
        .map(str::to_string)
        .ok_or_else(|| {
            "has more than one line: a password is one line (a final newline is dropped)".into()
        })
}

/// Reads a line from the terminal with echo off.
pub fn prompt_hidden(prompt: &str) -> Result<String, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| format!("cannot open the terminal for a password prompt: {e}"))?;
    let saved = tcgetattr(&tty).map_err(|e| format!("cannot read terminal settings: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    (&tty)
        .write_all(prompt.as_bytes())
        .and_then(|_| (&tty).flush())
        .map_err(|e| format!("cannot write to the terminal: {e}"))?;
    tcsetattr(&tty, OptionalActions::Flush, &quiet)
        .map_err(|e| format!("cannot turn terminal echo off: {e}"))?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let restored = tcsetattr(&tty, OptionalActions::Flush, &saved);
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    restored.map_err(|e| format!("cannot restore terminal echo: {e}"))?;
    one_line(&line).map_err(|e| format!("the password typed {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_is_redacted() {
        let dbg = format!("{:?}", super::Password("s3cret".into()));
        assert!(!dbg.contains("s3cret"));
    }
}
