//! Generating the mirror registry's CA and server certificate.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256, RsaKeySize, SanType, SerialNumber,
};
use serde::Serialize;

use crate::error::{Error, Result, generate_err};
use crate::inspect::{self, San};
use crate::subject::Subject;

/// How far in the past `notBefore` is set, to tolerate clock skew between hosts.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// OID of `emailAddress` (PKCS #9), which rcgen has no [`DnType`] for.
const EMAIL_ADDRESS_OID: [u64; 7] = [1, 2, 840, 113_549, 1, 9, 1];

/// The kind of key to generate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// RSA with a 4096-bit modulus, signed with SHA-256: what `createMirrorRegistry.sh` made.
    #[default]
    Rsa4096,
    /// RSA with a 2048-bit modulus, signed with SHA-256.
    Rsa2048,
    /// ECDSA on P-256, signed with SHA-256.
    EcdsaP256,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa4096 => "RSA 4096",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::EcdsaP256 => "ECDSA P-256",
        })
    }
}

/// What to put in the CA and server certificate.
///
/// ```
/// let opts = mirror_tls::GenerateOptions {
///     hostname: "mirror.example.com".into(),
///     ..Default::default()
/// };
/// assert_eq!((opts.days, opts.ca_days), (825, 3650));
/// assert_eq!(opts.key_type, mirror_tls::KeyType::Rsa4096);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// `C`, `ST`, `L`, `O`, `OU` of both certificates. Default: empty (left out).
    pub subject: Subject,
    /// `emailAddress` of the server certificate's subject. Default: none.
    pub email: Option<String>,
    /// The registry's host name (or IP address): the server certificate's `CN` and first SAN.
    /// Required; default empty.
    pub hostname: String,
    /// More DNS names for the SAN list (`*.example.com` allowed). Default: none.
    pub dns_names: Vec<String>,
    /// IP addresses for the SAN list, e.g. the host's addresses. Default: none.
    pub ip_addresses: Vec<IpAddr>,
    /// Validity of the server certificate in days. Default: 825 (the longest that Apple
    /// platforms accept).
    pub days: u32,
    /// Validity of the CA certificate in days. Default: 3650.
    pub ca_days: u32,
    /// Key type of both certificates. Default: [`KeyType::Rsa4096`].
    pub key_type: KeyType,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            subject: Subject::default(),
            email: None,
            hostname: String::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            days: 825,
            ca_days: 3650,
            key_type: KeyType::default(),
        }
    }
}

impl GenerateOptions {
    /// The server certificate's subject alternative names, in order and without duplicates:
    /// the host name, its short name (first label, when different), every extra DNS name, every
    /// IP address. Fails on an empty or malformed name.
    pub fn requested_sans(&self) -> Result<Vec<San>> {
        let mut out: Vec<San> = Vec::new();
        let mut push = |san: San| {
            if !out.contains(&san) {
                out.push(san);
            }
        };
        match host_san(&self.hostname)? {
            San::Ip(ip) => push(San::Ip(ip)),
            San::Dns(name) => {
                if let Some((short, _)) = name.split_once('.') {
                    let short = short.to_string();
                    push(San::Dns(name));
                    push(San::Dns(short));
                } else {
                    push(San::Dns(name));
                }
            }
        }
        for name in &self.dns_names {
            push(San::Dns(dns_name("dns name", name, true)?));
        }
        for ip in &self.ip_addresses {
            push(San::Ip(*ip));
        }
        Ok(out)
    }

    pub(crate) fn validate(&self) -> Result<Vec<San>> {
        for (option, days) in [("days", self.days), ("ca days", self.ca_days)] {
            if days == 0 {
                return Err(Error::InvalidOption {
                    option,
                    value: "0".into(),
                    reason: "a certificate must be valid for at least one day".into(),
                });
            }
        }
        if let Some(email) = &self.email {
            email_value(email)?;
        }
        self.requested_sans()
    }
}

/// A PEM certificate with its PEM private key. `Debug` does not show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS #8 when generated here).
    pub key_pem: String,
}

impl fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertAndKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Generates a self-signed CA: `CA:TRUE`, key usage `keyCertSign, cRLSign`, subject from
/// `opts.subject` with `CN=mirrorctl CA for <hostname>`, valid `opts.ca_days` from an hour
/// before `now`.
pub fn generate_ca(opts: &GenerateOptions, now: SystemTime) -> Result<CertAndKey> {
    opts.validate()?;
    let key = generate_key(opts.key_type, "CA key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject_dn(&opts.subject);
    let cn: String = format!("mirrorctl CA for {}", opts.hostname.to_ascii_lowercase())
        .chars()
        .take(64)
        .collect();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial());
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + days(opts.ca_days)).into();
    let cert = params
        .self_signed(&key)
        .map_err(generate_err("CA certificate"))?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a server certificate signed by `ca`: subject from `opts.subject` plus
