//! The `mirrorctl install` config file (YAML). Every field is optional here and can be
//! given or overridden by a flag: the same struct holds a program's own values, and
//! [`InstallOptions::build`](super::settings::InstallOptions::build) merges both into
//! [`super::InstallSettings`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// `install.yaml`. Field names are camelCase; unknown fields are errors (a typo must not be
/// silently ignored). Passwords are never read from here: use `passwordFile`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallConfigFile {
    /// Email for the pull-secret entry and the certificate's emailAddress.
    pub email: Option<String>,
    /// The registry user to create (the script's `user`).
    pub username: Option<String>,
    /// File holding the registry user's password (0600 recommended).
    pub password_file: Option<PathBuf>,
    /// Red Hat account user: registers a RHEL host whose package install fails for lack of
    /// registration (the script's first argument).
    pub rh_username: Option<String>,
    /// File holding the Red Hat account password (the script's second argument).
    pub rh_password_file: Option<PathBuf>,
    /// OCP version, e.g. `4.14.1` (the release becomes
    /// `quay.io/openshift-release-dev/ocp-release:<version>-<architecture>`).
    pub version: Option<String>,
    /// The release image, instead of `version`.
    pub release: Option<String>,
    /// Release architecture for `version` (default `x86_64`).
    pub architecture: Option<String>,
    /// A bundle written by `release mirror --to-dir` (docs/bundles.md), instead of `version`
    /// or `release`: its releases are published from disk and the source is never contacted.
    pub from_dir: Option<PathBuf>,
    /// The Red Hat pull secret (never modified).
    pub pull_secret: Option<PathBuf>,
    /// The registry's host name (default: this host's FQDN).
    pub hostname: Option<String>,
    /// The registry port (default 5000).
    pub port: Option<u16>,
    /// The address the registry listens on, e.g. `127.0.0.1` (default: every interface).
    pub bind: Option<String>,
    /// Where the registry lives (default `/opt/registry`).
    pub root: Option<PathBuf>,
    /// `podman`, `process` or `auto` (default).
    pub runtime: Option<String>,
    /// The script's `certificate` file (default `./certificate`).
    pub certificate_file: Option<PathBuf>,
    /// Where outputs go (default `./mirror-install`).
    pub output_dir: Option<PathBuf>,
    /// Mirror repository (default `ocp4/openshift4`).
    pub repository: Option<String>,
    /// Extra CA files for the source registry (a pull-through proxy).
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// Source registries reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Steps to skip, e.g. `[trust]`.
    #[serde(default)]
    pub skip: Vec<String>,
    /// Preflight checks to skip.
    #[serde(default)]
    pub skip_checks: Vec<String>,
    /// Preflight free-space minimum, e.g. `1000GiB`.
    pub min_free: Option<String>,
    /// Transfers in flight per registry.
    pub max_per_registry: Option<usize>,
    /// Retries of a failed request or blob copy after its first attempt (default 5).
    pub retry_times: Option<u32>,
    /// bcrypt cost of the registry user's hash (default 5; see docs/security.md).
    pub bcrypt_cost: Option<u32>,
    /// Registry image for the podman runtime (default `docker.io/library/registry:2`).
    pub image: Option<String>,
    /// The registry image as an archive carried from a connected host (`podman save`, or
    /// `skopeo copy ... docker-archive:FILE`): loaded into podman when missing, then run by its
    /// ID. Means the podman runtime.
    pub image_archive: Option<PathBuf>,
    /// Open the registry port in firewalld when it runs (default `true`; `false` leaves
    /// firewalld alone).
    pub firewall: Option<bool>,
    /// Where the registry stores content: `filesystem` (default) or `s3` (then `s3:` says
    /// where).
    pub storage: Option<String>,
    /// The S3 bucket, with `storage: s3`.
    pub s3: Option<S3ConfigFile>,
    /// The file holding `http.secret` (created random, 0600, when missing; default with S3:
    /// `<root>/auth/http-secret`).
    pub http_secret_file: Option<PathBuf>,
}

/// The `s3:` section of the install config file: the `--s3-*` flags of `registry up`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3ConfigFile {
    /// The store's URL (`--s3-endpoint`).
    pub endpoint: Option<String>,
    /// The bucket (`--s3-bucket`).
    pub bucket: Option<String>,
    /// The region (`--s3-region`, default `us-east-1`).
    pub region: Option<String>,
    /// A key prefix (`--s3-root`).
    pub root: Option<String>,
    /// The access key's file (`--s3-credentials-file`): never the key itself.
    pub credentials_file: Option<PathBuf>,
    /// `false`: the registry proxies blob downloads (`--s3-no-redirect`). Default `true`.
    pub redirect: Option<bool>,
}

