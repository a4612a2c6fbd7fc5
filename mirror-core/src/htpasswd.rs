//! The registry's htpasswd file: `user:$2y$...` bcrypt lines, as `htpasswd -B` writes them and
//! the distribution registry reads them.
//!
//! The registry trims each line, skips blank lines and `#` comments, and splits at the first
//! `:`; only bcrypt hashes can log in. Editing keeps every other line as it was.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::auth::Credential;
use crate::error::Error;
use mirror_tls::fsutil::{SECRET_MODE, create_dirs, read_optional, tighten_mode, write_atomic};

/// bcrypt cost of new hashes: 5, as `htpasswd -B` writes them and as the script this replaces
/// did. The distribution registry checks the hash on every request (it caches nothing), so
/// each step up doubles the registry's CPU per request: measured here 4.9 ms at cost 5 and
/// 169 ms at cost 10 under load (docs/security.md weighs this against offline guessing).
pub const DEFAULT_BCRYPT_COST: u32 = 5;

/// The lowest and highest bcrypt costs accepted.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// The longest password bcrypt uses in full; longer ones would be silently truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// What [`set_htpasswd_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserAction {
    /// The user was not in the file (or there was no file): a line was added.
    Added,
    /// The user was there with another password: its line was replaced.
    Replaced,
    /// The user's hash already matches the password: the file was not rewritten.
    Unchanged,
    /// The user's hash matches the password but has another bcrypt cost: it was hashed again
    /// at the cost asked for (the password, and so every client, is unchanged).
    Rehashed,
}

/// A parsed htpasswd file. `Debug` does not show hashes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Htpasswd {
    lines: Vec<Line>,
}

#[derive(Clone, PartialEq, Eq)]
enum Line {
    /// A blank line or a `#` comment, kept verbatim.
    Other(String),
    /// `user:hash`.
    User { name: String, hash: String },
}

impl fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.users().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Parses htpasswd text; `path` is only used in messages. A line that is neither blank,
    /// a comment, nor `user:hash` is an [`Error::Htpasswd`] naming its number.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Other(raw.to_string()));
                continue;
            }
            let bad = |reason: &str| Error::Htpasswd {
                path: path.to_path_buf(),
                line: i + 1,
                reason: reason.to_string(),
            };
            let (name, hash) = trimmed
                .split_once(':')
                .ok_or_else(|| bad("expected `user:hash` (no `:`)"))?;
            if name.is_empty() {
                return Err(bad("empty user name"));
            }
            if hash.is_empty() {
                return Err(bad("empty hash"));
            }
            lines.push(Line::User {
                name: name.to_string(),
                hash: hash.to_string(),
            });
        }
        Ok(Self { lines })
    }

    /// The user names, in file order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| match l {
            Line::User { name, .. } => Some(name.as_str()),
            Line::Other(_) => None,
        })
    }

    /// Whether `password` logs `username` in (the registry uses the last line of a user).
    pub fn verify(&self, username: &str, password: &str) -> bool {
        validate_password(password).is_ok()
            && self
                .hash_of(username)
                .is_some_and(|h| bcrypt::verify(password, h).unwrap_or(false))
    }

    /// The bcrypt cost of `username`'s hash (`$2y$NN$...`), when it has one.
    pub fn cost_of(&self, username: &str) -> Option<u32> {
        let h = self.hash_of(username)?;
        h.split('$').nth(2)?.parse().ok()
    }

    fn hash_of(&self, username: &str) -> Option<&str> {
        self.lines.iter().rev().find_map(|l| match l {
            Line::User { name, hash } if name == username => Some(hash.as_str()),
            _ => None,
        })
    }

    /// Sets `username`'s hash: replaces its first line and drops any later duplicates, or
    /// appends a line. Returns whether the user existed.
    pub fn set(&mut self, username: &str, hash: &str) -> bool {
        let mut found = false;
        self.lines.retain_mut(|l| match l {
            Line::User { name, hash: h } if name == username => {
                if found {
                    return false;
                }
                found = true;
                *h = hash.to_string();
                true
            }
            _ => true,
        });
        if !found {
            self.lines.push(Line::User {
                name: username.to_string(),
                hash: hash.to_string(),
            });
        }
        found
    }

    /// The file text, one line per entry, ending with a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Other(s) => out.push_str(s),
                Line::User { name, hash } => {
                    out.push_str(name);
                    out.push(':');
                    out.push_str(hash);
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Checks a user name for an htpasswd line: not empty, no `:`, no whitespace or control
/// characters, not starting with `#`.
pub fn validate_username(username: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::InvalidSetting {
        name: "username".into(),
        reason: reason.to_string(),
    };
    if username.is_empty() {
        return Err(bad("the user name is empty"));
    }
    if username.contains(':') {
        return Err(bad(&format!(
            "`{username}` contains `:`, which separates the user from the password"
        )));
    }
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad(
            "the user name contains whitespace or control characters",
        ));
    }
    if username.starts_with('#') {
        return Err(bad(&format!(
            "`{username}` starts with `#`, which makes an htpasswd line a comment"
        )));
    }
    Ok(())
}

