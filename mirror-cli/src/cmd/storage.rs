//! `--storage` and the `--s3-*` flags, shared by `registry up`, `preflight` and `install`,
//! resolved into [`StorageSettings`] before anything runs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mirror_core::{S3Storage, StorageSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StorageArg {
    /// `<root>/data` on this host
    Filesystem,
    /// An S3 bucket (AWS S3, Ceph RGW, ODF/NooBaa, MinIO) that several replicas can share
    S3,
}

/// Where the registry stores content.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageArgs {
    /// Where the registry stores content: filesystem (<root>/data) or s3 (a bucket replicas can share) [default: filesystem]
    #[arg(long, value_enum, value_name = "KIND")]
    pub storage: Option<StorageArg>,
    /// With --storage s3: the object store's URL, e.g. `https://s3.example.com` or `http://127.0.0.1:9000`
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// With --storage s3: the bucket (it must exist)
    #[arg(long, value_name = "NAME")]
    pub s3_bucket: Option<String>,
    /// With --storage s3: the bucket's region [default: us-east-1]
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// With --storage s3: a key prefix for everything the registry stores, e.g. /mirror [default: the bucket's root]
    #[arg(long, value_name = "PATH")]
    pub s3_root: Option<String>,
    /// With --storage s3: the access key: an AWS credentials file (its `default` profile) or two lines, key ID then secret
    #[arg(long, value_name = "FILE")]
    pub s3_credentials_file: Option<PathBuf>,
    /// With --storage s3: the registry proxies blob downloads instead of redirecting clients to the store
    #[arg(long)]
    pub s3_no_redirect: bool,
}

/// The same settings from install's config file (`storage:` and `s3:`), to merge under the
/// flags.
#[derive(Debug, Clone, Default)]
pub struct StorageFromFile {
    pub storage: Option<String>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub root: Option<String>,
    pub credentials_file: Option<PathBuf>,
    pub redirect: Option<bool>,
}

/// A usage problem: message and hint.
pub type Usage = (String, String);

impl StorageArgs {
    /// The storage these flags ask for.
    pub fn resolve(&self) -> Result<StorageSettings, Usage> {
        self.resolve_with(&StorageFromFile::default())
    }

