//! The one error type of `mirror-core`.

use std::path::PathBuf;

use crate::hint::Hint;

/// Everything that can go wrong in `mirror-core`.
///
/// Each variant carries the offending input (path, image reference, digest, the registry's own
/// error code and message); [`Error::hint`] gives the likely fix where there is one, and
/// [`Error::is_usage`] tells a bad input from a problem found.
///
/// A message never repeats its cause: the cause is `source()`, and a program prints the chain
/// as `a: b: c` ([`ErrorChain`] does). Errors of `mirror-tls` and `mirror-net` are wrapped
/// whole ([`Error::Tls`], [`Error::Net`]), keeping their cause and their hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string that is not a valid `sha256:` digest.
    #[error("invalid digest `{input}`: expected `sha256:` and 64 lowercase hex digits")]
    InvalidDigest {
        /// The text given.
        input: String,
    },
    /// An image reference that does not parse or has the wrong form for its use.
    #[error("invalid image reference `{input}`: {reason}")]
    InvalidReference {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What we were doing (`read`, `write`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A registry auth file (pull secret, docker config, containers auth.json) is malformed.
    #[error("auth file `{}`: {reason}", path.display())]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never contains a secret).
        reason: String,
    },
    /// The `install` config file is malformed.
    #[error("config file `{}`: {reason}", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (line and column, the field).
        reason: String,
    },
    /// A TLS setting is unusable (an unreadable or invalid `--ca-file`).
    #[error("tls setup: {reason}")]
    TlsSetup {
        /// What is wrong.
        reason: String,
    },
    /// The connection to a registry failed (DNS, TCP, TLS, timeout) after all tries.
    #[error("{op} `{target}`: {}", connection_message(*tries, detail, cert.as_ref()))]
    Connection {
        /// The operation (`get manifest`, `upload blob`, ...).
        op: &'static str,
        /// The image or blob involved.
        target: String,
        /// How many attempts were made.
        tries: u32,
        /// The transport's error chain.
        detail: String,
        /// What is wrong with the server's certificate, when that is why (never retried).
        cert: Option<CertProblem>,
    },
    /// The registry answered with an error status after all tries.
    #[error("{op} `{target}`: registry answered {status}{}{} (after {tries} {})",
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(),
        if *tries == 1 { "try" } else { "tries" })]
    Registry {
        /// The operation.
        op: &'static str,
        /// The image or blob involved.
        target: String,
        /// HTTP status.
        status: u16,
        /// The registry's error code (`MANIFEST_UNKNOWN`, `UNAUTHORIZED`, ...).
        code: Option<Box<str>>,
        /// The registry's error message.
        message: Option<String>,
        /// How many attempts were made.
        tries: u32,
        /// Which auth file entry supplied credentials, if any (`host:port` key and file).
        auth_entry: Option<Box<str>>,
        /// The wait in seconds the registry asked for (`Retry-After`), if it did.
        retry_after: Option<u32>,
    },
    /// Bytes received do not hash to the digest they were requested by.
    #[error("digest mismatch for `{target}`: expected `{expected}`, got `{actual}`{}",
        if *tries > 1 { format!(" (after {tries} tries)") } else { String::new() })]
    DigestMismatch {
        /// What was fetched or pushed.
        target: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
        /// How many attempts were made.
        tries: u32,
    },
    /// A manifest we refuse or cannot understand.
    #[error("manifest `{target}`: {reason}")]
    Manifest {
        /// The image.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// The release payload is invalid (image-references, release-metadata, layers).
    #[error("release `{image}`: {reason}")]
    Payload {
        /// The release image.
        image: String,
        /// What is wrong, quoting the offending entry.
        reason: String,
    },
    /// The operation was cancelled (Ctrl-C) before it finished.
    #[error("cancelled: {what}")]
    Cancelled {
        /// What was left unfinished.
        what: String,
    },
    /// A failure while handling one image of a release, naming it.
    #[error("{image}")]
    Image {
        /// The component name (or `release image`) and its reference.
        image: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// Installing host packages (or registering the host so it can) failed.
    #[error("{reason}")]
    HostPackages {
        /// What failed, with the package manager's own last words.
        reason: String,
        /// The fix.
        hint: String,
    },
    /// Invalid settings passed to a library call.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The setting.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An htpasswd file has a line that is not `user:bcrypt-hash`.
    #[error("htpasswd file `{}` line {line}: {reason}", path.display())]
    Htpasswd {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never contains a hash or password).
        reason: String,
    },
    /// The registry user exists with another password, and replacing it would cut off every
    /// client holding the old one (cluster nodes with the old pull secret).
    #[error(
        "user `{username}` in `{}` has another password: this install would rehash it{}, and every node pulling with the old pull secret would lose access",
        htpasswd.display(),
        and_rewrite(rewrites)
    )]
    PasswordChange {
        /// The user.
        username: String,
        /// The htpasswd file.
        htpasswd: PathBuf,
        /// The files holding the old password that would be rewritten.
        rewrites: Vec<PathBuf>,
    },
    /// A file that would be overwritten exists with other content.
    #[error("`{}` exists with other content: not overwriting it", path.display())]
    WouldOverwrite {
        /// The file.
        path: PathBuf,
    },
    /// The registry's port is taken by another process.
    #[error("port {port} is already in use{}", holder.as_deref().map(|h| format!(" by {h}")).unwrap_or_default())]
    PortInUse {
        /// The port.
        port: u16,
        /// The process holding it (`name` (pid N)), when it could be found.
        holder: Option<String>,
    },
    /// A program the registry runtime needs is not installed.
    #[error("{what} not found: {looked_for}")]
    ToolMissing {
        /// What is missing (`a registry runtime`, `podman`, ...).
        what: String,
        /// Where we looked or what we tried.
        looked_for: String,
        /// How to install it.
        install: String,
    },
    /// A host command (podman, systemctl) failed.
    #[error("`{command}` failed: {detail}")]
    CommandFailed {
        /// The command line (never holds a secret).
        command: String,
        /// Its exit status and last lines of stderr.
        detail: String,
    },
    /// The server certificate under `<root>/certs` would be refused by registry clients
    /// (podman, oc, the installer): the failed checks of `mirrorctl tls verify`.
    #[error("certificate `{}` would be refused by registry clients: {problems}", path.display())]
    BadCertificate {
        /// The server certificate.
        path: PathBuf,
        /// The failed checks, `name: detail; ...`.
        problems: String,
        /// The directory `mirrorctl tls generate` writes it to.
        certs_dir: PathBuf,
    },
    /// `registry up` could not bring the registry up as asked, and the registry that ran
    /// before runs as it did: it was never stopped (the new runtime could not start), or it was
    /// started again after the new one failed.
    #[error("{reason}")]
    KeptRunning {
        /// What failed, and what runs.
        reason: String,
        /// The fix.
        hint: Hint,
    },
    /// An image archive (`podman save`, `skopeo copy ... docker-archive:`) that cannot be used.
    #[error("image archive `{}`: {reason}", path.display())]
    ImageArchive {
        /// The archive.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `firewall-cmd` failed to open or close the registry's port.
    #[error("cannot {} port {port}/tcp in firewalld: {reason}", if *open { "open" } else { "close" })]
    Firewall {
        /// The port.
        port: u16,
        /// Opening (else closing).
        open: bool,
        /// What failed.
        reason: String,
    },
    /// The object store's credentials file is unreadable or not in a known format (the
    /// message never quotes its lines).
    #[error("S3 credentials file `{}`: {reason}", path.display())]
    StorageCredentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The registry's object storage refused or failed a request (or could not be reached).
    #[error("{0}")]
    ObjectStorage(Box<ObjectStorageFailure>),
    /// A certificate or trust-store operation failed (`mirror-tls`), with its cause and hint.
    #[error(transparent)]
    Tls(#[from] mirror_tls::Error),
    /// A network fact could not be read or a network value is invalid (`mirror-net`), with its
    /// cause and hint.
    #[error(transparent)]
    Net(#[from] mirror_net::Error),
    /// A size that does not parse (`1000GiB`, `500G`, `1.5TiB` do).
    #[error("invalid size `{input}`: {reason}")]
    InvalidSize {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value given to a program (a flag, a config-file field) that cannot be used: `name`
    /// says which, as the program names it; the cause says why.
    #[error("{name}")]
    Setting {
        /// The flag or field (`--mirror-cidr`, `bind`).
        name: String,
        /// What is wrong with its value.
        #[source]
        source: Box<Error>,
    },
    /// A password file with more than one line (never quoted: it holds a secret).
    #[error(
        "password file `{}` has more than one line: a password is one line (a final newline is dropped)",
        path.display()
    )]
    SecretFile {
        /// The file.
        path: PathBuf,
    },
    /// An address to listen on that is not an IP address.
    #[error("`{text}` is not an IP address")]
    InvalidAddress {
        /// The text given.
        text: String,
    },
    /// A setting that must be given is missing (or given without another it needs), worded
    /// with the names of the program that takes it.
    #[error("{message}")]
    SettingMissing {
        /// What is missing.
        message: String,
        /// How to give it.
        hint: Hint,
    },
    /// A port number no registry can listen on (0).
    #[error("`{port}` is not a port")]
    InvalidPort {
        /// The number given.
        port: u16,
    },
    /// A name that is not one of the known ones (a preflight check, an install step).
    #[error("unknown {kind} `{name}`")]
    UnknownName {
        /// What it names (`check`, `step`).
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names known.
        known: Vec<&'static str>,
    },
    /// An install-config file that is not YAML with a `networking` mapping.
    #[error("`{}`: not a valid install-config: {reason}", path.display())]
    InstallConfigSyntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// An install-config whose networking the installer would refuse.
    #[error("`{}`", path.display())]
    InstallConfigNetworks {
        /// The file.
        path: PathBuf,
        /// The field and what is wrong with it.
        #[source]
        source: mirror_net::Error,
    },
    /// A fact about this host could not be read (memory size, free space, CPU count).
    #[error("{what}")]
    HostFact {
        /// What could not be read, naming the file or value.
        what: String,
        /// The OS error, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Preflight checks that block an install failed or could not run.
    #[error("preflight: {}", failures.join("; "))]
    PreflightFailed {
        /// Each blocking check as `name: detail`.
        failures: Vec<String>,
    },
    /// Release signatures were found but do not verify (wrong key, altered content, another
    /// release's digest): the release is not mirrored.
    #[error("release `{release}` (`{digest}`): its signatures do not verify: {reason}")]
    SignatureRejected {
        /// The release image as given.
        release: String,
        /// The release digest the signatures must name.
        digest: String,
        /// Why, per keyring and signature (the key fingerprints included).
        reason: String,
        /// Fingerprints of the keys the signatures were checked against.
        fingerprints: Vec<String>,
    },
    /// Signatures were required but none could be verified (none published, no store
    /// answered, or no keys configured).
    #[error("release `{release}` (`{digest}`) has no verified signature: {reason}")]
    SignatureRequired {
        /// The release image as given.
        release: String,
        /// The release digest.
        digest: String,
        /// Why (the stores tried, or what configuration is missing).
        reason: String,
    },
    /// A signature key (keyring) cannot be used.
    #[error("signature key `{source_name}`: {reason}")]
    SignatureKey {
        /// The file given, or the payload ConfigMap entry.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// The registry did not come up, or could not be stopped.
    #[error("registry runtime: {reason}")]
    Runtime {
        /// What happened.
        reason: String,
        /// The log to read, when there is one.
        log: Option<PathBuf>,
    },
    /// The upgrade graph could not be fetched: the graph server answered an error (its
    /// `{kind, value}` quoted), or a saved graph is missing.
    #[error("upgrade graph `{origin}`: {reason}")]
    GraphFetch {
        /// The URL (with its query) or the file.
        origin: String,
        /// The HTTP status, when a server answered.
        status: Option<u16>,
        /// What went wrong, quoting the server's error.
        reason: String,
        /// The fix.
        hint: Box<Hint>,
    },
    /// An upgrade graph that is not Cincinnati JSON (or not consistent: edges out of range,
    /// versions twice).
    #[error("upgrade graph `{origin}`: {reason}")]
    GraphInvalid {
        /// The URL (with its query) or the file.
        origin: String,
        /// What is wrong, with the line and column or the offending node.
        reason: String,
    },
    /// Releases could not be picked from a channel as asked: the channel is unknown or empty,
    /// a version is not in it, the minimum is above the maximum, or no upgrade path joins them.
    #[error("channel `{channel}`: {reason}")]
    Channel {
        /// The channel.
        channel: String,
        /// What is wrong, naming the versions and edges involved.
        reason: String,
        /// The fix.
        hint: Box<Hint>,
    },
    /// An ImageSetConfiguration file that is malformed, or asks for what this version does
    /// not do yet.
    #[error("imageset config `{}`: {reason}", path.display())]
    ImageSetConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong: the line and the field's path in the file (`mirror.operators`).
        reason: String,
        /// The fix.
        hint: Box<Hint>,
    },
    /// A bundle on disk (docs/bundles.md) that cannot be written, read or published as asked:
    /// a missing or damaged file, an unknown metadata version, a directory that is not a
    /// bundle, too little free space, an earlier bundle's blobs the target lacks.
    #[error("bundle `{}`: {reason}", path.display())]
    Bundle {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// The fix.
        hint: Box<Hint>,
    },
}

/// Why a registry's TLS certificate was refused, read from the TLS library's error type (not
/// its text), so each cause gets its own message and hint. Never transient.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertProblem {
    /// Not signed by a trusted CA (a private CA not passed with `--ca-file`, a self-signed
    /// certificate, another CA of the same name as a trusted one).
    UnknownIssuer,
    /// The certificate does not name the host we connected to.
    NotValidForName {
        /// The name we connected to, when the TLS library reports it.
        expected: Option<String>,
        /// The names the certificate holds (DNS names and IP addresses), when reported.
        presented: Vec<String>,
    },
    /// The certificate (or one in its chain) has expired.
    Expired {
        /// Its `notAfter` as an HTTP date, when reported.
        not_after: Option<String>,
    },
    /// Any other certificate refusal (not yet valid, revoked, bad signature, wrong purpose).
    Other {
        /// The TLS library's description.
        reason: String,
    },
}

impl std::fmt::Display for CertProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertProblem::UnknownIssuer => {
                f.write_str("the server certificate is signed by an unknown CA")
            }
            CertProblem::NotValidForName {
                expected,
                presented,
            } => {
                f.write_str("the server certificate is not valid for ")?;
                match expected {
                    Some(e) => write!(f, "`{e}`")?,
                    None => f.write_str("this host name")?,
                }
                if !presented.is_empty() {
                    let names: Vec<String> = presented.iter().map(|n| format!("`{n}`")).collect();
                    write!(f, " (it names {})", names.join(", "))?;
                }
                Ok(())
            }
            CertProblem::Expired { not_after } => {
                f.write_str("the server certificate has expired")?;
                if let Some(t) = not_after {
                    write!(f, " (not after `{t}`)")?;
                }
                Ok(())
            }
            CertProblem::Other { reason } => {
                write!(f, "the server certificate was refused: {reason}")
            }
        }
    }
}

