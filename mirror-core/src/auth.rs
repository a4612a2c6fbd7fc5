//! Registry credentials from pull secrets, docker `config.json` and containers `auth.json`.
//!
//! All three share `{"auths": {"<key>": {"auth": "<base64 user:password>"}}}`. Keys are
//! `host[:port]`, optionally namespaced (`quay.io/org/repo`, most specific wins), possibly with
//! an `https://` prefix and a `/v1/` suffix (Docker Hub's `https://index.docker.io/v1/`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;

/// A username and password. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

impl Credential {
    /// Decodes an `auth` value (standard base64 of `user:password`).
    ///
    /// Errors say what is wrong without quoting the value.
    pub fn from_auth_value(value: &str) -> Result<Self, String> {
        let raw = STANDARD
            .decode(value.trim())
            .map_err(|_| "`auth` is not valid base64".to_string())?;
        let text = String::from_utf8(raw)
            .map_err(|_| "`auth` does not decode to UTF-8 text".to_string())?;
        let (user, pass) = text
            .split_once(':')
            .ok_or_else(|| "`auth` does not decode to `user:password` (no `:`)".to_string())?;
        if user.is_empty() {
            return Err("`auth` decodes to an empty user name".to_string());
        }
        Ok(Self {
            username: user.to_string(),
            password: pass.to_string(),
        })
    }

    /// The `auth` value for this credential: base64 of `user:password`.
    pub fn to_auth_value(&self) -> String {
        STANDARD.encode(format!("{}:{}", self.username, self.password))
    }
}

/// Credentials found for a registry, with where they came from (for error hints).
#[derive(Clone, Debug)]
pub struct FoundCredential {
    /// The credential.
    pub credential: Credential,
    /// The key of the entry that matched, e.g. `mirror.example.com:5000`.
    pub key: String,
    /// The file it came from.
    pub file: PathBuf,
}

impl FoundCredential {
    /// `entry `KEY` of `FILE`` for messages.
    pub fn describe(&self) -> String {
        format!("entry `{}` of `{}`", self.key, self.file.display())
    }
}

/// A parsed auth file.
#[derive(Clone, Debug, Default)]
pub struct AuthFile {
    path: PathBuf,
    entries: BTreeMap<String, Credential>,
}

