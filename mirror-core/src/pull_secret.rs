//! The Red Hat pull secret: validating it, adding the mirror's entry, checking logins.
//!
//! A pull secret is `{"auths": {"<host[:port]>": {"auth": "<base64 user:password>", "email":
//! "..."}}}`, the JSON string install-config's `pullSecret` takes. Editing keeps every other
//! entry, every unknown field and the order of keys as they were (serde_json's
//! `preserve_order`); messages name entries by key and never quote a value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::{AuthFile, Credential};
use crate::error::Error;
use crate::reference::Repository;
use crate::registry::{ClientOptions, RegistryClient, RetryPolicy};
use mirror_tls::fsutil::{SECRET_MODE, read_optional, tighten_mode, write_atomic};

/// Where the Red Hat pull secret comes from: the hint when it is missing.
pub(crate) const GET_PULL_SECRET: &str = "download your pull secret from console.redhat.com/openshift/install/pull-secret and use that file";

/// Something worth telling the user that does not stop the command: what, naming the file,
/// and the likely fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What is wrong, naming the file.
    pub message: String,
    /// The likely fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A validated pull secret. `Debug` shows only the entry keys.
#[derive(Clone, PartialEq)]
pub struct PullSecret {
    root: Map<String, Value>,
    path: PathBuf,
}

impl fmt::Debug for PullSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullSecret")
            .field("path", &self.path)
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One entry of a pull secret, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullSecretEntry {
    /// The key, e.g. `quay.io` or `mirror.example.com:5000`.
    pub key: String,
    /// The user name the `auth` value holds; `None` for a `credsStore` entry.
    pub username: Option<String>,
    /// The `email` field, when present.
    pub email: Option<String>,
}

/// What [`PullSecret::set`] did to the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryAction {
    /// There was no entry for the registry: one was added at the end.
    Added,
    /// The entry held other credentials or another email: they were replaced in place.
    Replaced,
    /// The entry already held these credentials and email.
    Unchanged,
}

