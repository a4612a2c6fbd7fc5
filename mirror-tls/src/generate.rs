//! Generating the mirror registry's CA and server certificate, and keeping a certificate
//! directory up to date.

use std::fmt;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256, RsaKeySize, SanType, SerialNumber,
};
use serde::Serialize;

use crate::error::{Error, Result, generate_err, write_err};
use crate::fsutil::{CERT_MODE, KEY_MODE, create_dirs, read_optional, write_atomic};
use crate::inspect::{self, San};
use crate::subject::Subject;

/// A server certificate expiring within this many days is renewed by
/// [`ensure_certificates`].
pub const RENEW_WITHIN_DAYS: u32 = 30;

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

    fn validate(&self) -> Result<Vec<San>> {
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
/// The returned `cert_pem` holds the server certificate only; [`ensure_certificates`] appends
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

/// The four files of a certificate directory, named as `createMirrorRegistry.sh` and the
/// `registry:2` image expect them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertPaths {
    /// `ca.crt`: the CA certificate, to install in trust stores.
    pub ca_cert: PathBuf,
    /// `ca.key`: the CA private key (0600).
    pub ca_key: PathBuf,
    /// `domain.crt`: the server certificate followed by the CA certificate
    /// (`REGISTRY_HTTP_TLS_CERTIFICATE`).
    pub cert: PathBuf,
    /// `domain.key`: the server private key (0600, `REGISTRY_HTTP_TLS_KEY`).
    pub key: PathBuf,
}

impl CertPaths {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> CertPaths {
        CertPaths {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            cert: dir.join("domain.crt"),
            key: dir.join("domain.key"),
        }
    }
}

/// What [`ensure_certificates`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertAction {
    /// Nothing was there: a new CA and server certificate were written.
    Created,
    /// The files were valid and cover the requested names: nothing was written.
    Kept,
    /// A new server certificate and key were issued by the existing CA.
    Renewed,
    /// `force`: a new CA and server certificate replaced what was there.
    Replaced,
}

/// The result of [`ensure_certificates`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertOutcome {
    /// What was done.
    pub action: CertAction,
    /// Why the server certificate was renewed, for [`CertAction::Renewed`].
    pub reason: Option<String>,
    /// The files.
    pub paths: CertPaths,
    /// The server certificate's DNS and IP SANs.
    pub sans: Vec<San>,
    /// The server certificate's `notAfter`.
    pub not_after: SystemTime,
}

/// Makes `dir` hold a CA and a server certificate for `opts` (see [`CertPaths`] for the
/// files), creating the directory if needed.
///
/// - Nothing there: a new CA and server certificate ([`CertAction::Created`]).
/// - A valid set (the keys match, `domain.crt` is signed by `ca.crt`, its SANs include every
///   requested name, it does not expire within [`RENEW_WITHIN_DAYS`] days): nothing is
///   written ([`CertAction::Kept`]); key files readable by others are tightened to 0600.
/// - Otherwise, with a usable CA: a new server key and certificate from the same CA
///   ([`CertAction::Renewed`]), `ca.crt` and `ca.key` untouched.
/// - `force`: a new CA and server certificate whatever was there ([`CertAction::Replaced`]).
///
/// Without `force` a CA is never replaced: a lone `ca.crt` or `ca.key`, a key that does not
/// match, a certificate that is not a CA or one that expires within [`RENEW_WITHIN_DAYS`] days
/// is an [`Error::CaNotReplaced`], and server files without a CA an
/// [`Error::ForeignCertificate`].
///
/// Every file is written atomically; keys are created 0600.
pub fn ensure_certificates(
    dir: &Path,
    opts: &GenerateOptions,
    force: bool,
    now: SystemTime,
) -> Result<CertOutcome> {
    let wanted = opts.validate()?;
    let paths = CertPaths::in_dir(dir);
    let ca_cert = read_optional(&paths.ca_cert)?;
    let ca_key = read_optional(&paths.ca_key)?;
    let cert = read_optional(&paths.cert)?;
    let key = read_optional(&paths.key)?;

    let ca = if force {
        None
    } else {
        match (&ca_cert, &ca_key) {
            (None, None) => {
                if cert.is_some() {
                    return Err(Error::ForeignCertificate { path: paths.cert });
                }
                if key.is_some() {
                    return Err(Error::ForeignCertificate { path: paths.key });
                }
                None
            }
            (Some(_), None) => return Err(refuse(dir, "`ca.crt` exists without `ca.key`")),
            (None, Some(_)) => return Err(refuse(dir, "`ca.key` exists without `ca.crt`")),
            (Some(ca_cert), Some(ca_key)) => Some(usable_ca(dir, &paths, ca_cert, ca_key, now)?),
        }
    };

    let Some(ca) = ca else {
        let existed = [&ca_cert, &ca_key, &cert, &key].iter().any(|f| f.is_some());
        create_dirs(dir)?;
        let ca = generate_ca(opts, now)?;
        let leaf = issue_server_cert(&ca, opts, now)?;
        write_atomic(&paths.ca_key, ca.key_pem.as_bytes(), KEY_MODE)?;
        write_atomic(&paths.ca_cert, ca.cert_pem.as_bytes(), CERT_MODE)?;
        write_server(&paths, &ca, &leaf)?;
        let action = if existed {
            CertAction::Replaced
        } else {
            CertAction::Created
        };
        return outcome(action, None, paths, &leaf.cert_pem);
    };

    match leaf_problem(&ca, cert.as_deref(), key.as_deref(), &wanted, now) {
        None => {
            for path in [&paths.ca_key, &paths.key] {
                tighten_key_mode(path)?;
            }
            let cert = String::from_utf8_lossy(cert.as_deref().unwrap_or_default()).into_owned();
            outcome(CertAction::Kept, None, paths, &cert)
        }
        Some(reason) => {
            let leaf = issue_server_cert(&ca, opts, now)?;
            write_server(&paths, &ca, &leaf)?;
            outcome(CertAction::Renewed, Some(reason), paths, &leaf.cert_pem)
        }
    }
}

