//! The crate's one error type.

use std::fmt;
use std::path::{Path, PathBuf};

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `mirror-tls`.
///
/// Messages are lowercase, carry the offending input in backticks and leave the underlying
/// cause to [`std::error::Error::source`], so a caller can print the chain as `a: b: c`.
/// [`Error::hint`] gives a likely fix where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line of the certificate subject file is not `key=value`.
    #[error("{}: expected `key=value`, found `{text}`", Line(.path, *.line))]
    SubjectSyntax {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The line as written (trimmed).
        text: String,
    },
    /// A key of the certificate subject file is not one of the five known keys.
    #[error("{}: unknown key `{key}`", Line(.path, *.line))]
    SubjectUnknownKey {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A key of the certificate subject file is set twice.
    #[error("{}: duplicate key `{key}` (first set on line {first})", Line(.path, *.line))]
    SubjectDuplicateKey {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The key.
        key: String,
        /// 1-based line number of the first occurrence.
        first: usize,
    },
    /// A key of the certificate subject file has an empty value.
    #[error("{}: empty value for `{key}`", Line(.path, *.line))]
    SubjectEmptyValue {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
    /// A value of the certificate subject file opens a quote it does not close.
    #[error("{}: unbalanced quote in value for `{key}`: `{value}`", Line(.path, *.line))]
    SubjectUnbalancedQuote {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// The `countrycode` of the certificate subject file is not two ASCII letters.
    #[error("{}: country code `{value}` is not two ASCII letters", Line(.path, *.line))]
    SubjectBadCountry {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The value as written.
        value: String,
    },
    /// A required key of the certificate subject file is absent.
    #[error("{}missing key `{key}`", File(.path))]
    SubjectMissingKey {
        /// The file, when parsed from one.
        path: Option<PathBuf>,
        /// The missing key.
        key: &'static str,
    },
    /// A generation option is not usable (bad host name, zero days, ...).
    #[error("invalid {option} `{value}`: {reason}")]
    InvalidOption {
        /// The option's name (`hostname`, `dns name`, `days`, `registry`, ...).
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A file or directory could not be read.
    #[error("cannot read `{}`", .path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be written, created or removed.
    #[error("cannot write `{}`", .path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds no certificate, or a certificate that cannot be parsed.
    #[error("bad certificate in `{what}`: {reason}")]
    Certificate {
        /// Which input (a path or a description such as `CA PEM`).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A PEM file holds no private key, or one that cannot be used.
    #[error("bad private key in `{what}`: {reason}")]
    PrivateKey {
        /// Which input (a path or a description).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Certificate generation or signing failed.
    #[error("cannot generate {what}")]
    Generate {
        /// What was being generated (`CA key`, `server certificate`, ...).
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The directory holds CA files that cannot be used and are not replaced without `force`:
    /// a lone `ca.crt` or `ca.key`, a key that does not match, a certificate that is not a CA
    /// or one about to expire.
    #[error("refusing to replace the CA in `{}`: {reason}", .dir.display())]
    CaNotReplaced {
        /// The certificate directory.
        dir: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The directory holds a server certificate and key but no CA to renew them with.
    #[error("refusing to replace `{}`: it was not issued by a CA in this directory", .path.display())]
    ForeignCertificate {
        /// The server certificate.
        path: PathBuf,
    },
    /// The os-release file names no supported distribution family.
    #[error("unsupported operating system `{id}` (ID_LIKE `{id_like}`)")]
    UnsupportedOs {
        /// The `ID` value.
        id: String,
        /// The `ID_LIKE` value.
        id_like: String,
    },
    /// The trust store refresh command could not be started.
    #[error("cannot run `{command}`")]
    RefreshSpawn {
        /// The command line.
        command: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The trust store refresh command failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    RefreshFailed {
        /// The command line.
        command: String,
        /// The exit status as printed by the OS.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

impl Error {
    /// True when the input was at fault (the certificate subject file, a generation option): a
    /// program exits with its usage code. False when the command ran and found a problem.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::SubjectSyntax { .. }
                | Error::SubjectUnknownKey { .. }
                | Error::SubjectDuplicateKey { .. }
                | Error::SubjectEmptyValue { .. }
                | Error::SubjectUnbalancedQuote { .. }
                | Error::SubjectBadCountry { .. }
                | Error::SubjectMissingKey { .. }
                | Error::InvalidOption { .. }
        )
    }

    /// A likely fix for this error, if there is one, for the CLI to print as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::SubjectUnknownKey { .. } => Some(
                "the keys are `countrycode`, `state`, `locality`, `organization` and `unit`".into(),
            ),
            Error::SubjectDuplicateKey { key, .. } => {
                Some(format!("keep one `{key}=` line and delete the other"))
            }
            Error::SubjectMissingKey { key, .. } => Some(format!("add a line `{key}=...`")),
            Error::SubjectBadCountry { .. } => {
                Some("use a two-letter ISO 3166 country code such as `US` or `DE`".into())
            }
            Error::SubjectSyntax { .. } => {
                Some("write one `key=value` per line; `#` starts a comment line".into())
            }
            Error::Read { source, .. } | Error::Write { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Some("run as root, or choose a directory you can write".into())
            }
            Error::CaNotReplaced { .. } => Some(
                "rerun with `--force` to replace the CA and every certificate; clients that \
                 trust the old CA must then trust the new one"
                    .into(),
            ),
            Error::ForeignCertificate { .. } => Some(
                "put its CA in `ca.crt` and `ca.key` beside it, or rerun with `--force` to \
                 replace it with a certificate from a new CA"
                    .into(),
            ),
            Error::UnsupportedOs { .. } => Some(
                "copy the CA into the system trust store by hand and run the distribution's \
                 trust update command"
                    .into(),
            ),
            Error::RefreshSpawn { command, .. } => {
                let package = if command.starts_with("update-ca-trust") {
                    "ca-certificates (dnf install ca-certificates)"
                } else {
                    "ca-certificates (apt-get install ca-certificates)"
                };
                Some(format!("install {package}"))
            }
            Error::RefreshFailed { command, .. } => Some(format!("run `{command}` as root")),
            _ => None,
        }
    }
}

/// `` `path` line N `` or `line N`, the location prefix of subject file errors.
struct Line<'a>(&'a Option<PathBuf>, usize);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "`{}` line {}", path.display(), self.1),
            None => write!(f, "line {}", self.1),
        }
    }
}

/// `` `path`: `` or nothing.
struct File<'a>(&'a Option<PathBuf>);

impl fmt::Display for File<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "`{}`: ", path.display()),
            None => Ok(()),
        }
    }
}

impl From<crate::fsutil::FileError> for Error {
    /// A failed read or `stat` is [`Error::Read`]; anything else (write, create, sync, chmod)
    /// is [`Error::Write`].
    fn from(e: crate::fsutil::FileError) -> Self {
        match e.action {
            "read" | "stat" => Error::Read {
                path: e.path,
                source: e.source,
            },
            _ => Error::Write {
                path: e.path,
                source: e.source,
            },
        }
    }
}

pub(crate) fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn generate_err<E>(what: &'static str) -> impl FnOnce(E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| Error::Generate {
        what,
        source: Box::new(source),
    }
}
