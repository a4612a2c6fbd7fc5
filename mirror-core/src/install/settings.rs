//! What [`install`](super::install) runs with: the config file and a program's own input (its
//! flags) merged in one place, every value checked, before anything on the host changes.
//!
//! [`InstallOptions`] holds both layers as given; [`InstallOptions::build`] merges them (the
//! program's value wins, lists add up, defaults fill the rest), reads the files they name
//! (pull secret, certificate subject, password files, CA files) and returns
//! [`InstallSettings`], or the first bad value as an error naming it the way its source does:
//! a config-file key (`bind`), or the program's own name for it (`--bind`, through
//! [`InstallOptions::names`]).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

use super::Step;
use super::config::InstallConfigFile;
use crate::auth::{AuthFile, Credential};
use crate::error::Error;
use crate::hint::Hint;
use crate::preflight::PreflightOptions;
use crate::reference::{ImageRef, Repository};
use crate::registry::{ClientOptions, RegistryClient};
use crate::runtime::{
    DEFAULT_REGISTRY_IMAGE, DEFAULT_REGISTRY_PORT, DEFAULT_REGISTRY_ROOT, RunOptions,
    RuntimeChoice, SupervisorChoice, parse_bind, validate_port,
};

/// The release repository `version` is looked up in.
pub const DEFAULT_RELEASE_REPOSITORY: &str = "quay.io/openshift-release-dev/ocp-release";
/// The release architecture `version` is looked up with.
pub const DEFAULT_ARCHITECTURE: &str = "x86_64";
/// The mirror repository.
pub const DEFAULT_MIRROR_REPOSITORY: &str = "ocp4/openshift4";
/// Where outputs go (relative to the working directory).
pub const DEFAULT_OUTPUT_DIR: &str = "mirror-install";
/// The script's certificate subject file (relative to the working directory).
pub const DEFAULT_CERTIFICATE_FILE: &str = "certificate";

/// How a program names the settings it takes, by config-file key (`pullSecret`): mirrorctl
/// answers with its flags (`--pull-secret`). `None` keeps the key.
pub type SettingNames = fn(&str) -> Option<String>;

/// The input of an install, as given: the program's own values (`given`, its flags) over the
/// config file's (`file`). Every field has a default; [`InstallOptions::build`] checks them.
///
/// ```no_run
/// # fn demo() -> Result<(), mirror_core::Error> {
/// use mirror_core::{InstallConfigFile, InstallOptions};
/// let settings = InstallOptions {
///     given: InstallConfigFile {
///         email: Some("admin@example.com".into()),
///         username: Some("mirror".into()),
///         version: Some("4.14.1".into()),
///         pull_secret: Some("pull-secret.json".into()),
///         ..Default::default()
///     },
///     password: Some(std::env::var("MIRROR_PASSWORD").unwrap_or_default()),
///     ..Default::default()
/// }
/// .build()?;
/// assert_eq!(settings.port, 5000);
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct InstallOptions {
    /// The program's own values (flags, an API caller): they win over `file`; lists (`skip`,
    /// `caFiles`, ...) add to the file's.
    pub given: InstallConfigFile,
    /// The config file's values ([`InstallConfigFile::load`]); empty without one.
    pub file: InstallConfigFile,
    /// The registry password, when the program read it itself (a prompt, stdin, the
    /// environment). It wins over `passwordFile` from the config file, but not over a
    /// `passwordFile` in `given`.
    pub password: Option<String>,
    /// The Red Hat account password, likewise, after `given.rh_password_file` and before the
    /// config file's `rhPasswordFile`.
    pub rh_password: Option<String>,
    /// Who keeps the registry running. Default [`SupervisorChoice::Auto`].
    pub supervisor: SupervisorChoice,
    /// Replace the user's password when htpasswd holds another one (see
    /// [`InstallSettings::rotate_password`]).
    pub rotate_password: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Prefix for the host trust store. Default `/`.
    pub trust_root: Option<PathBuf>,
    /// How messages name what `given` holds and what defaults stand for; `None`: by key.
    pub names: Option<SettingNames>,
}

impl std::fmt::Debug for InstallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |p: &Option<String>| p.as_ref().map(|_| "<redacted>");
        f.debug_struct("InstallOptions")
            .field("given", &self.given)
            .field("file", &self.file)
            .field("password", &redacted(&self.password))
            .field("rh_password", &redacted(&self.rh_password))
            .field("supervisor", &self.supervisor)
            .field("rotate_password", &self.rotate_password)
            .field("dry_run", &self.dry_run)
            .field("trust_root", &self.trust_root)
            .finish_non_exhaustive()
    }
}