/// What an object store answered (or why it could not be reached), for
/// [`Error::ObjectStorage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object storage `{endpoint}`, bucket `{bucket}`: {op}: {}", storage_message(*status, code.as_deref(), detail))]
pub struct ObjectStorageFailure {
    /// What was tried (`list the bucket`, `write a test object`, ...).
    pub op: &'static str,
    /// The endpoint URL.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The HTTP status, when the store answered.
    pub status: Option<u16>,
    /// The store's error code (`NoSuchBucket`, `InvalidAccessKeyId`, ...).
    pub code: Option<String>,
    /// The store's message, or the transport's error chain.
    pub detail: String,
    /// The credentials file in use, for the hint.
    pub credentials: PathBuf,
}

fn storage_message(status: Option<u16>, code: Option<&str>, detail: &str) -> String {
    match (status, code) {
        (None, _) => format!("cannot connect: {detail}"),
        (Some(st), Some(c)) => format!("answered {st} {c}: {detail}"),
        (Some(st), None) if detail.is_empty() => format!("answered {st}"),
        (Some(st), None) => format!("answered {st}: {detail}"),
    }
}

fn connection_message(tries: u32, detail: &str, cert: Option<&CertProblem>) -> String {
    match cert {
        Some(p) => format!("{p}: {detail}"),
        None if tries == 1 => format!("connection failed: {detail}"),
        None => format!("connection failed after {tries} tries: {detail}"),
    }
}