impl PullSecret {
    /// Reads and validates a pull secret file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("read pull secret", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses and validates pull secret text; `path` is only used in messages.
    ///
    /// The text must be a JSON object with an `auths` object; every entry must be an object
    /// with an `auth` string that is base64 of `user:password` (or a `credsStore`). Errors name
    /// the entry's key and never its value.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let bad = |reason: String| Error::AuthFile {
            path: path.to_path_buf(),
            reason,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "not valid JSON: line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(root) = value else {
            return Err(bad("not a JSON object".into()));
        };
        let auths = match root.get("auths") {
            Some(Value::Object(map)) => map,
            Some(_) => return Err(bad("`auths` is not an object".into())),
            None => return Err(bad("no `auths` object".into())),
        };
        for (key, entry) in auths {
            entry_facts(key, entry).map_err(bad)?;
        }
        Ok(Self {
            root,
            path: path.to_path_buf(),
        })
    }

    /// The file this was read from (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn auths(&self) -> &Map<String, Value> {
        match self.root.get("auths") {
            Some(Value::Object(m)) => m,
            _ => unreachable!("validated by parse"),
        }
    }

    /// The entry keys, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.auths().keys().map(String::as_str)
    }

    /// The entries, in file order, without their secrets.
    pub fn entries(&self) -> Vec<PullSecretEntry> {
        self.auths()
            .iter()
            .filter_map(|(k, v)| entry_facts(k, v).ok())
            .collect()
    }

    /// Why this cannot be the user's Red Hat pull secret: it has no entries at all
    /// (`{"auths":{}}`), or none but `mirror`'s (the mirror's own `host:port`, as a merged
    /// output has). `None` when it holds other registries' entries.
    pub fn missing_red_hat_entries(&self, mirror: Option<&str>) -> Option<Warning> {
        let mirror = mirror.map(crate::auth::normalize_key);
        let others = self
            .keys()
            .filter(|k| mirror.as_deref() != Some(crate::auth::normalize_key(k).as_str()))
            .count();
        if others > 0 {
            return None;
        }
        let path = self.path.display();
        let message = if self.keys().next().is_none() {
            format!("pull secret `{path}` has no entries: the Red Hat pull secret is missing")
        } else {
            format!(
                "pull secret `{path}` has no entry but the mirror's: the Red Hat pull secret is missing"
            )
        };
        Some(Warning {
            message,
            hint: Some(GET_PULL_SECRET.to_string()),
        })
    }

    /// The credential of the entry `key`, when it has an `auth` value.
    pub fn credential(&self, key: &str) -> Option<Credential> {
        let auth = self.auths().get(key)?.get("auth")?.as_str()?;
        Credential::from_auth_value(auth).ok()
    }

    /// Sets the entry `registry` (`host[:port]`) to `credential` and, when given, `email`.
    ///
    /// An existing entry keeps its position and its other fields; a new one is appended.
    pub fn set(
        &mut self,
        registry: &str,
        credential: &Credential,
        email: Option<&str>,
    ) -> Result<EntryAction, Error> {
        validate_registry_key(registry)?;
        validate_credential(credential)?;
        let auth = credential.to_auth_value();
        let Some(Value::Object(auths)) = self.root.get_mut("auths") else {
            unreachable!("validated by parse");
        };
        let Some(Value::Object(entry)) = auths.get_mut(registry) else {
            let mut entry = Map::new();
            entry.insert("auth".into(), Value::String(auth));
            if let Some(email) = email {
                entry.insert("email".into(), Value::String(email.to_string()));
            }
            auths.insert(registry.to_string(), Value::Object(entry));
            return Ok(EntryAction::Added);
        };
        let same_auth = entry
            .get("auth")
            .and_then(Value::as_str)
            .and_then(|a| Credential::from_auth_value(a).ok())
            .is_some_and(|c| c == *credential);
        let same_email =
            email.is_none_or(|e| entry.get("email").and_then(Value::as_str) == Some(e));
        if same_auth && same_email {
            return Ok(EntryAction::Unchanged);
        }
        if !same_auth {
            entry.insert("auth".into(), Value::String(auth));
        }
        if let Some(email) = email {
            entry.insert("email".into(), Value::String(email.to_string()));
        }
        Ok(EntryAction::Replaced)
    }

    /// The JSON text: one line (what install-config's `pullSecret` takes) or indented, with a
    /// final newline.
    pub fn to_json(&self, pretty: bool) -> String {
        let mut s = if pretty {
            serde_json::to_string_pretty(&self.root)
        } else {
            serde_json::to_string(&self.root)
        }
        .unwrap_or_default();
        s.push('\n');
        s
    }

    /// The pull secret as an [`AuthFile`] (credentials for a [`RegistryClient`]).
    pub fn to_auth_file(&self) -> Result<AuthFile, Error> {
        AuthFile::parse(&self.to_json(false), &self.path)
    }
}

/// What is in an entry, or why it is malformed (naming the key, never the value).
fn entry_facts(key: &str, entry: &Value) -> Result<PullSecretEntry, String> {
    let obj = entry
        .as_object()
        .ok_or_else(|| format!("entry `{key}` is not an object"))?;
    let email = match obj.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(format!("entry `{key}`: `email` is not a string")),
    };
    let username = match obj.get("auth") {
        Some(Value::String(a)) if !a.is_empty() => Some(
            Credential::from_auth_value(a)
                .map_err(|why| format!("entry `{key}`: {why}"))?
                .username,
        ),
        Some(Value::String(_)) => return Err(format!("entry `{key}`: `auth` is empty")),
        Some(_) => return Err(format!("entry `{key}`: `auth` is not a string")),
        None if obj.contains_key("credsStore") => None,
        None => return Err(format!("entry `{key}` has no `auth` value")),
    };
    Ok(PullSecretEntry {
        key: key.to_string(),
        username,
        email,
    })
}

