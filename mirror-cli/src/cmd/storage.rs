//! `--storage` and the `--s3-*` flags, shared by `registry up`, `preflight` and `install`. Here
//! they are only parsed: mirror-core checks them ([`mirror_core::storage::StorageSettings::from_values`],
//! and `install`'s settings, which merge its config file under them).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mirror_core::{install::S3ConfigFile, storage::StorageSettings};

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

impl StorageArgs {
    /// `--storage` as the settings spell it (`filesystem`, `s3`).
    pub fn kind(&self) -> Option<String> {
        self.storage
            .and_then(|k| k.to_possible_value())
            .map(|v| v.get_name().to_string())
    }

    /// The `--s3-*` flags as the `s3:` section of install's config file; `None` without any.
    pub fn s3_section(&self) -> Option<S3ConfigFile> {
        let s3 = S3ConfigFile {
            endpoint: self.s3_endpoint.clone(),
            bucket: self.s3_bucket.clone(),
            region: self.s3_region.clone(),
            root: self.s3_root.clone(),
            credentials_file: self.s3_credentials_file.clone(),
            redirect: self.s3_no_redirect.then_some(false),
        };
        (s3 != S3ConfigFile::default()).then_some(s3)
    }

    /// The storage these flags ask for, checked by mirror-core (errors name the flags).
    pub fn resolve(&self) -> Result<StorageSettings, mirror_core::Error> {
        StorageSettings::from_values(
            self.kind().as_deref(),
            &self.s3_section().unwrap_or_default(),
            Some(storage_flag),
        )
    }
}

/// The clap argument id of a settings key: `pullSecret` -> `pull_secret`, `s3.bucket` ->
/// `s3_bucket`; `s3.redirect` is the negative flag `s3_no_redirect`.
pub fn arg_id(key: &str) -> String {
    if key == "s3.redirect" {
        return "s3_no_redirect".into();
    }
    let mut id = String::new();
    for c in key.chars() {
        match c {
            '.' => id.push('_'),
            c if c.is_ascii_uppercase() => {
                id.push('_');
                id.push(c.to_ascii_lowercase());
            }
            c => id.push(c),
        }
    }
    id
}

/// The flag that gives the storage setting `key` (`s3.bucket` -> `--s3-bucket`).
pub fn storage_flag(key: &str) -> Option<String> {
    let cmd = StorageArgs::augment_args(clap::Command::new("storage"));
    let id = arg_id(key);
    let arg = cmd.get_arguments().find(|a| a.get_id() == id.as_str())?;
    arg.get_long().map(|l| format!("--{l}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: StorageArgs) -> Result<StorageSettings, String> {
        args.resolve().map_err(|e| {
            format!(
                "{} | {}",
                mirror_core::ErrorChain(&e),
                e.hint().map(|h| h.to_string()).unwrap_or("-".into())
            )
        })
    }

    /// Every storage setting names its flag, and the flags reach mirror-core's checks.
    #[test]
    fn flags_are_parsed_and_checked_in_mirror_core() {
        let keys: Vec<String> = std::iter::once("storage".to_string())
            .chain(S3ConfigFile::KEYS.iter().map(|k| format!("s3.{k}")))
            .map(|k| storage_flag(&k).unwrap_or_else(|| format!("NONE for {k}")))
            .collect();
        assert_eq!(
            keys,
            [
                "--storage",
                "--s3-endpoint",
                "--s3-bucket",
                "--s3-region",
                "--s3-root",
                "--s3-credentials-file",
                "--s3-no-redirect"
            ]
        );
        assert_eq!(
            run(StorageArgs::default()).unwrap(),
            StorageSettings::Filesystem
        );
        let fs = StorageArgs {
            s3_no_redirect: true,
            ..Default::default()
        };
        assert_eq!(
            run(fs).unwrap_err(),
            "`--s3-no-redirect` needs `--storage s3` | add `--storage s3` to store in a bucket, or leave the s3 settings out to store in <root>/data"
        );
        let s3 = StorageArgs {
            storage: Some(StorageArg::S3),
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_bucket: Some("mirror".into()),
            ..Default::default()
        };
        let err = run(s3.clone()).unwrap_err();
        assert!(
            err.starts_with("missing `--s3-credentials-file` (needed with `--storage s3`) | put the access key in a file (0600), an AWS credentials file"),
            "{err}"
        );
        assert!(
            err.ends_with("give `--s3-credentials-file FILE`; keys are never taken as arguments"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("c");
        std::fs::write(&creds, "AKIA\nsecret\n").unwrap();
        let ok = StorageArgs {
            s3_credentials_file: Some(creds),
            s3_no_redirect: true,
            ..s3
        };
        let got = run(ok).unwrap();
        let s = got.s3().unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.region.as_str(), s.redirect),
            ("mirror", "us-east-1", false)
        );
    }
}
