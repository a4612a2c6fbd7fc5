//! The object store's access key, read from a file: never from the command line.
//!
//! Two formats are accepted:
//! - an AWS-style shared credentials file (`~/.aws/credentials`): INI sections, one per
//!   profile, with `aws_access_key_id` and `aws_secret_access_key`. The `[default]` profile is
//!   used, or the only profile when there is just one;
//! - two lines: the access key ID, then the secret access key (blank lines and `#` comments
//!   are ignored).

use std::path::{Path, PathBuf};

use crate::error::Error;

/// An S3 access key. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key ID (not a secret: it names the key, and appears in S3 error messages).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The file it was read from, for messages.
    pub source: PathBuf,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// What the two formats look like, for error messages.
pub(crate) const FORMATS: &str = "an AWS credentials file (`[default]` with `aws_access_key_id = ...` and `aws_secret_access_key = ...`), or two lines: the access key ID, then the secret";

impl S3Credentials {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("read S3 credentials file", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses the text of a credentials file; `path` is used in messages only. Errors never
    /// quote a line of the file (it may hold the secret).
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let bad = |reason: String| Error::StorageCredentials {
            path: path.to_path_buf(),
            reason: format!("{reason}; expected {FORMATS}"),
        };
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
            .collect();
        let (id, secret) = if lines.iter().any(|(_, l)| l.starts_with('[')) {
            from_profiles(&lines).map_err(bad)?
        } else {
            match lines.as_slice() {
                [(_, id), (_, secret)] => (id.to_string(), secret.to_string()),
                _ => {
                    return Err(bad(format!(
                        "{} non-empty lines and no `[profile]` section",
                        lines.len()
                    )));
                }
            }
        };
        for (what, value) in [("access key ID", &id), ("secret access key", &secret)] {
            if value.is_empty() {
                return Err(bad(format!("the {what} is empty")));
            }
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad(format!("the {what} holds whitespace")));
            }
        }
        Ok(S3Credentials {
            access_key_id: id,
            secret_access_key: secret,
            source: path.to_path_buf(),
        })
    }
}

/// The key of the `[default]` profile, or of the only profile.
fn from_profiles(lines: &[(usize, &str)]) -> Result<(String, String), String> {
    let mut profiles: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for (n, line) in lines {
        if let Some(name) = line.strip_prefix('[') {
            let Some(name) = name.strip_suffix(']') else {
                return Err(format!("line {n}: a section header without `]`"));
            };
            // `[profile x]` is the config-file spelling; accept it here too.
            let name = name.trim();
            let name = name.strip_prefix("profile ").unwrap_or(name).trim();
            profiles.push((name.to_string(), None, None));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {n}: not `key = value`"));
        };
        let Some(current) = profiles.last_mut() else {
            return Err(format!("line {n}: a key before any `[profile]` section"));
        };
        let value = value.trim().to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => current.1 = Some(value),
            "aws_secret_access_key" => current.2 = Some(value),
            _ => {}
        }
    }
    let names = || {
        profiles
            .iter()
            .map(|p| format!("`{}`", p.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match profiles.iter().position(|p| p.0 == "default") {
        Some(i) => i,
        None if profiles.len() == 1 => 0,
        None => {
            return Err(format!(
                "several profiles ({}) and none is `[default]`: keep the registry's key in a file of its own",
                names()
            ));
        }
    };
    let (name, id, secret) = profiles.swap_remove(chosen);
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        (None, _) => Err(format!("profile `{name}` has no `aws_access_key_id`")),
        (_, None) => Err(format!("profile `{name}` has no `aws_secret_access_key`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(String, String), String> {
        S3Credentials::parse(text, Path::new("/root/s3-creds"))
            .map(|c| (c.access_key_id, c.secret_access_key))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn both_formats_and_their_refusals() {
        let ok = |id: &str, secret: &str| Ok((id.to_string(), secret.to_string()));
        type Case<'a> = (&'a str, Result<(String, String), String>);
        let cases: &[Case] = &[
            (
                "AKIAEXAMPLE\nwJalr/K7+MDENG=\n",
                ok("AKIAEXAMPLE", "wJalr/K7+MDENG="),
            ),
            (
                "# key for the mirror\n\n  AKIA1  \nsecret1\n\n",
                ok("AKIA1", "secret1"),
            ),
            (
                "[default]\naws_access_key_id = AKIA2\naws_secret_access_key=s2\n",
                ok("AKIA2", "s2"),
            ),
            (
                "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n[default]\naws_access_key_id = AKIA3\naws_secret_access_key = s3\nregion = eu-west-1\n",
                ok("AKIA3", "s3"),
            ),
            (
                "[mirror]\naws_access_key_id = AKIA4\naws_secret_access_key = s4\n",
                ok("AKIA4", "s4"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&parse(text), want, "{text:?}");
        }
        let refused = [
            ("AKIA\n", "1 non-empty lines and no `[profile]` section"),
            ("a\nb\nc\n", "3 non-empty lines"),
            ("AKIA\nsec ret\n", "the secret access key holds whitespace"),
            (
                "[a]\naws_access_key_id = X\naws_secret_access_key = Y\n[b]\naws_access_key_id = X\naws_secret_access_key = Y\n",
                "several profiles (`a`, `b`) and none is `[default]`",
            ),
            (
                "[default]\naws_access_key_id = X\n",
                "profile `default` has no `aws_secret_access_key`",
            ),
            (
                "aws_access_key_id = X\n[default]\n",
                "line 1: a key before any `[profile]` section",
            ),
            ("[default\n", "line 1: a section header without `]`"),
            (
                "[default]\naws_access_key_id = \naws_secret_access_key = s\n",
                "the access key ID is empty",
            ),
        ];
        for (text, want) in refused {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with("S3 credentials file `/root/s3-creds`: "),
                "{err}"
            );
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(
                err.contains("two lines: the access key ID, then the secret"),
                "{err}"
            );
        }
        // The secret never reaches an error or Debug.
        let err = parse("AKIA\nhunter2 x\n").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let c = S3Credentials::parse("AKIA\nhunter2\n", Path::new("f")).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
