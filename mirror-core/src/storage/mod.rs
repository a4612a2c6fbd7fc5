//! Where the registry keeps its content: a directory on this host (the default, what
//! `createMirrorRegistry.sh` did), or an S3 bucket that any number of registry replicas share.
//!
//! [`StorageSettings`] is what `registry up`, `preflight` and `install` are given;
//! [`check_s3`] proves a bucket usable (it answers, the key works, a small object can be
//! written and removed) before anything is started; [`ensure_http_secret`] makes the secret
//! replicas must share.

mod credentials;
mod s3;
mod secret;
mod settings;

use std::path::{Path, PathBuf};

pub(crate) use credentials::FORMATS as CREDENTIAL_FORMATS;
pub use credentials::S3Credentials;
pub(crate) use s3::check_s3_blocking;
pub use s3::{S3CheckReport, check_s3};
pub use secret::{SecretAction, ensure_http_secret, read_http_secret};
pub(crate) use settings::{Layer, resolve_layers};

use crate::error::Error;
use crate::hint::Hint;

/// The region used when none is given: what S3-compatible stores (Ceph RGW, MinIO, NooBaa)
/// accept, and AWS's default.
pub const DEFAULT_S3_REGION: &str = "us-east-1";

/// Where the registry stores blobs and manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StorageSettings {
    /// `<root>/data` on this host.
    #[default]
    Filesystem,
    /// An S3 bucket (AWS S3, Ceph RGW, ODF/NooBaa, MinIO, ...).
    S3(Box<S3Storage>),
}

impl StorageSettings {
    /// The S3 settings, when the storage is S3.
    pub fn s3(&self) -> Option<&S3Storage> {
        match self {
            StorageSettings::Filesystem => None,
            StorageSettings::S3(s) => Some(s.as_ref()),
        }
    }

    /// One line for humans: `filesystem` or `s3 bucket `b` at https://... (root /mirror)`.
    pub fn describe(&self) -> String {
        match self {
            StorageSettings::Filesystem => "filesystem".into(),
            StorageSettings::S3(s) => s.describe(),
        }
    }
}

/// An S3 bucket for the registry, validated by [`S3Storage::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Storage {
    /// The endpoint: `https://host[:port]` (or `http://` for a plain-HTTP store).
    pub endpoint: url::Url,
    /// The bucket; it must exist.
    pub bucket: String,
    /// The region requests are signed for. Default [`DEFAULT_S3_REGION`].
    pub region: String,
    /// A prefix for every key, `/a/b` (the registry's `rootdirectory`); `None`: the bucket's
    /// root.
    pub root_directory: Option<String>,
    /// The access key.
    pub credentials: S3Credentials,
    /// Blob downloads answer with a redirect to a presigned URL on the store (the default:
    /// clients then fetch from the store directly); `false`: the registry proxies the bytes.
    pub redirect: bool,
}

impl S3Storage {
    /// Validates the settings and reads the credentials file. Errors name the input.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: Option<&str>,
        root_directory: Option<&str>,
        credentials_file: &Path,
        redirect: bool,
    ) -> Result<Self, Error> {
        Ok(S3Storage {
            endpoint: parse_endpoint(endpoint)?,
            bucket: check_bucket_name(bucket)?,
            region: parse_region(region)?,
            root_directory: root_directory.map(normalize_root).transpose()?.flatten(),
            credentials: S3Credentials::load(credentials_file)?,
            redirect,
        })
    }

    /// The endpoint without a trailing `/`, as the registry's `regionendpoint` takes it.
    pub fn endpoint_str(&self) -> String {
        self.endpoint.as_str().trim_end_matches('/').to_string()
    }

    /// Whether the endpoint is HTTPS (the registry's `secure`).
    pub fn secure(&self) -> bool {
        self.endpoint.scheme() == "https"
    }

    /// The key prefix objects live under: `a/b/` for root `/a/b`, empty for the bucket root.
    pub(crate) fn key_prefix(&self) -> String {
        match &self.root_directory {
            Some(r) => format!("{}/", r.trim_start_matches('/')),
            None => String::new(),
        }
    }

    /// One line for humans.
    pub fn describe(&self) -> String {
        format!(
            "s3 bucket `{}` at {} (region {}, root {}, {})",
            self.bucket,
            self.endpoint_str(),
            self.region,
            self.root_directory.as_deref().unwrap_or("/"),
            if self.redirect {
                "blob downloads redirected to the store"
            } else {
                "blob downloads proxied by the registry"
            }
        )
    }
}