    /// The storage these flags ask for, each flag over the config file's value.
    pub fn resolve_with(&self, file: &StorageFromFile) -> Result<StorageSettings, Usage> {
        let kind = match (self.storage, file.storage.as_deref()) {
            (Some(k), _) => k,
            (None, None | Some("filesystem")) => StorageArg::Filesystem,
            (None, Some("s3")) => StorageArg::S3,
            (None, Some(other)) => {
                return Err((
                    format!("storage: unknown storage `{other}`"),
                    "use `filesystem` or `s3`".into(),
                ));
            }
        };
        let given: Vec<&str> = [
            ("--s3-endpoint", self.s3_endpoint.is_some()),
            ("--s3-bucket", self.s3_bucket.is_some()),
            ("--s3-region", self.s3_region.is_some()),
            ("--s3-root", self.s3_root.is_some()),
            ("--s3-credentials-file", self.s3_credentials_file.is_some()),
            ("--s3-no-redirect", self.s3_no_redirect),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect();
        if kind == StorageArg::Filesystem {
            if let Some(first) = given.first() {
                return Err((
                    format!("`{first}` needs `--storage s3`"),
                    "add `--storage s3` to store in a bucket, or leave the --s3-* flags out to store in <root>/data".into(),
                ));
            }
            return Ok(StorageSettings::Filesystem);
        }
        let need = |v: Option<String>, flag: &str, key: &str| {
            v.filter(|x| !x.trim().is_empty()).ok_or_else(|| {
                (
                    format!("missing `{flag}` (needed with `--storage s3`)"),
                    format!("give `{flag}`, or `s3: {{{key}: ...}}` in install's config file"),
                )
            })
        };
        let endpoint = need(
            self.s3_endpoint.clone().or(file.endpoint.clone()),
            "--s3-endpoint",
            "endpoint",
        )?;
        let bucket = need(
            self.s3_bucket.clone().or(file.bucket.clone()),
            "--s3-bucket",
            "bucket",
        )?;
        let credentials = self
            .s3_credentials_file
            .clone()
            .or(file.credentials_file.clone())
            .ok_or_else(|| {
                (
                    "missing `--s3-credentials-file` (needed with `--storage s3`)".to_string(),
                    format!(
                        "put the access key in a file (0600) and name it: {}; keys are never taken as arguments",
                        credential_formats()
                    ),
                )
            })?;
        let region = self.s3_region.clone().or(file.region.clone());
        let root = self.s3_root.clone().or(file.root.clone());
        let redirect = !self.s3_no_redirect && file.redirect.unwrap_or(true);
        S3Storage::new(
            &endpoint,
            &bucket,
            region.as_deref(),
            root.as_deref(),
            &credentials,
            redirect,
        )
        .map(|s| StorageSettings::S3(Box::new(s)))
        .map_err(|e| {
            let hint = match &e {
                mirror_core::Error::Io { .. } | mirror_core::Error::StorageCredentials { .. } => {
                    format!("`--s3-credentials-file` holds {}", credential_formats())
                }
                _ => e
                    .hint()
                    .map(|h| crate::hints::render(&h))
                    .unwrap_or_else(|| "see `mirrorctl registry up --help`".into()),
            };
            (e.to_string(), hint)
        })
    }
}

fn credential_formats() -> &'static str {
    "an AWS credentials file (`[default]` with `aws_access_key_id = ...` and `aws_secret_access_key = ...`), or two lines: the access key ID, then the secret"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_flags_need_s3_storage_and_s3_needs_its_flags() {
        let fs = StorageArgs {
            s3_bucket: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(
            fs.resolve().unwrap_err().0,
            "`--s3-bucket` needs `--storage s3`"
        );
        assert_eq!(
            StorageArgs::default().resolve().unwrap(),
            StorageSettings::Filesystem
        );
        let s3 = StorageArgs {
            storage: Some(StorageArg::S3),
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_bucket: Some("mirror".into()),
            ..Default::default()
        };
        let (msg, hint) = s3.resolve().unwrap_err();
        assert_eq!(
            msg,
            "missing `--s3-credentials-file` (needed with `--storage s3`)"
        );
        assert!(hint.contains("two lines"), "{hint}");
        let no_endpoint = StorageArgs {
            s3_endpoint: None,
            ..s3.clone()
        };
        assert_eq!(
            no_endpoint.resolve().unwrap_err().0,
            "missing `--s3-endpoint` (needed with `--storage s3`)"
        );
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("c");
        std::fs::write(&creds, "AKIA\nsecret\n").unwrap();
        let from_file = StorageFromFile {
            storage: Some("s3".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            bucket: Some("mirror".into()),
            credentials_file: Some(creds.clone()),
            redirect: Some(false),
            ..Default::default()
        };
        let got = StorageArgs::default().resolve_with(&from_file).unwrap();
        let s = got.s3().unwrap();
        assert_eq!((s.bucket.as_str(), s.redirect), ("mirror", false));
        let flags = StorageArgs {
            s3_bucket: Some("other".into()),
            ..Default::default()
        };
        assert_eq!(
            flags.resolve_with(&from_file).unwrap().s3().unwrap().bucket,
            "other"
        );
        std::fs::write(&creds, "just-one-line\n").unwrap();
        let (msg, hint) = StorageArgs::default().resolve_with(&from_file).unwrap_err();
        assert!(msg.starts_with("S3 credentials file `"), "{msg}");
        assert!(!msg.contains("just-one-line"), "{msg}");
        assert!(hint.starts_with("`--s3-credentials-file` holds"), "{hint}");
    }
}