impl S3ConfigFile {
    /// Every key of the section, as the file spells it; messages name them `s3.<key>`.
    pub const KEYS: [&'static str; 6] = [
        "endpoint",
        "bucket",
        "region",
        "root",
        "credentialsFile",
        "redirect",
    ];
}

impl InstallConfigFile {
    /// Every key, as the file spells it (and as [`super::settings::SettingNames`] is asked).
    pub const KEYS: [&'static str; 32] = [
        "email",
        "username",
        "passwordFile",
        "rhUsername",
        "rhPasswordFile",
        "version",
        "release",
        "architecture",
        "fromDir",
        "pullSecret",
        "hostname",
        "port",
        "bind",
        "root",
        "runtime",
        "certificateFile",
        "outputDir",
        "repository",
        "caFiles",
        "insecureRegistries",
        "skip",
        "skipChecks",
        "minFree",
        "maxPerRegistry",
        "retryTimes",
        "bcryptCost",
        "image",
        "imageArchive",
        "firewall",
        "storage",
        "s3",
        "httpSecretFile",
    ];

    /// Parses YAML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        serde_saphyr::from_str(text).map_err(|e| Error::ConfigFile {
            path: path.to_path_buf(),
            reason: e
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_string(),
        })
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("read config file", path, e))?;
        Self::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `KEYS` is exactly what the file accepts: the parser lists the same when it refuses one.
    #[test]
    fn keys_are_the_fields() {
        let err = InstallConfigFile::parse("nosuch: 1\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        let listed = err.split("expected one of ").nth(1).unwrap_or_default();
        let listed: Vec<&str> = listed
            .split(',')
            .map(|k| k.trim().trim_matches('`'))
            .collect();
        assert_eq!(listed, InstallConfigFile::KEYS, "{err}");
        let err = InstallConfigFile::parse("s3:\n  nosuch: 1\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        let listed = err.split("expected one of ").nth(1).unwrap_or_default();
        let listed: Vec<&str> = listed
            .split(',')
            .map(|k| k.trim().trim_matches('`'))
            .collect();
        assert_eq!(listed, S3ConfigFile::KEYS, "{err}");
    }

    #[test]
    fn parses_and_rejects() {
        let f = InstallConfigFile::parse(
            "email: admin@example.com\nusername: mirror\npasswordFile: /root/pw\nrhUsername: rh-admin\nrhPasswordFile: /root/rh-pw\nversion: '4.14.1'\nport: 5000\nbind: 127.0.0.1\nskip: [trust]\ninsecureRegistries:\n  - 127.0.0.1:5001\n",
            Path::new("install.yaml"),
        )
        .unwrap();
        assert_eq!(f.version.as_deref(), Some("4.14.1"));
        assert_eq!(f.bind.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            (f.rh_username.as_deref(), f.rh_password_file.as_deref()),
            (Some("rh-admin"), Some(Path::new("/root/rh-pw")))
        );
        assert_eq!(
            (f.port, f.skip.clone(), f.insecure_registries.len()),
            (Some(5000), vec!["trust".to_string()], 1)
        );
        let err = InstallConfigFile::parse("emial: x\n", Path::new("install.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config file `install.yaml`: line 1 column 1: unknown field `emial`, expected one of email,"),
            "{err}"
        );
        let err = InstallConfigFile::parse("port: lots\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("config file `c.yaml`"), "{err}");
        let err = InstallConfigFile::parse("rhPassword: hunter2\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `rhPassword`") && !err.contains("hunter2"),
            "{err}"
        );
        let f = InstallConfigFile::parse(
            "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n  root: /ocp\n  credentialsFile: /root/s3\n  redirect: false\nhttpSecretFile: /root/secret\n",
            Path::new("c.yaml"),
        )
        .unwrap();
        let s3 = f.s3.unwrap();
        assert_eq!(
            (
                f.storage.as_deref(),
                s3.bucket.as_deref(),
                s3.redirect,
                s3.credentials_file
            ),
            (
                Some("s3"),
                Some("mirror"),
                Some(false),
                Some("/root/s3".into())
            )
        );
        // A key in the file is refused without being quoted.
        let err = InstallConfigFile::parse("s3:\n  secretKey: hunter2\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `secretKey`") && !err.contains("hunter2"),
            "{err}"
        );
        let err = InstallConfigFile::parse("password: hunter2\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `password`") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