/// Validated settings for [`install`](super::install), made by [`InstallOptions::build`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InstallSettings {
    /// The registry user and password.
    pub credential: Credential,
    /// The Red Hat account (the script's first two arguments), used only on RHEL when
    /// installing packages fails because the host is not registered.
    pub rh_account: Option<Credential>,
    /// Email for the pull-secret entry and the certificate.
    pub email: String,
    /// The release to mirror.
    pub release: ImageRef,
    /// The Red Hat pull secret (read, never modified).
    pub pull_secret: PathBuf,
    /// The registry's host name (certificate CN and SAN, mirror address).
    pub hostname: String,
    /// Extra names for the certificate (the short host name).
    pub extra_sans: Vec<String>,
    /// The host's addresses, added to the certificate.
    pub ip_addresses: Vec<IpAddr>,
    /// Registry port (5000).
    pub port: u16,
    /// The address the registry listens on; `None`: every interface.
    pub bind: Option<IpAddr>,
    /// Registry root (`/opt/registry`).
    pub root: PathBuf,
    /// The script's `certificate` file.
    pub certificate_file: PathBuf,
    /// Output directory.
    pub output_dir: PathBuf,
    /// Mirror repository (`ocp4/openshift4`).
    pub repository: String,
    /// Extra CA files (PEM) for reaching the source.
    pub ca_pems: Vec<Vec<u8>>,
    /// Plain-HTTP source registries.
    pub insecure_registries: Vec<String>,
    /// Steps to skip.
    pub skip: BTreeSet<Step>,
    /// Preflight settings (checks to skip, minimum free space, runtime, ...).
    pub preflight: PreflightOptions,
    /// Prefix for the host trust store (`/`; a temp dir in tests).
    pub trust_root: PathBuf,
    /// Transfers in flight per registry.
    pub max_per_registry: usize,
    /// Replace the user's password when the htpasswd file holds another one, and with it the
    /// pull secret and the install-config snippet. Without it such a run is refused
    /// ([`Error::PasswordChange`]) before anything changes: nodes holding the old pull secret
    /// would lose access.
    pub rotate_password: bool,
    /// Plan only.
    pub dry_run: bool,
    /// How the registry runs (runtime, supervisor, image); where is `root`, `port`, `bind`.
    pub run: RunOptions,
}

/// This host's names and addresses, for the defaults of `hostname` and the certificate.
struct HostIdentity {
    /// The FQDN, else the plain host name.
    name: Result<String, Error>,
    /// Addresses (without loopback and link-local).
    addresses: Vec<IpAddr>,
}

impl HostIdentity {
    fn system() -> Self {
        HostIdentity {
            name: match mirror_net::fqdn() {
                Some(n) => Ok(n),
                None => mirror_net::hostname().map_err(Error::from),
            },
            addresses: mirror_net::host_addresses().unwrap_or_default(),
        }
    }
}