impl Error {
    /// The likely fix, for errors that have one, as data a program words in its own terms.
    pub fn hint(&self) -> Option<Hint> {
        Some(match self {
            Error::HostPackages { hint, .. } => Hint::Run {
                advice: hint.clone(),
            },
            Error::KeptRunning { hint, .. } => hint.clone(),
            Error::Connection {
                cert: Some(CertProblem::UnknownIssuer),
                target,
                ..
            } => Hint::TrustCa {
                target: target.clone(),
            },
            Error::Connection {
                cert:
                    Some(CertProblem::NotValidForName {
                        expected,
                        presented,
                    }),
                target,
                ..
            } => Hint::CertificateName {
                target: target.clone(),
                expected: expected.clone(),
                presented: presented.clone(),
            },
            Error::Connection {
                cert: Some(CertProblem::Expired { .. }),
                ..
            } => Hint::CertificateExpired,
            Error::Connection {
                cert: Some(CertProblem::Other { .. }),
                ..
            } => Hint::CertificateUnusable,
            Error::Connection { .. } => Hint::CheckConnection,
            Error::Registry {
                status: 401,
                auth_entry: Some(entry),
                ..
            } => Hint::CheckCredentials {
                entry: entry.to_string(),
            },
            Error::Registry {
                status: 401,
                target,
                ..
            } => Hint::AddCredentials {
                target: target.clone(),
            },
            Error::Registry { status: 403, .. } => Hint::CheckPermissions,
            Error::Registry {
                status: 404, code, ..
            } if code.as_deref() == Some("MANIFEST_UNKNOWN")
                || code.as_deref() == Some("NAME_UNKNOWN")
                || code.is_none() =>
            {
                Hint::CheckReference
            }
            Error::Registry {
                status: 429, tries, ..
            } => Hint::RateLimited { tries: *tries },
            Error::Registry { status: 405, .. } => Hint::ReadOnlyRegistry,
            Error::Registry { status: 413, .. } => Hint::BodyTooLarge,
            Error::Registry { status, .. } if *status >= 500 => Hint::RegistryFailing,
            Error::ConfigFile { .. } => Hint::ConfigFields,
            Error::AuthFile { .. } => Hint::AuthFileFormat,
            Error::DigestMismatch { .. } => Hint::CorruptSource,
            Error::Image { source, .. } => return source.hint(),
            Error::Htpasswd { .. } => Hint::HtpasswdFormat,
            Error::PasswordChange { .. } => Hint::RotatePassword,
            Error::WouldOverwrite { path } => Hint::WouldOverwrite { path: path.clone() },
            Error::PortInUse { port, .. } => Hint::PortInUse { port: *port },
            Error::BadCertificate { certs_dir, .. } => Hint::RegenerateCertificate {
                certs_dir: certs_dir.clone(),
            },
            Error::ToolMissing { install, .. } => Hint::Run {
                advice: install.clone(),
            },
            Error::StorageCredentials { path, .. } => {
                Hint::StorageCredentials { file: path.clone() }
            }
            Error::ObjectStorage(f) => crate::storage::hint_for(
                f.status,
                f.code.as_deref(),
                &f.endpoint,
                &f.bucket,
                &f.credentials,
            ),
            Error::Runtime { log: Some(log), .. } => Hint::ReadLog { log: log.clone() },
            Error::ImageArchive { .. } => Hint::MakeImageArchive,
            Error::Firewall { port, open, .. } => Hint::FirewallPort {
                port: *port,
                open: *open,
            },
            Error::GraphFetch { hint, .. }
            | Error::Channel { hint, .. }
            | Error::ImageSetConfig { hint, .. }
            | Error::Bundle { hint, .. } => (**hint).clone(),
            Error::GraphInvalid { .. } => Hint::GraphFormat,
            Error::Tls(e) => return tls_hint(e),
            Error::Net(e) | Error::InstallConfigNetworks { source: e, .. } => {
                Hint::Worded { advice: e.hint()? }
            }
            Error::InvalidSize { .. } => Hint::SizeFormat,
            Error::InvalidPort { .. } => Hint::PortRange,
            Error::InvalidAddress { .. } => Hint::BindAddress,
            Error::SettingMissing { hint, .. } => hint.clone(),
            Error::Setting { source, .. } => return source.hint(),
            Error::UnknownName { kind, known, .. } => Hint::KnownNames {
                kind,
                known: known.clone(),
            },
            Error::InstallConfigSyntax { .. } => Hint::InstallConfigFormat,
            Error::PreflightFailed { .. } => Hint::RunPreflight,
            Error::SignatureRejected { .. } => Hint::SignatureRejected,
            Error::SignatureRequired { .. } => Hint::SignatureUnavailable,
            Error::SignatureKey { .. } => Hint::SignatureKeyFormat,
            _ => return None,
        })
    }