/// Checks a password for bcrypt: not empty, at most [`MAX_PASSWORD_BYTES`] bytes, no NUL.
pub fn validate_password(password: &str) -> Result<(), Error> {
    let bad = |reason: String| Error::InvalidSetting {
        name: "password".into(),
        reason,
    };
    if password.is_empty() {
        return Err(bad("the password is empty".into()));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(bad(format!(
            "the password is {} bytes; bcrypt uses only the first {MAX_PASSWORD_BYTES}, so choose a shorter one",
            password.len()
        )));
    }
    if password.contains('\0') {
        return Err(bad("the password contains a NUL byte".into()));
    }
    Ok(())
}

/// A `$2y$` bcrypt hash of `password` (the form `htpasswd -B` writes). Refuses passwords
/// bcrypt would truncate.
pub fn hash_password(password: &str, cost: u32) -> Result<String, Error> {
    validate_password(password)?;
    validate_cost(cost)?;
    // `validate_password` refused anything over 72 bytes, so no byte is dropped here. (The
    // crate's `non_truncating_*` functions also refuse exactly 72 bytes because the terminating
    // NUL no longer fits; Go's bcrypt, which the registry uses, accepts 72 and hashes the same.)
    bcrypt::hash_with_result(password, cost)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoY))
        .map_err(|e| Error::InvalidSetting {
            name: "password".into(),
            reason: format!("bcrypt: {e}"),
        })
}

/// Checks a bcrypt cost: 4 to 31.
pub fn validate_cost(cost: u32) -> Result<(), Error> {
    if BCRYPT_COSTS.contains(&cost) {
        return Ok(());
    }
    Err(Error::InvalidSetting {
        name: "bcrypt-cost".into(),
        reason: format!(
            "`{cost}` is not a bcrypt cost ({} to {})",
            BCRYPT_COSTS.start(),
            BCRYPT_COSTS.end()
        ),
    })
}

/// What an htpasswd file holds for a user, from [`htpasswd_user_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserState {
    /// No file, or no line for the user.
    Absent,
    /// The user's hash verifies the password: [`set_htpasswd_user`] would change nothing.
    Matches,
    /// The user is there with another password: [`set_htpasswd_user`] would replace it, and
    /// every client holding the old password would be refused.
    Differs,
}

/// Reads the htpasswd file at `path` (`None` when it does not exist).
fn load(path: &Path) -> Result<Option<Htpasswd>, Error> {
    let Some(bytes) = read_optional(path)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Htpasswd {
        path: path.to_path_buf(),
        line: 0,
        reason: "not UTF-8 text".into(),
    })?;
    Htpasswd::parse(text, path).map(Some)
}

