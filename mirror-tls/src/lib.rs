//! Certificates and trust for a mirror registry.
//!
//! What `createMirrorRegistry.sh` did with `openssl`, as functions:
//!
//! - [`Subject::from_file`] reads the script's `certificate` file (`countrycode=US`, `state=`,
//!   `locality=`, `organization=`, `unit=`).
//! - [`ensure_certificates`] makes a directory hold a CA (`ca.crt`, `ca.key`) and a server
//!   certificate with subject alternative names (`domain.crt` with the CA appended,
//!   `domain.key`), as the `registry:2` image wants them; it keeps valid files, renews a
//!   server certificate close to expiry from the same CA, and never replaces a CA without
//!   `force`.
//! - [`verify`] checks a certificate chain and key the way Go clients will (SANs, chain, dates,
//!   key match) and returns a [`VerifyReport`] that serializes to JSON.
//! - [`install_trust`] / [`remove_trust`] put the CA in the system trust store and in
//!   `/etc/containers/certs.d/<host:port>/`.
//!
//! Nothing here prints or exits; time is a parameter (`now`) so that expiry logic is testable.
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::SystemTime;
//!
//! # fn main() -> Result<(), mirror_tls::Error> {
//! let opts = mirror_tls::GenerateOptions {
//!     subject: mirror_tls::Subject::from_file(Path::new("certificate"))?,
//!     email: Some("admin@example.com".into()),
//!     hostname: "mirror.example.com".into(),
//!     ip_addresses: vec!["192.0.2.10".parse().unwrap()],
//!     ..Default::default()
//! };
//! let dir = Path::new("/opt/registry/certs");
//! let outcome = mirror_tls::ensure_certificates(dir, &opts, false, SystemTime::now())?;
//! println!("{:?}: {:?}", outcome.action, outcome.sans);
//!
//! let report = mirror_tls::verify_dir(dir, Some("mirror.example.com:5000"), SystemTime::now())?;
//! assert!(report.ok, "{:?}", report.failures().collect::<Vec<_>>());
//!
//! let family = mirror_tls::read_os_family(Path::new("/"))?;
//! let ca_pem = std::fs::read_to_string(&outcome.paths.ca_cert).unwrap();
//! let trust = mirror_tls::TrustOptions::new("/", ca_pem, "mirror.example.com:5000", family);
//! mirror_tls::install_trust(&trust)?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod cert_dir;
mod error;
pub mod fsutil;
mod generate;
mod inspect;
mod subject;
#[cfg(test)]
mod testutil;
mod trust;
mod verify;

pub use cert_dir::{CertAction, CertOutcome, CertPaths, RENEW_WITHIN_DAYS, ensure_certificates};
pub use error::{Error, Result};
pub use generate::{CertAndKey, GenerateOptions, KeyType, generate_ca, issue_server_cert};
pub use inspect::San;
pub use subject::Subject;
pub use trust::{
    OsFamily, TrustAction, TrustOptions, TrustReport, detect_os_family, install_trust,
    read_os_family, remove_trust,
};
pub use verify::{Check, CheckName, GO_LEGACY_CN_ERROR, VerifyReport, verify, verify_dir};