    /// True when the input was at fault (a bad flag, setting, reference, size or config file):
    /// a program exits with its usage code (mirrorctl: 2). False when the command ran and
    /// found a problem (mirrorctl: 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::InvalidReference { .. }
                | Error::InvalidSetting { .. }
                | Error::InvalidSize { .. }
                | Error::InvalidPort { .. }
                | Error::InvalidAddress { .. }
                | Error::SecretFile { .. }
                | Error::SettingMissing { .. }
                | Error::Setting { .. }
                | Error::UnknownName { .. }
                | Error::ConfigFile { .. }
                | Error::InstallConfigSyntax { .. }
                | Error::InstallConfigNetworks { .. }
                | Error::Channel { .. }
                | Error::ImageSetConfig { .. }
        )
    }

    /// True for a failure worth another attempt: a connection error (not a refused
    /// certificate), a transient status (`408`, `429`, `500`, `502`, `503`, `504`), or bytes
    /// that did not match their digest, on a single attempt. An error that already went
    /// through its own retries is final: retrying it again would multiply attempts.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connection { cert, tries, .. } => cert.is_none() && *tries <= 1,
            Error::Registry { status, tries, .. } => {
                crate::registry::transient_status(*status) && *tries <= 1
            }
            Error::DigestMismatch { tries, .. } => *tries <= 1,
            Error::Image { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// The wait the registry asked for before another attempt, if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Registry { retry_after, .. } => {
                retry_after.map(|s| std::time::Duration::from_secs(s.into()))
            }
            Error::Image { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    /// The same error, saying `attempts` attempts were made.
    pub(crate) fn with_tries(mut self, attempts: u32) -> Self {
        match &mut self {
            Error::Registry { tries, .. }
            | Error::Connection { tries, .. }
            | Error::DigestMismatch { tries, .. } => *tries = attempts,
            Error::Image { source, .. } => {
                let inner = std::mem::replace(
                    source.as_mut(),
                    Error::Cancelled {
                        what: String::new(),
                    },
                );
                **source = inner.with_tries(attempts);
            }
            _ => {}
        }
        self
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<mirror_tls::fsutil::FileError> for Error {
    fn from(e: mirror_tls::fsutil::FileError) -> Self {
        Error::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}

/// A `mirror-tls` hint as data: the two that tell to replace certificates become their own
/// hints (a program words how to replace them); the others name no flag and stay as worded.
fn tls_hint(e: &mirror_tls::Error) -> Option<Hint> {
    match e {
        mirror_tls::Error::CaNotReplaced { dir, .. } => Some(Hint::ReplaceCa {
            certs_dir: dir.clone(),
        }),
        mirror_tls::Error::ForeignCertificate { path } => Some(Hint::ForeignCertificate {
            certs_dir: path.parent().map(PathBuf::from).unwrap_or_default(),
        }),
        other => other.hint().map(|advice| Hint::Worded { advice }),
    }
}

/// An error and its causes as one line, `a: b: c`, as programs print them.
///
/// ```
/// let e = mirror_core::size::parse_size("lots").unwrap_err();
/// assert_eq!(
///     mirror_core::ErrorChain(&e).to_string(),
///     "invalid size `lots`: expected a number first"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

/// ` and rewrite `a` and `b``, or nothing without files.
fn and_rewrite(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    let names: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
    format!(" and rewrite {}", names.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each certificate problem has its own message and hint, and none is retried; a plain
    /// connection failure is.
    #[test]
    fn certificate_problems() {
        let conn = |cert: Option<CertProblem>| Error::Connection {
            op: "get manifest",
            target: "mirror:5000/ocp4/release:4.14.1".into(),
            tries: 1,
            detail: "invalid peer certificate".into(),
            cert,
        };
        let table = [
            (
                Some(CertProblem::UnknownIssuer),
                "get manifest `mirror:5000/ocp4/release:4.14.1`: the server certificate is signed by an unknown CA: invalid peer certificate",
                "unknown CA: trust that CA",
                false,
            ),
            (
                Some(CertProblem::NotValidForName {
                    expected: Some("mirror".into()),
                    presented: vec!["registry.example".into(), "10.0.0.5".into()],
                }),
                "get manifest `mirror:5000/ocp4/release:4.14.1`: the server certificate is not valid for `mirror` (it names `registry.example`, `10.0.0.5`): invalid peer certificate",
                "reissue the registry's certificate with this name as a subjectAltName",
                false,
            ),
            (
                Some(CertProblem::Expired {
                    not_after: Some("Wed, 01 Jan 2020 00:00:00 GMT".into()),
                }),
                "get manifest `mirror:5000/ocp4/release:4.14.1`: the server certificate has expired (not after `Wed, 01 Jan 2020 00:00:00 GMT`): invalid peer certificate",
                "renew the registry's certificate",
                false,
            ),
            (
                Some(CertProblem::Other {
                    reason: "certificate revoked".into(),
                }),
                "get manifest `mirror:5000/ocp4/release:4.14.1`: the server certificate was refused: certificate revoked: invalid peer certificate",
                "unusable for TLS",
                false,
            ),
            (
                None,
                "get manifest `mirror:5000/ocp4/release:4.14.1`: connection failed: invalid peer certificate",
                "check the registry host and port",
                true,
            ),
        ];
        for (cert, message, hint, transient) in table {
            let e = conn(cert);
            assert_eq!(e.to_string(), message);
            let h = e.hint().unwrap().to_string();
            assert!(h.contains(hint), "{message}: {h}");
            assert_eq!(e.is_transient(), transient, "{message}");
        }
    }

    /// Every error with a cause, wrapped as deep as the code wraps them: no message repeats
    /// its cause, so the chain a program prints names each cause once.
    #[test]
    fn causes_are_in_source_not_in_the_message() {
        let os = || std::io::Error::from_raw_os_error(13);
        let io = || Error::io("write", "/opt/registry/auth/htpasswd", os());
        let tls = || {
            Error::Tls(mirror_tls::Error::Read {
                path: "/opt/registry/certs/ca.crt".into(),
                source: os(),
            })
        };
        let net = || {
            Error::Net(mirror_net::Error::Bind {
                addr: "0.0.0.0:5000".parse().unwrap(),
                source: os(),
            })
        };
        let errors: Vec<(Box<dyn std::error::Error + 'static>, &str)> = vec![
            (
                Box::new(io()),
                "write `/opt/registry/auth/htpasswd`: Permission denied (os error 13)",
            ),
            (
                Box::new(Error::Image {
                    image: "etcd quay.io/x@sha256:00".into(),
                    source: Box::new(io()),
                }),
                "etcd quay.io/x@sha256:00: write `/opt/registry/auth/htpasswd`: Permission denied (os error 13)",
            ),
            (
                Box::new(tls()),
                "cannot read `/opt/registry/certs/ca.crt`: Permission denied (os error 13)",
            ),
            (
                Box::new(net()),
                "bind `0.0.0.0:5000`: Permission denied (os error 13)",
            ),
            (
                Box::new(Error::Setting {
                    name: "--min-free".into(),
                    source: Box::new(crate::size::parse_size("lots").unwrap_err()),
                }),
                "--min-free: invalid size `lots`: expected a number first",
            ),
            (
                Box::new(Error::HostFact {
                    what: "count CPUs".into(),
                    source: Some(os()),
                }),
                "count CPUs: Permission denied (os error 13)",
            ),
            (
                Box::new(Error::InstallConfigNetworks {
                    path: "ic.yaml".into(),
                    source: mirror_net::Error::InvalidCidr {
                        input: "x".into(),
                        reason: "empty".into(),
                    },
                }),
                "`ic.yaml`: invalid CIDR `x`: empty",
            ),
            (
                Box::new(crate::install::InstallError {
                    step: crate::install::Step::Certificates,
                    source: tls(),
                    done: vec![],
                }),
                "step `certificates` failed: cannot read `/opt/registry/certs/ca.crt`: Permission denied (os error 13)",
            ),
        ];
        for (e, chain) in &errors {
            let mut level: &dyn std::error::Error = e.as_ref();
            while let Some(cause) = level.source() {
                assert!(
                    !level.to_string().contains(&cause.to_string()),
                    "`{level}` repeats its cause `{cause}`"
                );
                level = cause;
            }
            assert_eq!(ErrorChain(e.as_ref()).to_string(), *chain);
        }
    }

    /// Wrapped errors of the lower crates keep their hint; the two that say to replace
    /// certificates become data, so no flag of one program is named.
    #[test]
    fn wrapped_errors_keep_their_hints() {
        let hint = |e: Error| e.hint().map(|h| h.to_string());
        assert_eq!(
            hint(Error::Net(mirror_net::Error::HostBitsSet {
                input: "10.0.0.1/16".into(),
                canonical: "10.0.0.0/16".parse().unwrap(),
            })),
            Some("did you mean `10.0.0.0/16`".into())
        );
        let replace = Error::Tls(mirror_tls::Error::CaNotReplaced {
            dir: "/opt/registry/certs".into(),
            reason: "`ca.key` is missing".into(),
        });
        assert_eq!(
            replace.hint(),
            Some(Hint::ReplaceCa {
                certs_dir: "/opt/registry/certs".into()
            })
        );
        assert!(!hint(replace).unwrap().contains("--"));
        let subject = Error::Tls(mirror_tls::Error::SubjectMissingKey {
            path: None,
            key: "state",
        });
        assert_eq!(hint(subject), Some("add a line `state=...`".into()));
    }

    #[test]
    fn usage_or_problem() {
        let table: Vec<(Error, bool)> = vec![
            (crate::size::parse_size("x").unwrap_err(), true),
            (crate::runtime::validate_port(0).unwrap_err(), true),
            (
                Error::Setting {
                    name: "--to".into(),
                    source: Box::new(Error::io("read", "x", std::io::Error::other("x"))),
                },
                true,
            ),
            (
                Error::UnknownName {
                    kind: "check",
                    name: "x".into(),
                    known: vec![],
                },
                true,
            ),
            (Error::io("read", "x", std::io::Error::other("x")), false),
            (
                Error::PreflightFailed {
                    failures: vec!["disk: full".into()],
                },
                false,
            ),
            (
                Error::Tls(mirror_tls::Error::SubjectMissingKey {
                    path: None,
                    key: "state",
                }),
                false,
            ),
        ];
        for (e, usage) in table {
            assert_eq!(e.is_usage(), usage, "{e}");
        }
    }
}
