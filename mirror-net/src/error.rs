//! The one error type of `mirror-net`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;

/// Everything that can go wrong in `mirror-net`.
///
/// Each variant carries the offending input; [`Error::hint`] gives the likely fix where there is
/// one. Messages leave the underlying cause to [`std::error::Error::source`], so a caller prints
/// the chain as `a: b: c` and never sees a cause twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Text that is not a CIDR block at all.
    #[error("invalid CIDR `{input}`: {reason}")]
    InvalidCidr {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An address without a prefix length where a CIDR block was expected.
    #[error("invalid CIDR `{input}`: missing prefix length")]
    MissingPrefix {
        /// The text given.
        input: String,
        /// The address it holds.
        addr: IpAddr,
    },
    /// A CIDR block with host bits set (`10.0.0.1/16`), which the installer rejects.
    #[error("invalid CIDR `{input}`: host bits are set")]
    HostBitsSet {
        /// The text given.
        input: String,
        /// The network it was probably meant to be (`10.0.0.0/16`).
        canonical: IpNet,
    },
    /// A value in an install-config file that does not parse.
    #[error("`{field}`")]
    Field {
        /// The field path (`networking.machineNetwork[0].cidr`).
        field: String,
        /// What is wrong with its value.
        #[source]
        source: Box<Error>,
    },
    /// A file (under `/proc`, `/etc`) could not be read.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What we were doing (`read`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The host's network interfaces could not be listed.
    #[error("list network interfaces: {reason}")]
    Interfaces {
        /// The reason given by the system.
        reason: String,
    },
    /// A host name did not resolve.
    #[error("resolve `{name}`")]
    Resolve {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// A port could not be probed for a reason other than being in use.
    #[error("bind `{addr}`")]
    Bind {
        /// The address probed.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The likely fix, when there is one; the CLI prints it as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::InvalidCidr { .. } => Some(
                "write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`"
                    .to_string(),
            ),
            Error::MissingPrefix { addr, .. } => {
                let bits = if addr.is_ipv4() { 32 } else { 128 };
                Some(format!(
                    "add a prefix length: `{addr}/{bits}` is the single address"
                ))
            }
            Error::HostBitsSet { canonical, .. } => Some(format!("did you mean `{canonical}`")),
            Error::Field { source, .. } => source.hint(),
            Error::Resolve { name, .. } => Some(format!(
                "add `{name}` to DNS (or to `/etc/hosts` on this host and on every cluster node)"
            )),
            Error::Bind { addr, source } => match source.kind() {
                io::ErrorKind::PermissionDenied => Some(format!(
                    "ports below 1024 need root or CAP_NET_BIND_SERVICE: use a port like 8443 instead of {}",
                    addr.port()
                )),
                io::ErrorKind::AddrNotAvailable => Some(format!(
                    "`{}` is not an address of this host: use one of its own addresses or `0.0.0.0`",
                    addr.ip()
                )),
                _ => None,
            },
            Error::Io { .. } | Error::Interfaces { .. } => None,
        }
    }
}

/// Wrap `err` with the install-config field it came from.
pub(crate) fn in_field(field: impl Into<String>, err: Error) -> Error {
    Error::Field {
        field: field.into(),
        source: Box::new(err),
    }
}

/// `e` and its causes as `a: b: c`, as a program prints them (for tests).
#[cfg(test)]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No message repeats its cause: printed as a chain, each cause appears once.
    #[test]
    fn causes_are_in_source_not_in_the_message() {
        let os = || io::Error::from(io::ErrorKind::PermissionDenied);
        let errors = [
            Error::Io {
                action: "read",
                path: "/proc/net/tcp".into(),
                source: os(),
            },
            Error::Resolve {
                name: "mirror.example".into(),
                source: os(),
            },
            Error::Bind {
                addr: "0.0.0.0:5000".parse().unwrap(),
                source: os(),
            },
            in_field(
                "networking.machineNetwork[0].cidr",
                Error::InvalidCidr {
                    input: "x".into(),
                    reason: "empty".into(),
                },
            ),
        ];
        for e in &errors {
            let mut level: &dyn std::error::Error = e;
            while let Some(cause) = level.source() {
                assert!(
                    !level.to_string().contains(&cause.to_string()),
                    "`{level}` repeats its cause `{cause}`"
                );
                level = cause;
            }
        }
        assert_eq!(
            chain(&errors[3]),
            "`networking.machineNetwork[0].cidr`: invalid CIDR `x`: empty"
        );
        assert_eq!(
            chain(&errors[1]),
            "resolve `mirror.example`: permission denied"
        );
    }
}
