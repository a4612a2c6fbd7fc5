//! Reading PEM certificates and keys, and the facts about them that generation and
//! verification both need.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{KeyPair, PublicKeyData};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Serialize, Serializer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::error::{Error, Result};

/// A subject alternative name of a certificate.
///
/// Displays (and serializes) as `DNS:name` or `IP:address`, the way `openssl x509` prints them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum San {
    /// A `dNSName`, lower case, possibly a wildcard (`*.example.com`).
    Dns(String),
    /// An `iPAddress`.
    Ip(IpAddr),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS:{name}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

impl Serialize for San {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Every certificate in a PEM text, in order.
pub(crate) fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Certificate {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Certificate {
            what: what.to_string(),
            reason: "no `BEGIN CERTIFICATE` block".into(),
        });
    }
    Ok(certs)
}

/// Parses one DER certificate.
pub(crate) fn parse_x509<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>> {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|e| Error::Certificate {
            what: what.to_string(),
            reason: e.to_string(),
        })
}

/// The first private key of a PEM text (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub(crate) fn parse_key(pem: &[u8], what: &str) -> Result<KeyPair> {
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| Error::PrivateKey {
        what: what.to_string(),
        reason: e.to_string(),
    })?;
    KeyPair::try_from(&der).map_err(|e| Error::PrivateKey {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Whether `key` is the private half of the certificate's public key.
pub(crate) fn key_matches(key: &KeyPair, cert: &X509Certificate<'_>) -> bool {
    key.der_bytes() == cert.public_key().subject_public_key.data.as_ref()
}

/// Whether `cert` carries a valid signature by `issuer`'s key.
pub(crate) fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether the certificate says `CA:TRUE`.
pub(crate) fn is_ca(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

/// The DNS and IP subject alternative names; `None` when there is no SAN extension (or it
/// cannot be parsed). Other kinds of names are left out.
pub(crate) fn sans(cert: &X509Certificate<'_>) -> Option<Vec<San>> {
    let ext = cert.subject_alternative_name().ok()??;
    let mut out = Vec::new();
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(name) => out.push(San::Dns(name.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                    out.push(San::Ip(IpAddr::from(v4)));
                } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                    out.push(San::Ip(IpAddr::from(v6)));
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// `notAfter` as a [`SystemTime`].
pub(crate) fn not_after(cert: &X509Certificate<'_>) -> SystemTime {
    to_system_time(cert.validity().not_after.timestamp())
}

/// `notBefore` as a [`SystemTime`].
pub(crate) fn not_before(cert: &X509Certificate<'_>) -> SystemTime {
    to_system_time(cert.validity().not_before.timestamp())
}

fn to_system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

/// Whole days from `now` to `then`, rounded toward negative infinity (so an expired
/// certificate has a negative count).
pub(crate) fn days_between(now: SystemTime, then: SystemTime) -> i64 {
    let secs = match then.duration_since(now) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    secs.div_euclid(86_400)
}

/// RFC 3339 in UTC, e.g. `2027-03-01T12:00:00Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::from(t))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{t:?}"))
}

/// Serde helper: a [`SystemTime`] as RFC 3339.
pub(crate) fn serialize_rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// `RSA 4096`, `ECDSA P-256`, ... for reports.
pub(crate) fn key_description(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    "1.3.132.0.35" => "P-521".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| format!("{} bits", point.key_size()));
            format!("ECDSA {curve}")
        }
        Ok(PublicKey::Unknown(_)) | Ok(_) | Err(_) => spki.algorithm.algorithm.to_id_string(),
    }
}