fn invalid(name: &str, reason: String) -> Error {
    Error::InvalidSetting {
        name: name.into(),
        reason,
    }
}

/// The region requests are signed for: [`DEFAULT_S3_REGION`] when none is given.
fn parse_region(region: Option<&str>) -> Result<String, Error> {
    let region = region.map(str::trim).unwrap_or(DEFAULT_S3_REGION);
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(
            "s3 region",
            format!(
                "`{region}` is not a region name (lowercase letters, digits and `-`, e.g. `us-east-1`)"
            ),
        ));
    }
    Ok(region.to_string())
}

fn parse_endpoint(text: &str) -> Result<url::Url, Error> {
    let bad = |why: &str| {
        invalid(
            "s3 endpoint",
            format!(
                "`{text}` {why}; give the store's URL, e.g. `https://s3.example.com` or `http://127.0.0.1:9000`"
            ),
        )
    };
    let url = url::Url::parse(text.trim()).map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("names no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "has a path or query: the bucket is given on its own, not in the URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "holds credentials: they go in the credentials file, never in a URL",
        ));
    }
    Ok(url)
}

/// S3's bucket naming rules: 3 to 63 characters, lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit.
fn check_bucket_name(name: &str) -> Result<String, Error> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=63).contains(&name.len())
        && name.chars().all(ok_char)
        && edge(name.chars().next())
        && edge(name.chars().last())
        && !name.contains("..")
    {
        return Ok(name.to_string());
    }
    Err(invalid(
        "s3 bucket",
        format!(
            "`{name}` is not a bucket name (3 to 63 lowercase letters, digits, `.` or `-`, starting and ending with a letter or digit)"
        ),
    ))
}

/// `a/b/`, `/a//b` -> `Some("/a/b")`; `/` or empty -> `None`; `..` refused.
fn normalize_root(text: &str) -> Result<Option<String>, Error> {
    let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(invalid(
            "s3 root",
            format!("`{text}` holds `.` or `..`: give a plain prefix such as `/mirror`"),
        ));
    }
    if parts.iter().any(|p| p.chars().any(char::is_control)) {
        return Err(invalid(
            "s3 root",
            format!("`{}` holds control characters", text.escape_debug()),
        ));
    }
    Ok((!parts.is_empty()).then(|| format!("/{}", parts.join("/"))))
}

/// The hint for an object store's answer (see [`Error::ObjectStorage`]).
pub(crate) fn hint_for(
    status: Option<u16>,
    code: Option<&str>,
    endpoint: &str,
    bucket: &str,
    credentials: &Path,
) -> Hint {
    let creds = || Hint::StorageCredentials {
        file: credentials.to_path_buf(),
    };
    match (status, code) {
        (None, _) => Hint::StorageEndpoint {
            endpoint: endpoint.to_string(),
        },
        (_, Some("NoSuchBucket")) => Hint::CreateBucket {
            bucket: bucket.to_string(),
        },
        (
            _,
            Some(
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidClientTokenId"
                | "InvalidToken"
                | "ExpiredToken",
            ),
        ) => creds(),
        (
            _,
            Some(
                "AuthorizationHeaderMalformed"
                | "PermanentRedirect"
                | "IllegalLocationConstraintException",
            ),
        )
        | (Some(301), _) => Hint::StorageRegion,
        (_, Some("AccessDenied" | "AllAccessDisabled")) => Hint::StoragePermissions {
            bucket: bucket.to_string(),
        },
        (Some(404), None) => Hint::CreateBucket {
            bucket: bucket.to_string(),
        },
        (Some(401 | 403), None) => creds(),
        (Some(s), _) if s >= 500 => Hint::StorageEndpoint {
            endpoint: endpoint.to_string(),
        },
        _ => creds(),
    }
}

