//! The one error type of `mirror-core`.

use std::path::PathBuf;

/// Everything that can go wrong in `mirror-core`.
///
/// Each variant carries the offending input (path, image reference, digest, the registry's own
/// error code and message); [`Error::hint`] gives the likely fix where there is one.
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
    #[error("{action} `{}`: {source}", path.display())]
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
        code: Option<String>,
        /// The registry's error message.
        message: Option<String>,
        /// How many attempts were made.
        tries: u32,
        /// Which auth file entry supplied credentials, if any (`host:port` key and file).
        auth_entry: Option<String>,
    },
    /// Bytes received do not hash to the digest they were requested by.
    #[error("digest mismatch for `{target}`: expected `{expected}`, got `{actual}`")]
    DigestMismatch {
        /// What was fetched or pushed.
        target: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
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
    #[error("{image}: {source}")]
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
    /// The registry did not come up, or could not be stopped.
    #[error("registry runtime: {reason}")]
    Runtime {
        /// What happened.
        reason: String,
        /// The log to read, when there is one.
        log: Option<PathBuf>,
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

fn connection_message(tries: u32, detail: &str, cert: Option<&CertProblem>) -> String {
    match cert {
        Some(p) => format!("{p}: {detail}"),
        None => format!("connection failed after {tries} tries: {detail}"),
    }
}

impl Error {
    /// The likely fix, for errors that have one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::HostPackages { hint, .. } => Some(hint.clone()),
            Error::Connection {
                cert: Some(CertProblem::UnknownIssuer),
                target,
                ..
            } => Some(format!(
                "the registry of `{target}` presents a certificate signed by an unknown CA: pass it with `--ca-file PEM` (or trust it with `mirrorctl trust install`)"
            )),
            Error::Connection {
                cert: Some(CertProblem::NotValidForName { .. }),
                ..
            } => Some(
                "use a host name the certificate names (see `openssl s_client -connect HOST:PORT`), or reissue the registry's certificate with this name as a SAN (`mirrorctl tls generate --hostname H --san NAME_OR_IP --force`); `--ca-file` does not help here".to_string(),
            ),
            Error::Connection {
                cert: Some(CertProblem::Expired { .. }),
                ..
            } => Some(
                "renew the registry's certificate (`mirrorctl tls generate` renews an expiring leaf from the same CA) and restart the registry; also check this host's clock; `--ca-file` does not help here".to_string(),
            ),
            Error::Connection {
                cert: Some(CertProblem::Other { .. }),
                ..
            } => Some(
                "the registry's certificate is unusable for TLS: check it with `mirrorctl tls verify --cert FILE --hostname HOST:PORT`".to_string(),
            ),
            Error::Connection { .. } => Some(
                "check the registry host and port, proxy settings (HTTPS_PROXY/NO_PROXY) and firewalls; plain-HTTP registries need `--insecure-registry HOST:PORT`".to_string(),
            ),
            Error::Registry { status: 401, auth_entry: Some(entry), .. } => Some(format!(
                "the credentials from {entry} were refused: check that entry's `auth` (base64 of `user:password`)"
            )),
            Error::Registry { status: 401, target, .. } => Some(format!(
                "no credentials matched the registry of `{target}`: add it to the auth file given with `-a/--registry-config`"
            )),
            Error::Registry { status: 403, .. } => Some(
                "the account is known but may not do this: check its permissions on the repository".to_string(),
            ),
            Error::Registry { status: 404, code, .. }
                if code.as_deref() == Some("MANIFEST_UNKNOWN") || code.as_deref() == Some("NAME_UNKNOWN") || code.is_none() =>
            {
                Some("check the repository and tag; `mirrorctl release info REF` lists what a release holds".to_string())
            }
            Error::Registry { status: 429, tries, .. } => Some(format!(
                "the registry kept rate-limiting after {tries} tries: lower `--max-per-registry` or rerun later (a rerun copies only what is missing)"
            )),
            Error::Registry { status: 405, .. } => Some(
                "the registry refuses this method here: it may be read-only (maintenance mode) or a pull-through cache; mirror into a writable registry".to_string(),
            ),
            Error::Registry { status: 413, .. } => Some(
                "the registry (or a proxy in front of it) refuses large request bodies: raise its body size limit".to_string(),
            ),
            Error::Registry { status, .. } if *status >= 500 => Some(
                "the registry failed repeatedly: check its logs and free disk space, then rerun (a rerun copies only what is missing)".to_string(),
            ),
            Error::ConfigFile { .. } => Some(
                "fields are camelCase (see docs/install.md); passwords go in a file named by `passwordFile`, never in the config".to_string(),
            ),
            Error::AuthFile { .. } => Some(
                "an auth file is JSON with an `auths` object whose entries hold `auth`: base64 of `user:password`".to_string(),
            ),
            Error::DigestMismatch { .. } => Some(
                "the source served corrupt or altered content: rerun; if it persists, report it to the source registry".to_string(),
            ),
            Error::Image { source, .. } => source.hint(),
            Error::Htpasswd { .. } => Some(
                "each line is `user:$2y$...` (bcrypt); rewrite the user with `mirrorctl registry user add`".to_string(),
            ),
            Error::WouldOverwrite { .. } => Some(
                "pass `--force` to replace it, or choose another `--output`".to_string(),
            ),
            Error::PortInUse { port, .. } => Some(format!(
                "stop what listens on port {port} (a registry started by the old script is a container named `mirror-registry`: `podman rm -f mirror-registry`), or pick another `--port`"
            )),
            Error::ToolMissing { install, .. } => Some(install.clone()),
            Error::Runtime { log: Some(log), .. } => Some(format!(
                "read the registry's log: `{}` (or `mirrorctl registry logs`)",
                log.display()
            )),
            _ => None,
        }
    }

    /// True for failures worth another try of a whole transfer: connection errors,
    /// 5xx, 429, and corrupt bytes in flight.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connection { cert, .. } => cert.is_none(),
            Error::Registry { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            Error::DigestMismatch { .. } => true,
            Error::Image { source, .. } => source.is_transient(),
            _ => false,
        }
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
                "pass it with `--ca-file PEM`",
                false,
            ),
            (
                Some(CertProblem::NotValidForName {
                    expected: Some("mirror".into()),
                    presented: vec!["registry.example".into(), "10.0.0.5".into()],
                }),
                "get manifest `mirror:5000/ocp4/release:4.14.1`: the server certificate is not valid for `mirror` (it names `registry.example`, `10.0.0.5`): invalid peer certificate",
                "reissue the registry's certificate with this name as a SAN",
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
                "mirrorctl tls verify",
                false,
            ),
            (
                None,
                "get manifest `mirror:5000/ocp4/release:4.14.1`: connection failed after 1 tries: invalid peer certificate",
                "check the registry host and port",
                true,
            ),
        ];
        for (cert, message, hint, transient) in table {
            let e = conn(cert);
            assert_eq!(e.to_string(), message);
            let h = e.hint().unwrap();
            assert!(h.contains(hint), "{message}: {h}");
            assert_eq!(e.is_transient(), transient, "{message}");
        }
    }
}