fn refuse(dir: &Path, reason: impl Into<String>) -> Error {
    Error::CaNotReplaced {
        dir: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks the existing CA pair; a problem is an error, never a reason to replace it.
fn usable_ca(
    dir: &Path,
    paths: &CertPaths,
    cert: &[u8],
    key: &[u8],
    now: SystemTime,
) -> Result<CertAndKey> {
    let ca_cert_name = paths.ca_cert.display().to_string();
    let ders = inspect::parse_certs(cert, &ca_cert_name)?;
    let x509 = inspect::parse_x509(&ders[0], &ca_cert_name)?;
    let key_pair = inspect::parse_key(key, &paths.ca_key.display().to_string())?;
    if !inspect::key_matches(&key_pair, &x509) {
        return Err(refuse(dir, "`ca.key` does not match `ca.crt`"));
    }
    if !inspect::is_ca(&x509) {
        return Err(refuse(dir, "`ca.crt` is not a CA certificate"));
    }
    let not_after = inspect::not_after(&x509);
    if inspect::days_between(now, not_after) < i64::from(RENEW_WITHIN_DAYS) {
        return Err(refuse(
            dir,
            format!(
                "`ca.crt` expires on {}, within {RENEW_WITHIN_DAYS} days",
                inspect::rfc3339(not_after)
            ),
        ));
    }
    Ok(CertAndKey {
        cert_pem: String::from_utf8_lossy(cert).into_owned(),
        key_pem: String::from_utf8_lossy(key).into_owned(),
    })
}

/// Why the server certificate must be re-issued, or `None` when it can be kept.
fn leaf_problem(
    ca: &CertAndKey,
    cert: Option<&[u8]>,
    key: Option<&[u8]>,
    wanted: &[San],
    now: SystemTime,
) -> Option<String> {
    let Some(cert) = cert else {
        return Some("`domain.crt` is missing".into());
    };
    let Some(key) = key else {
        return Some("`domain.key` is missing".into());
    };
    let ders = match inspect::parse_certs(cert, "domain.crt") {
        Ok(ders) => ders,
        Err(e) => return Some(e.to_string()),
    };
    let leaf = match inspect::parse_x509(&ders[0], "domain.crt") {
        Ok(leaf) => leaf,
        Err(e) => return Some(e.to_string()),
    };
    let key = match inspect::parse_key(key, "domain.key") {
        Ok(key) => key,
        Err(e) => return Some(e.to_string()),
    };
    if !inspect::key_matches(&key, &leaf) {
        return Some("`domain.key` does not match `domain.crt`".into());
    }
    let ca_ders = inspect::parse_certs(ca.cert_pem.as_bytes(), "ca.crt").ok()?;
    let ca_x509 = inspect::parse_x509(&ca_ders[0], "ca.crt").ok()?;
    if !inspect::signed_by(&leaf, &ca_x509) {
        return Some("`domain.crt` was not issued by `ca.crt`".into());
    }
    let have = inspect::sans(&leaf).unwrap_or_default();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|san| !have.contains(san))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Some(format!("`domain.crt` lacks {}", missing.join(", ")));
    }
    let not_after = inspect::not_after(&leaf);
    let left = inspect::days_between(now, not_after);
    if left < i64::from(RENEW_WITHIN_DAYS) {
        let verb = if left < 0 { "expired" } else { "expires" };
        return Some(format!(
            "`domain.crt` {verb} on {}, within {RENEW_WITHIN_DAYS} days",
            inspect::rfc3339(not_after)
        ));
    }
    None
}

/// Writes `domain.key`, then `domain.crt` (server certificate followed by the CA).
fn write_server(paths: &CertPaths, ca: &CertAndKey, leaf: &CertAndKey) -> Result<()> {
    let mut chain = leaf.cert_pem.clone();
    if !chain.ends_with('\n') {
        chain.push('\n');
    }
    chain.push_str(&ca.cert_pem);
    write_atomic(&paths.key, leaf.key_pem.as_bytes(), KEY_MODE)?;
    write_atomic(&paths.cert, chain.as_bytes(), CERT_MODE)
}

fn tighten_key_mode(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(crate::error::read_err(path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(KEY_MODE))
            .map_err(write_err(path))?;
    }
    Ok(())
}

fn outcome(
    action: CertAction,
    reason: Option<String>,
    paths: CertPaths,
    cert_pem: &str,
) -> Result<CertOutcome> {
    let what = paths.cert.display().to_string();
    let ders = inspect::parse_certs(cert_pem.as_bytes(), &what)?;
    let leaf = inspect::parse_x509(&ders[0], &what)?;
    Ok(CertOutcome {
        action,
        reason,
        sans: inspect::sans(&leaf).unwrap_or_default(),
        not_after: inspect::not_after(&leaf),
        paths,
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

fn days(n: u32) -> Duration {
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
