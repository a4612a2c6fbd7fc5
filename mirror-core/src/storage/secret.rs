//! The registry's `http.secret`: it signs upload state, so every replica behind one address
//! must have the same one, or an upload begun on one replica cannot finish on another
//! (`BLOB_UPLOAD_INVALID`).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use mirror_tls::fsutil::{SECRET_MODE, create_dirs};

/// What [`ensure_http_secret`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretAction {
    /// The file was missing: a random secret was written (0600).
    Created,
    /// The file existed and was read.
    Read,
}

/// Reads the secret in `path`; a missing file is created first with a random secret (32
/// random bytes, hex), mode 0600, never replacing a file another process wrote meanwhile.
pub fn ensure_http_secret(path: &Path) -> Result<(String, SecretAction), Error> {
    if path.exists() {
        return Ok((read_http_secret(path)?, SecretAction::Read));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_dirs(dir)?;
    let err = |e| Error::io("write", path, e);
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let mut tmp = tempfile::Builder::new()
        .prefix(".mirrorctl-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(SECRET_MODE))
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(SECRET_MODE))
        .map_err(err)?;
    writeln!(tmp, "{secret}").map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok((secret, SecretAction::Created)),
        // Another replica's `up` wrote it first: use that one.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_http_secret(path)?, SecretAction::Read))
        }
        Err(e) => Err(err(e.error)),
    }
}

/// Reads a secret file: its first line, trimmed. An empty file or one with control characters
/// is refused (without quoting it).
pub fn read_http_secret(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let secret = text.lines().next().unwrap_or_default().trim();
    let bad = |reason: &str| Error::InvalidSetting {
        name: format!("http secret file {}", path.display()),
        reason: reason.into(),
    };
    if secret.is_empty() {
        return Err(bad(
            "its first line is empty: delete the file to have a random secret made, or write one (the same on every replica)",
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err(bad("the secret holds control characters"));
    }
    Ok(secret.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_random_0600_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth/http-secret");
        let (a, action) = ensure_http_secret(&path).unwrap();
        assert_eq!(action, SecretAction::Created);
        assert_eq!(a.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (b, action) = ensure_http_secret(&path).unwrap();
        assert_eq!((b, action), (a.clone(), SecretAction::Read));
        let other = dir.path().join("other");
        assert_ne!(ensure_http_secret(&other).unwrap().0, a);
        std::fs::write(&other, "\n").unwrap();
        let err = ensure_http_secret(&other).unwrap_err().to_string();
        assert!(err.contains("its first line is empty"), "{err}");
        std::fs::write(&other, "  shared-secret  \n").unwrap();
        assert_eq!(ensure_http_secret(&other).unwrap().0, "shared-secret");
    }
}