/// Where the secret replicas share lives unless another file is given: beside htpasswd, which
/// replicas share too (`<root>/auth/http-secret`).
pub fn default_http_secret_file(root: &Path) -> PathBuf {
    root.join("auth").join("http-secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated_naming_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds");
        std::fs::write(&creds, "AKIA\nsecret\n").unwrap();
        let s = S3Storage::new(
            "http://127.0.0.1:9000",
            "mirror",
            None,
            Some("mirror//x/"),
            &creds,
            true,
        )
        .unwrap();
        assert_eq!(
            (
                s.endpoint_str(),
                s.region.as_str(),
                s.root_directory.as_deref(),
                s.secure(),
                s.key_prefix()
            ),
            (
                "http://127.0.0.1:9000".to_string(),
                "us-east-1",
                Some("/mirror/x"),
                false,
                "mirror/x/".to_string()
            )
        );
        let s = S3Storage::new(
            "https://s3.example.com/",
            "a.b-c",
            Some("eu-west-1"),
            Some("/"),
            &creds,
            false,
        )
        .unwrap();
        assert_eq!(
            (s.root_directory.clone(), s.secure(), s.key_prefix()),
            (None, true, String::new())
        );
        let cases = [
            (
                "ftp://x",
                "mirror",
                None,
                None,
                "invalid setting `s3 endpoint`: `ftp://x` is not http:// or https://",
            ),
            (
                "s3.example.com",
                "mirror",
                None,
                None,
                "invalid setting `s3 endpoint`: `s3.example.com` is not a URL",
            ),
            (
                "https://h/mirror",
                "mirror",
                None,
                None,
                "has a path or query",
            ),
            ("https://k:s@h", "mirror", None, None, "holds credentials"),
            (
                "https://h",
                "My_Bucket",
                None,
                None,
                "invalid setting `s3 bucket`: `My_Bucket` is not a bucket name",
            ),
            ("https://h", "ab", None, None, "`ab` is not a bucket name"),
            (
                "https://h",
                "mirror",
                Some("US East"),
                None,
                "invalid setting `s3 region`: `US East` is not a region name",
            ),
            (
                "https://h",
                "mirror",
                None,
                Some("/a/../b"),
                "invalid setting `s3 root`: `/a/../b` holds `.` or `..`",
            ),
        ];
        for (endpoint, bucket, region, root, want) in cases {
            let err = S3Storage::new(endpoint, bucket, region, root, &creds, true)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{endpoint} {bucket}: {err}");
        }
        let err = S3Storage::new(
            "https://h",
            "mirror",
            None,
            None,
            &dir.path().join("nope"),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("read S3 credentials file `"), "{err}");
    }

    #[test]
    fn hints_follow_the_store_answer() {
        let h =
            |status, code| hint_for(status, code, "https://s3", "b", Path::new("/c")).to_string();
        assert!(h(None, None).starts_with("check the endpoint URL `https://s3`"));
        assert!(h(Some(404), Some("NoSuchBucket")).starts_with("create the bucket `b` first"));
        assert!(
            h(Some(403), Some("InvalidAccessKeyId")).starts_with("check the access key in `/c`")
        );
        assert!(h(Some(403), Some("SignatureDoesNotMatch")).starts_with("check the access key"));
        assert!(h(Some(403), None).starts_with("check the access key"));
        assert!(
            h(Some(403), Some("AccessDenied"))
                .starts_with("the key is valid but may not use bucket `b`")
        );
        assert!(
            h(Some(400), Some("AuthorizationHeaderMalformed"))
                .starts_with("the bucket is in another region")
        );
        assert!(h(Some(503), None).starts_with("check the endpoint URL"));
    }
}