/// Checks a pull secret key for the mirror: `host[:port]`, no scheme, path or whitespace.
pub fn validate_registry_key(registry: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::InvalidSetting {
        name: "registry".into(),
        reason: format!("`{registry}`: {reason}"),
    };
    if registry.is_empty() {
        return Err(bad("expected `host:port`"));
    }
    if registry.contains("://") {
        return Err(bad("expected `host:port` without a scheme"));
    }
    if registry.contains('/') {
        return Err(bad("expected `host:port` without a path"));
    }
    if registry
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("contains whitespace"));
    }
    if let Some((_, port)) = registry.rsplit_once(':')
        && !registry.ends_with(']')
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(bad("the port is not a number from 1 to 65535"));
    }
    Ok(())
}

fn validate_credential(credential: &Credential) -> Result<(), Error> {
    let bad = |name: &str, reason: &str| Error::InvalidSetting {
        name: name.into(),
        reason: reason.into(),
    };
    if credential.username.is_empty() {
        return Err(bad("username", "the user name is empty"));
    }
    if credential.username.contains(':') {
        return Err(bad(
            "username",
            "the user name contains `:`, which separates it from the password in `auth`",
        ));
    }
    if credential.password.is_empty() {
        return Err(bad("password", "the password is empty"));
    }
    Ok(())
}

/// What to merge where, for [`merge_pull_secret`].
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// The pull secret to read (never modified).
    pub input: PathBuf,
    /// Where to write the result (0600, atomically).
    pub output: PathBuf,
    /// The mirror, `host:port`: the entry's key.
    pub registry: String,
    /// The mirror's user and password.
    pub credential: Credential,
    /// The entry's `email`. Default: none (an existing entry keeps its email).
    pub email: Option<String>,
    /// Indented JSON instead of one line. Default: false.
    pub pretty: bool,
    /// Overwrite an existing output with other content. Default: false.
    pub force: bool,
}

/// What happened to the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputAction {
    /// The output did not exist: it was written.
    Written,
    /// The output held other content and `force` was given: it was replaced.
    Overwritten,
    /// The output already held exactly this content: it was not rewritten.
    Unchanged,
}

/// The result of [`merge_pull_secret`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MergeReport {
    /// What happened to the mirror's entry.
    pub entry: EntryAction,
    /// What happened to the output file.
    pub output: OutputAction,
    /// The output file.
    pub path: PathBuf,
    /// The keys of the result, in order.
    pub keys: Vec<String>,
    /// What is wrong with the input that did not stop the merge: no Red Hat entries.
    pub warnings: Vec<Warning>,
}