/// Whether the htpasswd file at `path` holds `credential.username`, and with this password.
/// Read-only: callers ask before [`set_htpasswd_user`] when replacing a password would cut
/// clients off.
pub fn htpasswd_user_state(path: &Path, credential: &Credential) -> Result<UserState, Error> {
    let Some(file) = load(path)? else {
        return Ok(UserState::Absent);
    };
    if !file.users().any(|u| u == credential.username) {
        return Ok(UserState::Absent);
    }
    Ok(if file.verify(&credential.username, &credential.password) {
        UserState::Matches
    } else {
        UserState::Differs
    })
}

/// Adds or replaces `credential.username` in the htpasswd file at `path`, keeping every other
/// line. The file (and its directory) is created when missing; it is written atomically,
/// mode 0600. When the user's hash already matches the password at bcrypt `cost` nothing is
/// written ([`UserAction::Unchanged`]), though a file readable by others is narrowed to 0600;
/// a matching hash of another cost is hashed again at `cost` ([`UserAction::Rehashed`]).
///
/// ```no_run
/// # fn demo() -> Result<(), mirror_core::Error> {
/// use mirror_core::{auth::{Credential}, htpasswd::{DEFAULT_BCRYPT_COST}};
/// let user = Credential { username: "mirror".into(), password: "s3cret".into() };
/// let path = std::path::Path::new("/opt/registry/auth/htpasswd");
/// let action = mirror_core::set_htpasswd_user(path, &user, DEFAULT_BCRYPT_COST)?;
/// println!("{action:?}");
/// # Ok(()) }
/// ```
pub fn set_htpasswd_user(
    path: &Path,
    credential: &Credential,
    cost: u32,
) -> Result<UserAction, Error> {
    validate_username(&credential.username)?;
    validate_password(&credential.password)?;
    validate_cost(cost)?;
    let existing = load(path)?;
    let exists = existing.is_some();
    let mut file = existing.unwrap_or_default();
    let mut same_password = false;
    if exists && file.verify(&credential.username, &credential.password) {
        same_password = true;
        let only_line = file.users().filter(|u| *u == credential.username).count() == 1;
        if only_line && file.cost_of(&credential.username) == Some(cost) {
            tighten_mode(path, SECRET_MODE)?;
            return Ok(UserAction::Unchanged);
        }
    }
    let hash = hash_password(&credential.password, cost)?;
    let existed = file.set(&credential.username, &hash);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dirs(dir)?;
    }
    write_atomic(path, file.render().as_bytes(), SECRET_MODE)?;
    Ok(match (existed, same_password) {
        (true, true) => UserAction::Rehashed,
        (true, false) => UserAction::Replaced,
        (false, _) => UserAction::Added,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn cred(u: &str, p: &str) -> Credential {
        Credential {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn hashes_are_2y_and_verify() {
        let h = hash_password("s3cret", 4).unwrap();
        assert!(h.starts_with("$2y$04$"), "{h}");
        assert_eq!(h.len(), 60);
        assert!(bcrypt::verify("s3cret", &h).unwrap());
    }

    #[test]
    fn refuses_names_and_passwords_the_registry_would_misread() {
        let table = [
            ("a:b", "pw", "contains `:`"),
            ("", "pw", "empty"),
            ("a b", "pw", "whitespace"),
            ("#admin", "pw", "comment"),
            ("admin", "", "empty"),
            ("admin", &"x".repeat(73), "73 bytes"),
        ];
        for (u, p, want) in table {
            let dir = tempfile::tempdir().unwrap();
            let err = set_htpasswd_user(&dir.path().join("h"), &cred(u, p), 4)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{u:?}: {err}");
            assert!(!dir.path().join("h").exists());
        }
        // Exactly 72 bytes is fine, and every byte counts.
        let h = hash_password(&"x".repeat(72), 4).unwrap();
        assert!(bcrypt::verify("x".repeat(72), &h).unwrap());
        assert!(!bcrypt::verify(format!("{}y", "x".repeat(71)), &h).unwrap());
    }

    #[test]
    fn adds_replaces_keeps_others_and_reruns_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth/htpasswd");
        assert_eq!(
            set_htpasswd_user(&path, &cred("admin", "one"), 4).unwrap(),
            UserAction::Added
        );
        assert_eq!(
            set_htpasswd_user(&path, &cred("other", "two"), 4).unwrap(),
            UserAction::Added
        );
        let before = std::fs::read(&path).unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(
            set_htpasswd_user(&path, &cred("admin", "one"), 4).unwrap(),
            UserAction::Unchanged
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);

        assert_eq!(
            set_htpasswd_user(&path, &cred("admin", "new"), 4).unwrap(),
            UserAction::Replaced
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let file = Htpasswd::parse(&text, &path).unwrap();
        assert_eq!(file.users().collect::<Vec<_>>(), ["admin", "other"]);
        assert!(file.verify("admin", "new"));
        assert!(!file.verify("admin", "one"));
        assert!(file.verify("other", "two"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// A rerun with another cost keeps the password (every client keeps working) and hashes
    /// it again at that cost; a cost bcrypt does not have is refused before any change.
    #[test]
    fn another_cost_rehashes_the_same_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        set_htpasswd_user(&path, &cred("admin", "one"), 6).unwrap();
        let file = |p: &Path| Htpasswd::parse(&std::fs::read_to_string(p).unwrap(), p).unwrap();
        assert_eq!(file(&path).cost_of("admin"), Some(6));
        assert_eq!(
            set_htpasswd_user(&path, &cred("admin", "one"), 4).unwrap(),
            UserAction::Rehashed
        );
        assert_eq!(file(&path).cost_of("admin"), Some(4));
        assert!(file(&path).verify("admin", "one"));
        assert_eq!(
            set_htpasswd_user(&path, &cred("admin", "one"), 4).unwrap(),
            UserAction::Unchanged
        );
        let before = std::fs::read(&path).unwrap();
        for bad in [3, 32] {
            let e = set_htpasswd_user(&path, &cred("admin", "one"), bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid setting `bcrypt-cost`: `{bad}` is not a bcrypt cost (4 to 31)")
            );
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(DEFAULT_BCRYPT_COST, 5);
    }

    #[test]
    fn user_state_tells_a_new_password_from_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let state = |u: &str, p: &str| htpasswd_user_state(&path, &cred(u, p)).unwrap();
        assert_eq!(state("admin", "one"), UserState::Absent, "no file");
        set_htpasswd_user(&path, &cred("admin", "one"), 4).unwrap();
        let before = std::fs::read(&path).unwrap();
        assert_eq!(
            [
                state("admin", "one"),
                state("admin", "two"),
                state("bob", "one")
            ],
            [UserState::Matches, UserState::Differs, UserState::Absent]
        );
        assert_eq!(std::fs::read(&path).unwrap(), before, "read-only");
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(htpasswd_user_state(&path, &cred("admin", "one")).is_err());
    }

    #[test]
    fn keeps_comments_and_collapses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let old = hash_password("old", 4).unwrap();
        std::fs::write(
            &path,
            format!("# managed by hand\nadmin:{old}\n\nbob:{old}\nadmin:{old}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            set_htpasswd_user(&path, &cred("admin", "new"), 4).unwrap(),
            UserAction::Replaced
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# managed by hand");
        assert!(lines[1].starts_with("admin:$2y$04$"));
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], format!("bob:{old}"));
        assert_eq!(lines.len(), 4);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn malformed_lines_are_named_without_content() {
        let err = Htpasswd::parse("admin:$2y$x\nno-colon-here\n", Path::new("/h"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "htpasswd file `/h` line 2: expected `user:hash` (no `:`)"
        );
    }

    #[test]
    fn debug_shows_no_hashes() {
        let file = Htpasswd::parse("admin:$2y$04$abcdef\n", Path::new("/h")).unwrap();
        let dbg = format!("{file:?}");
        assert!(dbg.contains("admin") && !dbg.contains("$2y$"), "{dbg}");
    }
}
