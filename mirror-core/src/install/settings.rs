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
use crate::registry::{ClientOptions, RegistryClient, RetryPolicy};
use crate::runtime::{
    DEFAULT_REGISTRY_PORT, DEFAULT_REGISTRY_ROOT, RunOptions, RuntimeChoice, SupervisorChoice,
    parse_bind, validate_port,
};
use crate::storage::StorageSettings;

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
/// use mirror_core::{install::{InstallConfigFile, InstallOptions}};
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
    /// The release to mirror (with `from_dir`, the bundle's first release, by its original
    /// name).
    pub release: ImageRef,
    /// A bundle to publish from instead of reading the release's registry (docs/bundles.md).
    pub from_dir: Option<PathBuf>,
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
    /// How requests and blob copies are retried (`retryTimes`: the retries after the first
    /// attempt; default [`RetryPolicy::default`]).
    pub retry: RetryPolicy,
    /// bcrypt cost of the registry user's hash ([`crate::htpasswd::DEFAULT_BCRYPT_COST`]).
    pub bcrypt_cost: u32,
    /// Replace the user's password when the htpasswd file holds another one, and with it the
    /// pull secret and the install-config snippet. Without it such a run is refused
    /// ([`Error::PasswordChange`]) before anything changes: nodes holding the old pull secret
    /// would lose access.
    pub rotate_password: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Where the registry stores content ([`StorageSettings::Filesystem`]: `<root>/data`; or
    /// an S3 bucket, checked by preflight's `storage` check before anything changes).
    pub storage: StorageSettings,
    /// The file holding `http.secret` that replicas share (created random, 0600, when
    /// missing); `None`: `<root>/auth/http-secret` with S3, none with the filesystem.
    pub http_secret_file: Option<PathBuf>,
    /// Open the registry port in firewalld when it runs (`registry up`'s
    /// [`UpOptions::firewall`](crate::runtime::UpOptions::firewall)). Default `true`.
    pub firewall: bool,
    /// How the registry runs (runtime, supervisor, image or a carried image archive, read
    /// when the settings are built); where is `root`, `port`, `bind`, `storage`.
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
        let (pull_secret, auth) = self.pull_secret()?;
        let (certificate_file, from_file) = path_or(
            &g.certificate_file,
            &f.certificate_file,
            DEFAULT_CERTIFICATE_FILE,
        );
        mirror_tls::Subject::from_file(&certificate_file)
            .map_err(|e| self.bad("certificateFile", from_file)(e.into()))?;
        let place = self.place(host.name)?;
        let skip = self.skip()?;
        let runtime = self.runtime()?;
        let storage = self.storage()?;
        let http_secret_file = self.http_secret_file()?;
        let client = self.client(auth)?;
        let mut preflight = self.preflight(&place, &release, client.clone(), runtime)?;
        preflight.storage = storage.clone();
        let short = place.hostname.split('.').next().unwrap_or_default();
        let extra_sans = if short != place.hostname && !short.is_empty() {
            vec![short.to_string()]
        } else {
            vec![]
        };
        let run = self.run_options(runtime)?;
        Ok(InstallSettings {
            credential,
            rh_account,
            email,
            release,
            from_dir: self.bundle_dir().map(|(d, _)| d),
            pull_secret,
            extra_sans,
            ip_addresses: host.addresses,
            hostname: place.hostname,
            port: place.port,
            bind: place.bind,
            root: place.root,
            certificate_file,
            output_dir: place.output_dir,
            repository: place.repository,
            ca_pems: client.ca_pems,
            insecure_registries: client.insecure_registries,
            skip,
            preflight,
            trust_root: self
                .trust_root
                .clone()
                .unwrap_or_else(|| PathBuf::from("/")),
            max_per_registry: self.max_per_registry()?,
            retry: self.retry(),
            bcrypt_cost: self.bcrypt_cost()?,
            rotate_password: self.rotate_password,
            dry_run: self.dry_run,
            storage,
            http_secret_file,
            firewall: pick_value(g.firewall, f.firewall).is_none_or(|(open, _)| open),
            run,
        })
    }

    /// The Red Hat pull secret's path, and the file read.
    fn pull_secret(&self) -> Result<(PathBuf, AuthFile), Error> {
        let (path, from_file) = match (&self.given.pull_secret, &self.file.pull_secret) {
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
        let auth = AuthFile::load(&path).map_err(self.bad("pullSecret", from_file))?;
        Ok((path, auth))
    }

    /// Where the registry lives and answers, and where outputs go.
    fn place(&self, host_name: Result<String, Error>) -> Result<Place, Error> {
        let (g, f) = (&self.given, &self.file);
        let hostname = match Self::pick(&g.hostname, &f.hostname) {
            Some((h, _)) => h,
            None => host_name.map_err(|e| Error::SettingMissing {
                message: format!("cannot tell this host's name ({})", crate::ErrorChain(&e)),
                hint: Hint::Worded {
                    advice: format!("give `{} FQDN`", self.given_name("hostname")),
                },
            })?,
        };
        let (port, from_file) =
            pick_value(g.port, f.port).unwrap_or((DEFAULT_REGISTRY_PORT, false));
        validate_port(port).map_err(self.bad("port", from_file))?;
        let bind = match Self::pick(&g.bind, &f.bind) {
            Some((b, from_file)) => Some(parse_bind(&b).map_err(self.bad("bind", from_file))?),
            None => None,
        };
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
        Ok(Place {
            hostname,
            port,
            bind,
            root: path_or(&g.root, &f.root, DEFAULT_REGISTRY_ROOT).0,
            output_dir: path_or(&g.output_dir, &f.output_dir, DEFAULT_OUTPUT_DIR).0,
            repository,
        })
    }

    /// How to reach the source: the pull secret, extra CAs (read and parsed now, so a bad one
    /// fails before any step), plain-HTTP registries.
    fn client(&self, auth: AuthFile) -> Result<ClientOptions, Error> {
        let (g, f) = (&self.given, &self.file);
        let mut ca_pems = Vec::new();
        for (path, from_file) in both(&g.ca_files, &f.ca_files) {
            let pem = std::fs::read(path)
                .map_err(|e| self.bad("caFiles", from_file)(Error::io("read CA file", path, e)))?;
            ca_pems.push(pem);
        }
        let client = ClientOptions {
            auth: Some(auth),
            ca_pems,
            insecure_registries: both(&g.insecure_registries, &f.insecure_registries)
                .map(|(r, _)| r.clone())
                .collect(),
            retry: self.retry(),
            ..Default::default()
        };
        RegistryClient::new(client.clone()).map_err(self.bad("caFiles", g.ca_files.is_empty()))?;
        Ok(client)
    }

    /// The preflight run's settings: the registry's place, the release, free space, checks
    /// waived.
    fn preflight(
        &self,
        place: &Place,
        release: &ImageRef,
        client: ClientOptions,
        runtime: RuntimeChoice,
    ) -> Result<PreflightOptions, Error> {
        let (g, f) = (&self.given, &self.file);
        let mut preflight = PreflightOptions {
            data_dir: place.root.join("data"),
            // From a bundle the source is never reached: no `upstream` check, no sizing.
            release: self.bundle_dir().is_none().then(|| release.clone()),
            to: None,
            client,
            port: place.port,
            root: place.root.clone(),
            hostname: Some(place.hostname.clone()),
            runtime,
            ..Default::default()
        };
        if let Some((size, from_file)) = Self::pick(&g.min_free, &f.min_free) {
            preflight.min_free =
                crate::size::parse_size(&size).map_err(self.bad("minFree", from_file))?;
        }
        for (name, from_file) in both(&g.skip_checks, &f.skip_checks) {
            preflight
                .skip(name)
                .map_err(self.bad("skipChecks", from_file))?;
        }
        Ok(preflight)
    }

    /// The retry policy `retryTimes` asks for: that many retries after the first attempt.
    fn retry(&self) -> RetryPolicy {
        pick_value(self.given.retry_times, self.file.retry_times)
            .map_or_else(RetryPolicy::default, |(n, _)| {
                RetryPolicy::with_tries(n.saturating_add(1))
            })
    }

    /// Transfers in flight per registry: at least one.
    fn max_per_registry(&self) -> Result<usize, Error> {
        let (n, from_file) = pick_value(self.given.max_per_registry, self.file.max_per_registry)
            .unwrap_or((crate::copy::DEFAULT_MAX_PER_REGISTRY, false));
        if n == 0 {
            return Err(self.bad("maxPerRegistry", from_file)(
                Error::InvalidSetting {
                    name: "max-per-registry".into(),
                    reason: "must be at least 1".into(),
                },
            ));
        }
        Ok(n)
    }

    /// The bcrypt cost of the user's hash: 4 to 31.
    fn bcrypt_cost(&self) -> Result<u32, Error> {
        let (n, from_file) = pick_value(self.given.bcrypt_cost, self.file.bcrypt_cost)
            .unwrap_or((crate::htpasswd::DEFAULT_BCRYPT_COST, false));
        crate::htpasswd::validate_cost(n).map_err(self.bad("bcryptCost", from_file))?;
        Ok(n)
    }
}

/// Where the registry lives and answers, and where outputs go.
struct Place {
    hostname: String,
    port: u16,
    bind: Option<IpAddr>,
    root: PathBuf,
    output_dir: PathBuf,
    repository: String,
}

/// A plain setting: the program's, else the file's; with whether it came from the file.
fn pick_value<T>(given: Option<T>, file: Option<T>) -> Option<(T, bool)> {
    given.map(|v| (v, false)).or(file.map(|v| (v, true)))
}

/// A path setting: the program's, else the file's, else `default`; with whether it came from
/// the file. (`storage` and `s3:` are merged by [`crate::storage`], which `registry up` shares.)
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

mod values;

#[cfg(test)]
mod tests;