/// Reads `opts.input`, sets the `opts.registry` entry, and writes `opts.output`: atomically,
/// mode 0600. The input is never modified (an output naming the input is refused); an output
/// with other content is refused without `opts.force`; identical content is left alone.
///
/// ```no_run
/// # fn demo() -> Result<(), mirror_core::Error> {
/// use mirror_core::{auth::{Credential}, pull_secret::{MergeOptions}};
/// let report = mirror_core::merge_pull_secret(&MergeOptions {
///     input: "pull-secret".into(),
///     output: "pull-secret.json".into(),
///     registry: "mirror.example.com:5000".into(),
///     credential: Credential { username: "mirror".into(), password: "s3cret".into() },
///     email: Some("admin@example.com".into()),
///     pretty: false,
///     force: false,
/// })?;
/// println!("{:?}", report.keys);
/// # Ok(()) }
/// ```
pub fn merge_pull_secret(opts: &MergeOptions) -> Result<MergeReport, Error> {
    if same_file(&opts.input, &opts.output) {
        return Err(Error::InvalidSetting {
            name: "output".into(),
            reason: format!(
                "`{}` is the input pull secret, which is never modified: choose another file",
                opts.output.display()
            ),
        });
    }
    let mut secret = PullSecret::load(&opts.input)?;
    let warnings = secret
        .missing_red_hat_entries(Some(&opts.registry))
        .into_iter()
        .collect();
    let entry = secret.set(&opts.registry, &opts.credential, opts.email.as_deref())?;
    let text = secret.to_json(opts.pretty);
    let output = match read_optional(&opts.output)? {
        Some(old) if old == text.as_bytes() => {
            tighten_mode(&opts.output, SECRET_MODE)?;
            OutputAction::Unchanged
        }
        Some(_) if !opts.force => {
            return Err(Error::WouldOverwrite {
                path: opts.output.clone(),
            });
        }
        Some(_) => OutputAction::Overwritten,
        None => OutputAction::Written,
    };
    if output != OutputAction::Unchanged {
        write_atomic(&opts.output, text.as_bytes(), SECRET_MODE)?;
    }
    Ok(MergeReport {
        entry,
        output,
        path: opts.output.clone(),
        keys: secret.keys().map(str::to_string).collect(),
        warnings,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The outcome of trying one entry's credentials, from [`check_logins`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginCheck {
    /// The entry's key.
    pub key: String,
    /// Whether `/v2/` accepted the credentials.
    pub ok: bool,
    /// `logged in`, or the error (which never holds the secret).
    pub detail: String,
    /// The likely fix, when it failed.
    pub hint: Option<String>,
}

/// Tries each entry's credentials against its registry's `/v2/` (a token exchange where the
/// registry wants one), in file order. `ca_pems` are extra CAs to trust (the mirror's);
/// `insecure` registries are reached over plain HTTP. Entries without `auth` are skipped.
pub async fn check_logins(
    secret: &PullSecret,
    ca_pems: Vec<Vec<u8>>,
    insecure: Vec<String>,
) -> Result<Vec<LoginCheck>, Error> {
    let client = RegistryClient::new(ClientOptions {
        auth: Some(secret.to_auth_file()?),
        ca_pems,
        insecure_registries: insecure,
        retry: RetryPolicy {
            max_tries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    })?;
    let mut out = Vec::new();
    for entry in secret.entries() {
        if entry.username.is_none() {
            continue;
        }
        let key = entry.key;
        let bare = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let (registry, path) = match bare.split_once('/') {
            Some((host, ns)) if !ns.trim_matches('/').is_empty() && ns != "v1/" => {
                (host.to_string(), ns.trim_matches('/').to_string())
            }
            Some((host, _)) => (host.to_string(), "mirrorctl/login-check".to_string()),
            None => (bare.to_string(), "mirrorctl/login-check".to_string()),
        };
        let repo = Repository { registry, path };
        let check = match client.ping(&repo).await {
            Ok(()) => LoginCheck {
                key,
                ok: true,
                detail: "logged in".into(),
                hint: None,
            },
            Err(e) => LoginCheck {
                key,
                ok: false,
                detail: crate::error::ErrorChain(&e).to_string(),
                hint: e.hint().map(String::from),
            },
        };
        out.push(check);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_secret_without_red_hat_entries_is_named() {
        let mirror = "mirror.example.com:5000";
        let cases = [
            (
                r#"{"auths":{}}"#,
                Some("pull secret `/ps` has no entries: the Red Hat pull secret is missing"),
            ),
            (
                r#"{"auths":{"mirror.example.com:5000":{"auth":"dTpw"}}}"#,
                Some(
                    "pull secret `/ps` has no entry but the mirror's: the Red Hat pull secret is missing",
                ),
            ),
            (
                r#"{"auths":{"https://Mirror.example.com:5000/":{"auth":"dTpw"}}}"#,
                Some(
                    "pull secret `/ps` has no entry but the mirror's: the Red Hat pull secret is missing",
                ),
            ),
            (r#"{"auths":{"quay.io":{"auth":"dTpw"}}}"#, None),
            (
                r#"{"auths":{"quay.io":{"auth":"dTpw"},"mirror.example.com:5000":{"auth":"dTpw"}}}"#,
                None,
            ),
        ];
        for (text, want) in cases {
            let ps = PullSecret::parse(text, Path::new("/ps")).unwrap();
            let got = ps.missing_red_hat_entries(Some(mirror));
            assert_eq!(got.as_ref().map(|w| w.message.as_str()), want, "{text}");
            if let Some(w) = got {
                assert_eq!(w.hint.as_deref(), Some(GET_PULL_SECRET));
            }
        }
    }

    fn cred(u: &str, p: &str) -> Credential {
        Credential {
            username: u.into(),
            password: p.into(),
        }
    }

    const REDHAT: &str = r#"{"auths":{"cloud.openshift.com":{"auth":"b3BlbnNoaWZ0LXJlbGVhc2UtZGV2K29jbTpTRUNSRVQ=","email":"me@example.com"},"quay.io":{"auth":"b3BlbnNoaWZ0LXJlbGVhc2UtZGV2K29jbTpTRUNSRVQ=","email":"me@example.com","x-extra":1}},"other":{"kept":[1,2.5,"x"]}}"#;

    #[test]
    fn adds_an_entry_at_the_end_and_keeps_everything_else() {
        let mut s = PullSecret::parse(REDHAT, Path::new("ps")).unwrap();
        let action = s
            .set(
                "mirror.example.com:5000",
                &cred("admin", "pw"),
                Some("admin@example.com"),
            )
            .unwrap();
        assert_eq!(action, EntryAction::Added);
        assert_eq!(
            s.to_json(false),
            r#"{"auths":{"cloud.openshift.com":{"auth":"b3BlbnNoaWZ0LXJlbGVhc2UtZGV2K29jbTpTRUNSRVQ=","email":"me@example.com"},"quay.io":{"auth":"b3BlbnNoaWZ0LXJlbGVhc2UtZGV2K29jbTpTRUNSRVQ=","email":"me@example.com","x-extra":1},"mirror.example.com:5000":{"auth":"YWRtaW46cHc=","email":"admin@example.com"}},"other":{"kept":[1,2.5,"x"]}}"#
                .to_string()
                + "\n"
        );
    }

    #[test]
    fn replaces_in_place_and_knows_when_nothing_changes() {
        let mut s = PullSecret::parse(REDHAT, Path::new("ps")).unwrap();
        assert_eq!(
            s.set("quay.io", &cred("u", "p"), None).unwrap(),
            EntryAction::Replaced
        );
        assert_eq!(
            s.set("quay.io", &cred("u", "p"), None).unwrap(),
            EntryAction::Unchanged
        );
        assert_eq!(
            s.set("quay.io", &cred("u", "p"), Some("me@example.com"))
                .unwrap(),
            EntryAction::Unchanged
        );
        assert_eq!(
            s.set("quay.io", &cred("u", "p"), Some("new@example.com"))
                .unwrap(),
            EntryAction::Replaced
        );
        assert_eq!(
            s.keys().collect::<Vec<_>>(),
            ["cloud.openshift.com", "quay.io"]
        );
        let json: Value = serde_json::from_str(&s.to_json(true)).unwrap();
        assert_eq!(
            json["auths"]["quay.io"],
            serde_json::json!({"auth": "dTpw", "email": "new@example.com", "x-extra": 1})
        );
    }

    #[test]
    fn malformed_inputs_name_the_entry_and_never_the_value() {
        let table = [
            ("[]", "not a JSON object"),
            ("{", "not valid JSON: line 1 column 1"),
            (r#"{"x":{}}"#, "no `auths` object"),
            (r#"{"auths":[]}"#, "`auths` is not an object"),
            (
                r#"{"auths":{"a.io":"c2VjcmV0OnB3"}}"#,
                "entry `a.io` is not an object",
            ),
            (
                r#"{"auths":{"a.io":{"auth":"c2VjcmV0OnB3"},"b.io":{"auth":"!!c2VjcmV0!!"}}}"#,
                "entry `b.io`: `auth` is not valid base64",
            ),
            (
                r#"{"auths":{"b.io":{"auth":"c2VjcmV0cGFzcw=="}}}"#,
                "entry `b.io`: `auth` does not decode to `user:password` (no `:`)",
            ),
            (
                r#"{"auths":{"b.io":{"email":"x"}}}"#,
                "entry `b.io` has no `auth` value",
            ),
            (
                r#"{"auths":{"b.io":{"auth":""}}}"#,
                "entry `b.io`: `auth` is empty",
            ),
            (
                r#"{"auths":{"b.io":{"auth":5}}}"#,
                "entry `b.io`: `auth` is not a string",
            ),
        ];
        for (text, want) in table {
            let err = PullSecret::parse(text, Path::new("ps")).unwrap_err();
            let msg = err.to_string();
            assert_eq!(msg, format!("auth file `ps`: {want}"), "{text}");
            assert!(!msg.contains("c2VjcmV0"), "{msg}");
        }
    }

    #[test]
    fn creds_store_entries_are_accepted() {
        let s =
            PullSecret::parse(r#"{"auths":{"a.io":{"credsStore":"x"}}}"#, Path::new("p")).unwrap();
        assert_eq!(s.entries()[0].username, None);
    }

    #[test]
    fn refuses_bad_keys_and_credentials() {
        let mut s = PullSecret::parse(REDHAT, Path::new("ps")).unwrap();
        for (reg, c, want) in [
            ("https://m:5000", cred("a", "b"), "without a scheme"),
            ("m:5000/x", cred("a", "b"), "without a path"),
            ("m:http", cred("a", "b"), "port"),
            ("m:5000", cred("a:b", "c"), "contains `:`"),
            ("m:5000", cred("a", ""), "password is empty"),
        ] {
            let err = s.set(reg, &c, None).unwrap_err().to_string();
            assert!(err.contains(want), "{reg}: {err}");
        }
    }

    #[test]
    fn debug_shows_keys_only() {
        let s = PullSecret::parse(REDHAT, Path::new("ps")).unwrap();
        let dbg = format!("{s:?}");
        assert!(dbg.contains("quay.io") && !dbg.contains("b3Blbn"), "{dbg}");
    }

    #[test]
    fn merge_writes_0600_refuses_to_clobber_and_reruns_are_unchanged() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("pull-secret");
        let output = dir.path().join("pull-secret.json");
        std::fs::write(&input, REDHAT).unwrap();
        let opts = MergeOptions {
            input: input.clone(),
            output: output.clone(),
            registry: "m:5000".into(),
            credential: cred("admin", "pw"),
            email: Some("a@example.com".into()),
            pretty: false,
            force: false,
        };
        let r = merge_pull_secret(&opts).unwrap();
        assert_eq!(
            (r.entry, r.output),
            (EntryAction::Added, OutputAction::Written)
        );
        let mode = std::fs::metadata(&output).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&input).unwrap(), REDHAT);
        assert_eq!(
            merge_pull_secret(&opts).unwrap().output,
            OutputAction::Unchanged
        );
        let other = MergeOptions {
            credential: cred("admin", "changed"),
            ..opts.clone()
        };
        let err = merge_pull_secret(&other).unwrap_err();
        assert!(matches!(err, Error::WouldOverwrite { .. }), "{err}");
        let forced = MergeOptions {
            force: true,
            ..other
        };
        assert_eq!(
            merge_pull_secret(&forced).unwrap().output,
            OutputAction::Overwritten
        );
        let same = MergeOptions {
            output: input.clone(),
            force: true,
            ..opts
        };
        assert!(
            merge_pull_secret(&same)
                .unwrap_err()
                .to_string()
                .contains("never modified")
        );
        assert_eq!(std::fs::read_to_string(&input).unwrap(), REDHAT);
    }
}