impl AuthFile {
    /// Reads and validates an auth file. Every entry must carry a decodable `auth` (or
    /// `username` + `password`); entries with only `identitytoken`/`credsStore` are skipped.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("read auth file", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses auth-file text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let bad = |reason: String| Error::AuthFile {
            path: path.to_path_buf(),
            reason,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "not valid JSON: line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        let auths = match value.get("auths") {
            Some(serde_json::Value::Object(map)) => map,
            Some(_) => return Err(bad("`auths` is not an object".into())),
            None if value.get("credsStore").is_some() || value.get("credHelpers").is_some() => {
                return Ok(Self {
                    path: path.to_path_buf(),
                    entries: BTreeMap::new(),
                });
            }
            None => return Err(bad("no `auths` object".into())),
        };
        let mut entries = BTreeMap::new();
        for (key, entry) in auths {
            let obj = entry
                .as_object()
                .ok_or_else(|| bad(format!("entry `{key}` is not an object")))?;
            let cred = match (obj.get("auth"), obj.get("username"), obj.get("password")) {
                (Some(serde_json::Value::String(a)), _, _) if !a.is_empty() => {
                    Credential::from_auth_value(a)
                        .map_err(|why| bad(format!("entry `{key}`: {why}")))?
                }
                (_, Some(serde_json::Value::String(u)), Some(serde_json::Value::String(p))) => {
                    Credential {
                        username: u.clone(),
                        password: p.clone(),
                    }
                }
                _ if obj.contains_key("identitytoken") || obj.contains_key("credsStore") => {
                    continue;
                }
                _ => return Err(bad(format!("entry `{key}` has no `auth` value"))),
            };
            entries.insert(normalize_key(key), cred);
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Finds the auth file the usual way: `explicit` (`-a/--registry-config`), then
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$XDG_CONFIG_HOME/containers/auth.json` (or `~/.config/...`), then
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. An explicit file must exist;
    /// the others are used when present. `Ok(None)` means anonymous access.
    pub fn discover(explicit: Option<&Path>) -> Result<Option<Self>, Error> {
        Self::discover_with(explicit, &|k| std::env::var_os(k).map(PathBuf::from))
    }

    /// [`AuthFile::discover`] with an injectable environment, for tests.
    pub fn discover_with(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<PathBuf>,
    ) -> Result<Option<Self>, Error> {
        if let Some(path) = explicit {
            return Self::load(path).map(Some);
        }
        for candidate in candidate_paths(env) {
            if candidate.is_file() {
                return Self::load(&candidate).map(Some);
            }
        }
        Ok(None)
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys present (normalized), for reports.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The credential for `repository` on `registry` (`host[:port]`): the most specific key of
    /// `registry/ns/repo`, `registry/ns`, `registry` wins.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<FoundCredential> {
        let host = normalize_key(registry);
        let mut candidates = Vec::new();
        let parts: Vec<&str> = repository.split('/').filter(|p| !p.is_empty()).collect();
        for n in (1..=parts.len()).rev() {
            candidates.push(format!("{host}/{}", parts[..n].join("/")));
        }
        candidates.push(host);
        for key in candidates {
            if let Some(cred) = self.entries.get(&key) {
                return Some(FoundCredential {
                    credential: cred.clone(),
                    key,
                    file: self.path.clone(),
                });
            }
        }
        None
    }
}

fn candidate_paths(env: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        out.push(p);
    }
    if let Some(p) = env("XDG_RUNTIME_DIR") {
        out.push(p.join("containers/auth.json"));
    }
    let home = env("HOME");
    match (env("XDG_CONFIG_HOME"), &home) {
        (Some(p), _) => out.push(p.join("containers/auth.json")),
        (None, Some(h)) => out.push(h.join(".config/containers/auth.json")),
        _ => {}
    }
    match (env("DOCKER_CONFIG"), &home) {
        (Some(p), _) => out.push(p.join("config.json")),
        (None, Some(h)) => out.push(h.join(".docker/config.json")),
        _ => {}
    }
    out
}

/// Normalizes an auth key: strips a scheme and a trailing `/v1/`-style path on bare hosts,
/// lowercases the host, and maps Docker Hub aliases to `docker.io`.
pub(crate) fn normalize_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let k = k.trim_end_matches('/');
    let (host, rest) = match k.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (k, None),
    };
    let host = host.to_ascii_lowercase();
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => host,
    };
    match rest {
        // `https://index.docker.io/v1/` style keys name the whole registry.
        Some(r) if r == "v1" || r == "v2" => host,
        Some(r) => format!("{host}/{r}"),
        None => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn lookup_most_specific_wins() {
        let text = format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}},"quay.io/org":{{"auth":"{}"}},"https://index.docker.io/v1/":{{"auth":"{}"}},"Mirror.Example:5000":{{"auth":"{}","email":"a@b"}}}}}}"#,
            b64("host:h"),
            b64("org:o"),
            b64("hub:x"),
            b64("m:p:with:colons")
        );
        let f = AuthFile::parse(&text, Path::new("ps.json")).unwrap();
        let table = [
            ("quay.io", "org/repo", "org", "quay.io/org"),
            ("quay.io", "other/repo", "host", "quay.io"),
            ("docker.io", "library/busybox", "hub", "docker.io"),
            (
                "mirror.example:5000",
                "ocp4/openshift4",
                "m",
                "mirror.example:5000",
            ),
        ];
        for (reg, repo, user, key) in table {
            let found = f.lookup(reg, repo).unwrap();
            assert_eq!(
                (found.credential.username.as_str(), found.key.as_str()),
                (user, key),
                "{reg}/{repo}"
            );
        }
        assert_eq!(
            f.lookup("mirror.example:5000", "x")
                .unwrap()
                .credential
                .password,
            "p:with:colons"
        );
        assert!(f.lookup("registry.redhat.io", "x").is_none());
    }

    #[test]
    fn malformed_files_name_the_entry_not_the_secret() {
        let secret = "c2VjcmV0"; // "secret": no colon
        let table = [
            ("{", "auth file `ps.json`: not valid JSON: line 1 column 1"),
            ("{}", "auth file `ps.json`: no `auths` object"),
            (
                r#"{"auths":[]}"#,
                "auth file `ps.json`: `auths` is not an object",
            ),
            (
                r#"{"auths":{"a.io":{}}}"#,
                "auth file `ps.json`: entry `a.io` has no `auth` value",
            ),
            (
                r#"{"auths":{"a.io":{"auth":"%%%"}}}"#,
                "auth file `ps.json`: entry `a.io`: `auth` is not valid base64",
            ),
        ];
        for (text, want) in table {
            assert_eq!(
                AuthFile::parse(text, Path::new("ps.json"))
                    .unwrap_err()
                    .to_string(),
                want
            );
        }
        let text = format!(r#"{{"auths":{{"a.io":{{"auth":"{secret}"}}}}}}"#);
        let err = AuthFile::parse(&text, Path::new("ps.json"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "auth file `ps.json`: entry `a.io`: `auth` does not decode to `user:password` (no `:`)"
        );
        assert!(!err.contains(secret));
    }

    #[test]
    fn debug_is_redacted() {
        let c = Credential {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert_eq!(format!("{c:?}"), "Credential(<redacted>)");
        assert_eq!(Credential::from_auth_value(&c.to_auth_value()).unwrap(), c);
    }

    #[test]
    fn discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = dir.path().join("run");
        std::fs::create_dir_all(xdg.join("containers")).unwrap();
        let docker = dir.path().join("home/.docker");
        std::fs::create_dir_all(&docker).unwrap();
        let body = |u: &str| {
            format!(
                r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#,
                b64(&format!("{u}:p"))
            )
        };
        std::fs::write(docker.join("config.json"), body("docker")).unwrap();
        let home = dir.path().join("home");
        let env_home = |k: &str| (k == "HOME").then(|| home.clone());
        let f = AuthFile::discover_with(None, &env_home).unwrap().unwrap();
        assert_eq!(f.lookup("r.io", "x").unwrap().credential.username, "docker");
        std::fs::write(xdg.join("containers/auth.json"), body("xdg")).unwrap();
        let env_both = |k: &str| match k {
            "HOME" => Some(home.clone()),
            "XDG_RUNTIME_DIR" => Some(xdg.clone()),
            _ => None,
        };
        let f = AuthFile::discover_with(None, &env_both).unwrap().unwrap();
        assert_eq!(f.lookup("r.io", "x").unwrap().credential.username, "xdg");
        let missing = dir.path().join("nope.json");
        assert!(matches!(
            AuthFile::discover_with(Some(&missing), &env_both),
            Err(Error::Io { .. })
        ));
        assert!(AuthFile::discover_with(None, &|_| None).unwrap().is_none());
    }
}