/// `CN=<hostname>` and `emailAddress`, the SANs of [`GenerateOptions::requested_sans`],
/// `CA:FALSE`, extended key usage `serverAuth`, key usage `digitalSignature` (and
/// `keyEncipherment` for RSA), valid `opts.days` from an hour before `now` but never past the
/// CA's own `notAfter`.
///
/// The returned `cert_pem` holds the server certificate only; [`ensure_certificates`](crate::ensure_certificates) appends
/// the CA to make `domain.crt`.
pub fn issue_server_cert(
    ca: &CertAndKey,
    opts: &GenerateOptions,
    now: SystemTime,
) -> Result<CertAndKey> {
    let sans = opts.validate()?;
    let ca_ders = inspect::parse_certs(ca.cert_pem.as_bytes(), "CA certificate")?;
    let ca_x509 = inspect::parse_x509(&ca_ders[0], "CA certificate")?;
    let ca_key = inspect::parse_key(ca.key_pem.as_bytes(), "CA key")?;
    let issuer = Issuer::from_ca_cert_der(&ca_ders[0], ca_key)
        .map_err(generate_err("issuer from CA certificate"))?;

    let key = generate_key(opts.key_type, "server key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject_dn(&opts.subject);
    let hostname = opts.hostname.trim_end_matches('.').to_ascii_lowercase();
    if hostname.len() <= 64 {
        params
            .distinguished_name
            .push(DnType::CommonName, hostname.as_str());
    }
    if let Some(email) = &opts.email {
        params.distinguished_name.push(
            DnType::CustomDnType(EMAIL_ADDRESS_OID.to_vec()),
            DnValue::Ia5String(email_value(email)?),
        );
    }
    params.subject_alt_names = sans
        .iter()
        .map(|san| match san {
            San::Dns(name) => Ia5String::try_from(name.as_str())
                .map(SanType::DnsName)
                .map_err(generate_err("server certificate")),
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = match opts.key_type {
        KeyType::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
        KeyType::Rsa4096 | KeyType::Rsa2048 => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
    };
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + days(opts.days))
        .min(inspect::not_after(&ca_x509))
        .into();
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(generate_err("server certificate"))?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn generate_key(key_type: KeyType, what: &'static str) -> Result<KeyPair> {
    match key_type {
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
    }
    .map_err(generate_err(what))
}

/// 16 random bytes with the top bit cleared: a positive 127-bit serial number.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

pub(crate) fn days(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 86_400)
}

fn subject_dn(subject: &Subject) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Ok(country) = subject.country.as_str().try_into() {
        dn.push(DnType::CountryName, DnValue::PrintableString(country));
    }
    for (ty, value) in [
        (DnType::StateOrProvinceName, &subject.state),
        (DnType::LocalityName, &subject.locality),
        (DnType::OrganizationName, &subject.organization),
        (DnType::OrganizationalUnitName, &subject.unit),
    ] {
        if !value.is_empty() {
            dn.push(ty, value.as_str());
        }
    }
    dn
}

fn email_value(email: &str) -> Result<Ia5String> {
    let invalid = |reason: &str| Error::InvalidOption {
        option: "email",
        value: email.to_string(),
        reason: reason.to_string(),
    };
    let (local, domain) = email
        .split_once('@')
        .ok_or_else(|| invalid("expected `name@domain`"))?;
    if local.is_empty() || domain.is_empty() || email.chars().any(char::is_whitespace) {
        return Err(invalid("expected `name@domain`"));
    }
    Ia5String::try_from(email).map_err(|_| invalid("only ASCII characters are allowed"))
}

/// The host name as a SAN: an IP address, or a validated, lower-cased DNS name.
fn host_san(hostname: &str) -> Result<San> {
    if hostname.is_empty() {
        return Err(Error::InvalidOption {
            option: "hostname",
            value: String::new(),
            reason: "a host name is required".into(),
        });
    }
    if let Ok(ip) = hostname.parse::<IpAddr>() {
        return Ok(San::Ip(ip));
    }
    dns_name("hostname", hostname, false).map(San::Dns)
}

/// Validates a DNS name (letters, digits, `-`, `_`; labels of 1 to 63 characters; at most 253
/// in all) and returns it lower case without a trailing dot. With `wildcard`, the first label
/// may be `*`.
fn dns_name(option: &'static str, name: &str, wildcard: bool) -> Result<String> {
    let invalid = |reason: &str| Error::InvalidOption {
        option,
        value: name.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err(invalid("a name is required"));
    }
    if trimmed.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    for (i, label) in trimmed.split('.').enumerate() {
        if i == 0 && label == "*" {
            if !wildcard {
                return Err(invalid("a wildcard is not allowed here"));
            }
            if !trimmed.contains('.') {
                return Err(invalid("a wildcard needs a domain after `*.`"));
            }
            continue;
        }
        if label.is_empty() || label.len() > 63 {
            return Err(invalid(
                "each dot-separated label must be 1 to 63 characters",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("only letters, digits, `-` and `_` are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a label cannot start or end with `-`"));
        }
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sans;

    #[test]
    fn requested_sans_are_ordered_and_deduplicated() {
        // (hostname, dns_names, ip_addresses, wanted SANs)
        type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let cases: &[Case] = &[
            ("mirror", &[], &[], &["mirror"]),
            (
                "mirror.example.com.",
                &["MIRROR", "*.apps.example.com"],
                &["192.0.2.1", "192.0.2.1"],
                &[
                    "mirror.example.com",
                    "mirror",
                    "*.apps.example.com",
                    "192.0.2.1",
                ],
            ),
            (
                "192.0.2.7",
                &["mirror.example.com"],
                &["192.0.2.7"],
                &["192.0.2.7", "mirror.example.com"],
            ),
        ];
        for (host, dns, ips, want) in cases {
            let o = GenerateOptions {
                hostname: host.to_string(),
                dns_names: dns.iter().map(ToString::to_string).collect(),
                ip_addresses: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
                ..Default::default()
            };
            assert_eq!(o.requested_sans().unwrap(), sans(want), "{host}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let pair = CertAndKey {
            cert_pem: "CERT".into(),
            key_pem: "SECRET".into(),
        };
        assert_eq!(
            format!("{pair:?}"),
            r#"CertAndKey { cert_pem: "CERT", key_pem: "<redacted>" }"#
        );
    }
}