/// `Some` of a trimmed non-empty value.
fn present(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

impl InstallOptions {
    /// Checks every value and makes the settings, reading the files they name; nothing on the
    /// host changes. The first bad value is an error naming it (all are usage errors).
    pub fn build(self) -> Result<InstallSettings, Error> {
        self.build_on(HostIdentity::system())
    }

    /// Checks what comes before any secret (the email and the user), so a program can refuse a
    /// bad command line before it prompts for a password; [`InstallOptions::build`] checks it
    /// too.
    pub fn check_user(&self) -> Result<(), Error> {
        self.email_and_user().map(drop)
    }

    fn email_and_user(&self) -> Result<(String, String), Error> {
        let (g, f) = (&self.given, &self.file);
        let (email, _) =
            Self::pick(&g.email, &f.email).ok_or_else(|| self.missing("email", None, ""))?;
        let (username, from_file) = Self::pick(&g.username, &f.username)
            .ok_or_else(|| self.missing("username", None, ""))?;
        crate::htpasswd::validate_username(&username).map_err(self.bad("username", from_file))?;
        Ok((email, username))
    }

    /// Whether no registry password comes from anywhere yet: a program asks for one (a
    /// prompt) before [`InstallOptions::build`].
    pub fn needs_password(&self) -> bool {
        self.password.is_none()
            && self.given.password_file.is_none()
            && self.file.password_file.is_none()
    }

    /// The Red Hat account user, when one is given.
    pub fn rh_username(&self) -> Option<String> {
        present(&self.given.rh_username).or_else(|| present(&self.file.rh_username))
    }

    /// Whether a Red Hat account user is given but no password comes from anywhere yet.
    pub fn needs_rh_password(&self) -> bool {
        self.rh_username().is_some()
            && self.rh_password.is_none()
            && self.given.rh_password_file.is_none()
            && self.file.rh_password_file.is_none()
    }

    /// How messages name the setting `key` of the program's input (or a default): by the
    /// program's name for it, else the key.
    fn given_name(&self, key: &str) -> String {
        self.names
            .and_then(|n| n(key))
            .unwrap_or_else(|| key.to_string())
    }

    /// How messages name `key` whose value came `from_file` or not.
    fn name(&self, key: &str, from_file: bool) -> String {
        if from_file {
            key.to_string()
        } else {
            self.given_name(key)
        }
    }

    /// `e` as the setting `key`'s.
    fn bad(&self, key: &str, from_file: bool) -> impl FnOnce(Error) -> Error + use<> {
        let name = self.name(key, from_file);
        move |e| Error::Setting {
            name,
            source: Box::new(e),
        }
    }

    /// The required setting `key` is missing; `example` completes the flag in the hint.
    fn missing(&self, key: &str, example: Option<&str>, lead: &str) -> Error {
        let name = self.given_name(key);
        let give = match example {
            Some(x) => format!("give `{name} {x}`, or `{key}:` in the config file"),
            None => format!("give `{name}` or `{key}:` in the config file"),
        };
        Error::SettingMissing {
            message: format!("missing `{name}`"),
            hint: Hint::Worded {
                advice: format!("{lead}{give}"),
            },
        }
    }

    /// A string setting: the program's, else the file's; with whether it came from the file.
    fn pick(given: &Option<String>, file: &Option<String>) -> Option<(String, bool)> {
        present(given)
            .map(|v| (v, false))
            .or_else(|| present(file).map(|v| (v, true)))
    }

    fn build_on(self, host: HostIdentity) -> Result<InstallSettings, Error> {
        let (g, f) = (&self.given, &self.file);
        let (email, username) = self.email_and_user()?;
        let password = self.registry_password()?;
        let credential = Credential { username, password };
        let rh_account = self.rh_account()?;
        let release = self.release()?;

        let (pull_secret, from_file) = match (&g.pull_secret, &f.pull_secret) {
            (Some(p), _) => (p.clone(), false),
            (None, Some(p)) => (p.clone(), true),
            (None, None) => {
                return Err(self.missing(
                    "pullSecret",
                    Some("FILE"),
                    "download it from console.redhat.com/openshift/install/pull-secret and ",
                ));
            }
        };
        let auth = AuthFile::load(&pull_secret).map_err(self.bad("pullSecret", from_file))?;
        let (certificate_file, from_file) = path_or(
            &g.certificate_file,
            &f.certificate_file,
            DEFAULT_CERTIFICATE_FILE,
        );
        mirror_tls::Subject::from_file(&certificate_file)
            .map_err(|e| self.bad("certificateFile", from_file)(e.into()))?;

        let hostname = match Self::pick(&g.hostname, &f.hostname) {
            Some((h, _)) => h,
            None => host.name.map_err(|e| Error::SettingMissing {
                message: format!("cannot tell this host's name ({})", crate::ErrorChain(&e)),
                hint: Hint::Worded {
                    advice: format!("give `{} FQDN`", self.given_name("hostname")),
                },
            })?,
        };
        let (port, from_file) = match (g.port, f.port) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => (DEFAULT_REGISTRY_PORT, false),
        };
        validate_port(port).map_err(self.bad("port", from_file))?;
        let bind = match Self::pick(&g.bind, &f.bind) {
            Some((b, from_file)) => Some(parse_bind(&b).map_err(self.bad("bind", from_file))?),
            None => None,
        };
        let (root, _) = path_or(&g.root, &f.root, DEFAULT_REGISTRY_ROOT);
        let (output_dir, _) = path_or(&g.output_dir, &f.output_dir, DEFAULT_OUTPUT_DIR);
        let (repository, _) = Self::pick(&g.repository, &f.repository)
            .unwrap_or_else(|| (DEFAULT_MIRROR_REPOSITORY.to_string(), false));
        Repository::parse(&format!("{hostname}:{port}/{repository}")).map_err(|e| {
            Error::Setting {
                name: ["hostname", "port", "repository"]
                    .map(|k| self.given_name(k))
                    .join("/"),
                source: Box::new(e),
            }
        })?;

        let skip = self.skip()?;
        let runtime = self.runtime()?;
        let mut ca_pems = Vec::new();
        for (path, from_file) in both(&g.ca_files, &f.ca_files) {
            let pem = std::fs::read(path)
                .map_err(|e| self.bad("caFiles", from_file)(Error::io("read CA file", path, e)))?;
            ca_pems.push(pem);
        }
        let insecure_registries: Vec<String> = both(&g.insecure_registries, &f.insecure_registries)
            .map(|(r, _)| r.clone())
            .collect();
        let client = ClientOptions {
            auth: Some(auth),
            ca_pems: ca_pems.clone(),
            insecure_registries: insecure_registries.clone(),
            ..Default::default()
        };
        // A CA file that is not PEM fails here, not at the mirror step.
        RegistryClient::new(client.clone()).map_err(self.bad("caFiles", g.ca_files.is_empty()))?;

        let mut preflight = PreflightOptions {
            data_dir: root.join("data"),
            release: Some(release.clone()),
            to: None,
            client,
            port,
            root: root.clone(),
            hostname: Some(hostname.clone()),
            runtime,
            ..Default::default()
        };
        if let Some((size, from_file)) = Self::pick(&g.min_free, &f.min_free) {
            preflight.min_free =
                crate::parse_size(&size).map_err(self.bad("minFree", from_file))?;
        }
        for (name, from_file) in both(&g.skip_checks, &f.skip_checks) {
            preflight
                .skip(name)
                .map_err(self.bad("skipChecks", from_file))?;
        }
        let (max_per_registry, from_file) = match (g.max_per_registry, f.max_per_registry) {
            (Some(n), _) => (n, false),
            (None, Some(n)) => (n, true),
            (None, None) => (crate::DEFAULT_MAX_PER_REGISTRY, false),
        };
        if max_per_registry == 0 {
            return Err(self.bad("maxPerRegistry", from_file)(
                Error::InvalidSetting {
                    name: "max-per-registry".into(),
                    reason: "must be at least 1".into(),
                },
            ));
        }
        let short = hostname.split('.').next().unwrap_or_default().to_string();
        let extra_sans = if short != hostname && !short.is_empty() {
            vec![short]
        } else {
            vec![]
        };
        let image = Self::pick(&g.image, &f.image)
            .map(|(i, _)| i)
            .unwrap_or_else(|| DEFAULT_REGISTRY_IMAGE.to_string());
        Ok(InstallSettings {
            credential,
            rh_account,
            email,
            release,
            pull_secret,
            hostname,
            extra_sans,
            ip_addresses: host.addresses,
            port,
            bind,
            root,
            certificate_file,
            output_dir,
            repository,
            ca_pems,
            insecure_registries,
            skip,
            preflight,
            trust_root: self
                .trust_root
                .clone()
                .unwrap_or_else(|| PathBuf::from("/")),
            max_per_registry,
            rotate_password: self.rotate_password,
            dry_run: self.dry_run,
            run: RunOptions {
                runtime,
                supervisor: self.supervisor,
                image,
                ..Default::default()
            },
        })
    }

    /// The registry password: the program's `passwordFile`, else the one it read, else the
    /// config file's `passwordFile`.
    fn registry_password(&self) -> Result<String, Error> {
        let password = match (&self.given.password_file, &self.password) {
            (Some(p), _) => crate::read_secret_file(p).map_err(self.bad("passwordFile", false))?,
            (None, Some(p)) => p.clone(),
            (None, None) => match &self.file.password_file {
                Some(p) => crate::read_secret_file(p).map_err(self.bad("passwordFile", true))?,
                None => return Err(self.missing("passwordFile", Some("FILE"), "")),
            },
        };
        crate::htpasswd::validate_password(&password).map_err(self.bad("password", false))?;
        Ok(password)
    }

    /// The Red Hat account, when a user is given; a password without a user is refused.
    fn rh_account(&self) -> Result<Option<Credential>, Error> {
        let (g, f) = (&self.given, &self.file);
        let Some(username) = self.rh_username() else {
            if self.rh_password.is_some()
                || g.rh_password_file.is_some()
                || f.rh_password_file.is_some()
            {
                let user = self.given_name("rhUsername");
                return Err(Error::SettingMissing {
                    message: format!("a Red Hat account password was given without `{user}`"),
                    hint: Hint::Worded {
                        advice: format!(
                            "give `{user} USER` (or `rhUsername:`) with it, or leave both out"
                        ),
                    },
                });
            }
            return Ok(None);
        };
        let password = match (&g.rh_password_file, &self.rh_password, &f.rh_password_file) {
            (Some(p), _, _) => {
                crate::read_secret_file(p).map_err(self.bad("rhPasswordFile", false))?
            }
            (None, Some(p), _) => p.clone(),
            (None, None, Some(p)) => {
                crate::read_secret_file(p).map_err(self.bad("rhPasswordFile", true))?
            }
            (None, None, None) => {
                return Err(Error::SettingMissing {
                    message: format!("no password for the Red Hat account `{username}`"),
                    hint: Hint::Worded {
                        advice: format!(
                            "give `{} FILE` (or `rhPasswordFile:` in the config file)",
                            self.given_name("rhPasswordFile")
                        ),
                    },
                });
            }
        };
        if password.is_empty() {
            return Err(Error::SettingMissing {
                message: "the Red Hat account password is empty".into(),
                hint: Hint::Worded {
                    advice: format!(
                        "put the password in the file given as `{}`",
                        self.given_name("rhPasswordFile")
                    ),
                },
            });
        }
        Ok(Some(Credential { username, password }))
    }

    /// `release`, else `version` (and `architecture`) in the OpenShift release repository.
    fn release(&self) -> Result<ImageRef, Error> {
        let (g, f) = (&self.given, &self.file);
        let (text, key, from_file) = match (
            Self::pick(&g.release, &f.release),
            Self::pick(&g.version, &f.version),
        ) {
            (Some((r, from_file)), _) => (r, "release", from_file),
            (None, Some((v, from_file))) => {
                let arch = Self::pick(&g.architecture, &f.architecture)
                    .map(|(a, _)| a)
                    .unwrap_or_else(|| DEFAULT_ARCHITECTURE.to_string());
                (
                    format!("{DEFAULT_RELEASE_REPOSITORY}:{v}-{arch}"),
                    "version",
                    from_file,
                )
            }
            (None, None) => {
                let (version, release) = (self.given_name("version"), self.given_name("release"));
                return Err(Error::SettingMissing {
                    message: format!("missing `{version}` or `{release}`"),
                    hint: Hint::Worded {
                        advice: format!(
                            "give `{version} 4.14.1`, or `version:` in the config file"
                        ),
                    },
                });
            }
        };
        ImageRef::parse(&text).map_err(self.bad(key, from_file))
    }

    /// The steps to skip; skipping `mirror` needs `extract` and `outputs` skipped too, as
    /// both use what it made.
    fn skip(&self) -> Result<BTreeSet<Step>, Error> {
        let mut skip = BTreeSet::new();
        for (name, from_file) in both(&self.given.skip, &self.file.skip) {
            skip.insert(Step::parse(name).map_err(self.bad("skip", from_file))?);
        }
        let needs_mirror: Vec<&str> = [Step::Extract, Step::Outputs]
            .into_iter()
            .filter(|s| !skip.contains(s))
            .map(Step::name)
            .collect();
        if skip.contains(&Step::Mirror) && !needs_mirror.is_empty() {
            return Err(self.bad("skip", self.given.skip.is_empty())(
                Error::InvalidSetting {
                    name: "skip".into(),
                    reason: format!(
                        "`{}` needs the `mirror` step: skip it too",
                        needs_mirror.join("` and `")
                    ),
                },
            ));
        }
        Ok(skip)
    }

    fn runtime(&self) -> Result<RuntimeChoice, Error> {
        let Some((name, from_file)) = Self::pick(&self.given.runtime, &self.file.runtime) else {
            return Ok(RuntimeChoice::Auto);
        };
        match name.as_str() {
            "podman" => Ok(RuntimeChoice::Podman),
            "process" => Ok(RuntimeChoice::Process),
            "auto" => Ok(RuntimeChoice::Auto),
            _ => Err(self.bad("runtime", from_file)(Error::UnknownName {
                kind: "runtime",
                name,
                known: vec!["podman", "process", "auto"],
            })),
        }
    }
}

/// A path setting: the program's, else the file's, else `default`; with whether it came from
/// the file.
fn path_or(given: &Option<PathBuf>, file: &Option<PathBuf>, default: &str) -> (PathBuf, bool) {
    match (given, file) {
        (Some(p), _) => (p.clone(), false),
        (None, Some(p)) => (p.clone(), true),
        (None, None) => (PathBuf::from(default), false),
    }
}

/// A list setting: the program's items, then the file's, each with whether it came from the
/// file.
fn both<'a, T>(given: &'a [T], file: &'a [T]) -> impl Iterator<Item = (&'a T, bool)> {
    given
        .iter()
        .map(|v| (v, false))
        .chain(file.iter().map(|v| (v, true)))
}

#[cfg(test)]
mod tests;
