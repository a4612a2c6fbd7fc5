//! Keeping a certificate directory (`ca.crt`, `ca.key`, `domain.crt`, `domain.key`) up to date:
//! create, keep, renew from the same CA, or replace on request.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil::{
    PUBLIC_MODE, SECRET_MODE, create_dirs, read_optional, tighten_mode, write_atomic,
};
use crate::generate::{CertAndKey, GenerateOptions, generate_ca, issue_server_cert};
use crate::inspect::{self, San};

/// A server certificate expiring within this many days is renewed by
/// [`ensure_certificates`].
pub const RENEW_WITHIN_DAYS: u32 = 30;

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
    /// The server certificate's `notAfter` (RFC 3339 in JSON).
    #[serde(serialize_with = "inspect::serialize_rfc3339")]
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
/// is an [`Error::CaNotReplaced`]; server files without a CA, or a `domain.crt` the CA did not
/// sign, are an [`Error::ForeignCertificate`].
///
/// Every file is written atomically; keys are created 0600.
///
/// ```no_run
/// # fn demo() -> mirror_tls::Result<()> {
/// use mirror_tls::{GenerateOptions, Subject};
/// let opts = GenerateOptions {
///     subject: Subject::from_file("certificate".as_ref())?,
///     hostname: "mirror.example.com".into(),
///     ..GenerateOptions::default()
/// };
/// let outcome = mirror_tls::ensure_certificates(
///     "/opt/registry/certs".as_ref(),
///     &opts,
///     false,
///     std::time::SystemTime::now(),
/// )?;
/// println!("{:?}", outcome.action);
/// # Ok(()) }
/// ```
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
        write_atomic(&paths.ca_key, ca.key_pem.as_bytes(), SECRET_MODE)?;
        write_atomic(&paths.ca_cert, ca.cert_pem.as_bytes(), PUBLIC_MODE)?;
        write_server(&paths, &ca, &leaf)?;
        let action = if existed {
            CertAction::Replaced
        } else {
            CertAction::Created
        };
        return outcome(action, None, paths, &leaf.cert_pem);
    };

    match leaf_problem(&ca, &paths, cert.as_deref(), key.as_deref(), &wanted, now)? {
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

/// Why the server certificate must be re-issued, or `None` when it can be kept. A
/// `domain.crt` that the CA did not sign is someone else's: an error, not a reason.
fn leaf_problem(
    ca: &CertAndKey,
    paths: &CertPaths,
    cert: Option<&[u8]>,
    key: Option<&[u8]>,
    wanted: &[San],
    now: SystemTime,
) -> Result<Option<String>> {
    let Some(cert) = cert else {
        return Ok(Some("`domain.crt` is missing".into()));
    };
    let ders = match inspect::parse_certs(cert, "domain.crt") {
        Ok(ders) => ders,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let leaf = match inspect::parse_x509(&ders[0], "domain.crt") {
        Ok(leaf) => leaf,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let ca_ders = inspect::parse_certs(ca.cert_pem.as_bytes(), "ca.crt")?;
    let ca_x509 = inspect::parse_x509(&ca_ders[0], "ca.crt")?;
    if !inspect::signed_by(&leaf, &ca_x509) {
        return Err(Error::ForeignCertificate {
            path: paths.cert.clone(),
        });
    }
    let Some(key) = key else {
        return Ok(Some("`domain.key` is missing".into()));
    };
    let key = match inspect::parse_key(key, "domain.key") {
        Ok(key) => key,
        Err(e) => return Ok(Some(e.to_string())),
    };
    if !inspect::key_matches(&key, &leaf) {
        return Ok(Some("`domain.key` does not match `domain.crt`".into()));
    }
    let have = inspect::sans(&leaf).unwrap_or_default();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|san| !have.contains(san))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Ok(Some(format!("`domain.crt` lacks {}", missing.join(", "))));
    }
    let not_after = inspect::not_after(&leaf);
    let left = inspect::days_between(now, not_after);
    if left < i64::from(RENEW_WITHIN_DAYS) {
        let verb = if left < 0 { "expired" } else { "expires" };
        return Ok(Some(format!(
            "`domain.crt` {verb} on {}, within {RENEW_WITHIN_DAYS} days",
            inspect::rfc3339(not_after)
        )));
    }
    Ok(None)
}

/// Writes `domain.key`, then `domain.crt` (server certificate followed by the CA).
fn write_server(paths: &CertPaths, ca: &CertAndKey, leaf: &CertAndKey) -> Result<()> {
    let mut chain = leaf.cert_pem.clone();
    if !chain.ends_with('\n') {
        chain.push('\n');
    }
    chain.push_str(&ca.cert_pem);
    write_atomic(&paths.key, leaf.key_pem.as_bytes(), SECRET_MODE)?;
    write_atomic(&paths.cert, chain.as_bytes(), PUBLIC_MODE)?;
    Ok(())
}

fn tighten_key_mode(path: &Path) -> Result<()> {
    tighten_mode(path, SECRET_MODE)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyType;
    use crate::generate::days;
    use crate::testutil::{openssl, sample_opts as opts, sans};
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn read_all(paths: &CertPaths) -> [Vec<u8>; 4] {
        [&paths.ca_cert, &paths.ca_key, &paths.cert, &paths.key].map(|p| std::fs::read(p).unwrap())
    }

    #[test]
    fn default_rsa_4096_chain_passes_openssl() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("certs");
        let now = SystemTime::now();
        let out = ensure_certificates(&dir, &opts(KeyType::default()), false, now).unwrap();
        let paths = CertPaths::in_dir(&dir);
        assert_eq!(
            (out.action, out.reason.as_deref(), &out.paths, &out.sans),
            (
                CertAction::Created,
                None,
                &paths,
                &sans(&[
                    "mirror.example.com",
                    "mirror",
                    "registry.example.com",
                    "192.0.2.10",
                    "::1"
                ])
            )
        );
        assert_eq!(
            inspect::days_between(now, out.not_after),
            824,
            "825 days from an hour ago"
        );

        assert_eq!(
            openssl(
                &dir,
                &["verify", "-x509_strict", "-CAfile", "ca.crt", "domain.crt"]
            ),
            "domain.crt: OK\n"
        );
        for (flag, name) in [
            ("-verify_hostname", "mirror.example.com"),
            ("-verify_hostname", "MIRROR"),
            ("-verify_hostname", "registry.example.com"),
            ("-verify_ip", "192.0.2.10"),
            ("-verify_ip", "::1"),
        ] {
            let args = [
                "verify",
                "-x509_strict",
                "-purpose",
                "sslserver",
                flag,
                name,
                "-CAfile",
                "ca.crt",
                "domain.crt",
            ];
            assert_eq!(openssl(&dir, &args), "domain.crt: OK\n", "{name}");
        }
        assert_eq!(
            openssl(
                &dir,
                &[
                    "x509",
                    "-in",
                    "domain.crt",
                    "-noout",
                    "-ext",
                    "subjectAltName"
                ]
            ),
            "X509v3 Subject Alternative Name: \n    DNS:mirror.example.com, DNS:mirror, \
             DNS:registry.example.com, IP Address:192.0.2.10, IP Address:0:0:0:0:0:0:0:1\n"
        );
        assert_eq!(
            openssl(
                &dir,
                &["x509", "-in", "domain.crt", "-noout", "-subject", "-issuer"]
            ),
            "subject=C = US, ST = North Carolina, L = Raleigh, O = Example, OU = IT, \
             CN = mirror.example.com, emailAddress = admin@example.com\n\
             issuer=C = US, ST = North Carolina, L = Raleigh, O = Example, OU = IT, \
             CN = mirrorctl CA for mirror.example.com\n"
        );
        assert_eq!(
            openssl(
                &dir,
                &[
                    "x509",
                    "-in",
                    "domain.crt",
                    "-noout",
                    "-ext",
                    "basicConstraints,keyUsage,extendedKeyUsage"
                ]
            ),
            "X509v3 Key Usage: critical\n    Digital Signature, Key Encipherment\n\
             X509v3 Extended Key Usage: \n    TLS Web Server Authentication\n\
             X509v3 Basic Constraints: critical\n    CA:FALSE\n"
        );
        assert_eq!(
            openssl(
                &dir,
                &[
                    "x509",
                    "-in",
                    "ca.crt",
                    "-noout",
                    "-ext",
                    "basicConstraints,keyUsage"
                ]
            ),
            "X509v3 Key Usage: critical\n    Certificate Sign, CRL Sign\n\
             X509v3 Basic Constraints: critical\n    CA:TRUE\n"
        );
        for key in ["ca.key", "domain.key"] {
            let text = openssl(&dir, &["pkey", "-in", key, "-noout", "-text"]);
            assert_eq!(
                text.lines().next(),
                Some("Private-Key: (4096 bit, 2 primes)"),
                "{key}"
            );
        }
        // domain.crt is the server certificate followed by the CA.
        let chain = std::fs::read_to_string(&paths.cert).unwrap();
        let ca = std::fs::read_to_string(&paths.ca_cert).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca));
        assert_eq!(
            [&paths.ca_key, &paths.key, &paths.ca_cert, &paths.cert].map(|p| mode(p)),
            [0o600, 0o600, 0o644, 0o644]
        );
        let serials: Vec<String> = ["ca.crt", "domain.crt"]
            .iter()
            .map(|c| openssl(&dir, &["x509", "-in", c, "-noout", "-serial"]))
            .collect();
        assert_ne!(serials[0], serials[1]);
        for serial in &serials {
            // 16 random bytes, top bit clear: up to 32 hex digits, never a tiny counter.
            let hex = serial.trim().strip_prefix("serial=").unwrap();
            assert!((24..=32).contains(&hex.len()), "{serial}");
        }

        let report = crate::verify_dir(&dir, Some("mirror.example.com:5000"), now).unwrap();
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.key.as_deref(), Some("RSA 4096"));
    }

    #[test]
    fn ecdsa_p256_chain_passes_openssl() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        ensure_certificates(dir, &opts(KeyType::EcdsaP256), false, SystemTime::now()).unwrap();
        assert_eq!(
            openssl(
                dir,
                &["verify", "-x509_strict", "-CAfile", "ca.crt", "domain.crt"]
            ),
            "domain.crt: OK\n"
        );
        let text = openssl(dir, &["pkey", "-in", "domain.key", "-noout", "-text"]);
        assert_eq!(text.lines().next(), Some("Private-Key: (256 bit)"));
        assert!(text.contains("NIST CURVE: P-256"), "{text}");
        assert_eq!(
            openssl(
                dir,
                &["x509", "-in", "domain.crt", "-noout", "-ext", "keyUsage"]
            ),
            "X509v3 Key Usage: critical\n    Digital Signature\n"
        );
    }

    #[test]
    fn second_run_keeps_force_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let paths = CertPaths::in_dir(dir);
        let o = opts(KeyType::EcdsaP256);
        let now = SystemTime::now();
        let first = ensure_certificates(dir, &o, false, now).unwrap();
        let before = read_all(&paths);

        let second = ensure_certificates(dir, &o, false, now + days(1)).unwrap();
        assert_eq!(
            second,
            CertOutcome {
                action: CertAction::Kept,
                ..first.clone()
            }
        );
        assert_eq!(read_all(&paths), before, "kept files are byte-identical");
        let path = |p: &PathBuf| p.display().to_string();
        assert_eq!(
            serde_json::to_value(&second).unwrap(),
            serde_json::json!({
                "action": "kept",
                "reason": null,
                "paths": {
                    "ca_cert": path(&paths.ca_cert),
                    "ca_key": path(&paths.ca_key),
                    "cert": path(&paths.cert),
                    "key": path(&paths.key),
                },
                "sans": [
                    "DNS:mirror.example.com",
                    "DNS:mirror",
                    "DNS:registry.example.com",
                    "IP:192.0.2.10",
                    "IP:::1"
                ],
                "not_after": crate::testutil::openssl_not_after(dir, "domain.crt"),
            })
        );

        // A key made world-readable by hand is tightened, not rewritten.
        std::fs::set_permissions(&paths.key, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_certificates(dir, &o, false, now).unwrap();
        assert_eq!(
            (mode(&paths.key), read_all(&paths)),
            (0o600, before.clone())
        );

        let forced = ensure_certificates(dir, &o, true, now).unwrap();
        assert_eq!(forced.action, CertAction::Replaced);
        let after = read_all(&paths);
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            assert_ne!(a, b, "file {i} replaced");
        }
        assert_eq!(
            openssl(
                dir,
                &["verify", "-x509_strict", "-CAfile", "ca.crt", "domain.crt"]
            ),
            "domain.crt: OK\n"
        );
    }

    #[test]
    fn short_lived_or_incomplete_leaf_is_renewed_from_the_same_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let paths = CertPaths::in_dir(dir);
        let now = SystemTime::now();
        let short = GenerateOptions {
            days: 10,
            ..opts(KeyType::EcdsaP256)
        };
        assert_eq!(
            ensure_certificates(dir, &short, false, now).unwrap().action,
            CertAction::Created
        );
        let before = read_all(&paths);
        let leaf_end = crate::testutil::openssl_not_after(dir, "domain.crt");

        let o = opts(KeyType::EcdsaP256);
        let renewed = ensure_certificates(dir, &o, false, now).unwrap();
        assert_eq!(
            (renewed.action, renewed.reason.as_deref()),
            (
                CertAction::Renewed,
                Some(format!("`domain.crt` expires on {leaf_end}, within 30 days").as_str())
            )
        );
        let after = read_all(&paths);
        assert_eq!((&after[0], &after[1]), (&before[0], &before[1]), "same CA");
        assert_ne!((&after[2], &after[3]), (&before[2], &before[3]));
        assert_eq!(
            openssl(
                dir,
                &["verify", "-x509_strict", "-CAfile", "ca.crt", "domain.crt"]
            ),
            "domain.crt: OK\n"
        );
        assert_eq!(inspect::days_between(now, renewed.not_after), 824);
        assert_eq!(
            ensure_certificates(dir, &o, false, now).unwrap().action,
            CertAction::Kept
        );

        // A name requested now but missing from the certificate.
        let more = GenerateOptions {
            dns_names: vec!["quay.example.com".into()],
            ip_addresses: vec!["192.0.2.11".parse().unwrap()],
            ..o.clone()
        };
        let renewed = ensure_certificates(dir, &more, false, now).unwrap();
        assert_eq!(
            (renewed.action, renewed.reason.as_deref(), renewed.sans),
            (
                CertAction::Renewed,
                Some("`domain.crt` lacks DNS:quay.example.com, IP:192.0.2.11"),
                sans(&[
                    "mirror.example.com",
                    "mirror",
                    "quay.example.com",
                    "192.0.2.11"
                ])
            )
        );
        assert_eq!(read_all(&paths)[0], before[0]);

        // Server files deleted: re-issued.
        std::fs::remove_file(&paths.key).unwrap();
        let renewed = ensure_certificates(dir, &more, false, now).unwrap();
        assert_eq!(
            (renewed.action, renewed.reason.as_deref()),
            (CertAction::Renewed, Some("`domain.key` is missing"))
        );
    }

    #[test]
    fn never_replaces_a_ca_without_force() {
        let o = opts(KeyType::EcdsaP256);
        let now = SystemTime::now();
        let other = generate_ca(&o, now).unwrap();
        type Setup = fn(&Path, &CertAndKey);
        let cases: &[(&str, Setup, &str)] = &[
            (
                "lone ca.key",
                |dir, other| std::fs::write(dir.join("ca.key"), &other.key_pem).unwrap(),
                "refusing to replace the CA in `{dir}`: `ca.key` exists without `ca.crt`",
            ),
            (
                "lone ca.crt",
                |dir, other| std::fs::write(dir.join("ca.crt"), &other.cert_pem).unwrap(),
                "refusing to replace the CA in `{dir}`: `ca.crt` exists without `ca.key`",
            ),
            (
                "ca.key of another CA",
                |dir, other| {
                    ensure_certificates(dir, &opts(KeyType::EcdsaP256), false, SystemTime::now())
                        .unwrap();
                    std::fs::write(dir.join("ca.key"), &other.key_pem).unwrap();
                },
                "refusing to replace the CA in `{dir}`: `ca.key` does not match `ca.crt`",
            ),
            (
                "ca.crt that is not a CA",
                |dir, other| {
                    let leaf =
                        issue_server_cert(other, &opts(KeyType::EcdsaP256), SystemTime::now())
                            .unwrap();
                    std::fs::write(dir.join("ca.crt"), &leaf.cert_pem).unwrap();
                    std::fs::write(dir.join("ca.key"), &leaf.key_pem).unwrap();
                },
                "refusing to replace the CA in `{dir}`: `ca.crt` is not a CA certificate",
            ),
            (
                "server certificate without a CA",
                |dir, other| {
                    let leaf =
                        issue_server_cert(other, &opts(KeyType::EcdsaP256), SystemTime::now())
                            .unwrap();
                    std::fs::write(dir.join("domain.crt"), &leaf.cert_pem).unwrap();
                    std::fs::write(dir.join("domain.key"), &leaf.key_pem).unwrap();
                },
                "refusing to replace `{dir}/domain.crt`: it was not issued by a CA in this \
                 directory",
            ),
            (
                "server certificate from another CA beside this one",
                |dir, other| {
                    let o = opts(KeyType::EcdsaP256);
                    ensure_certificates(dir, &o, false, SystemTime::now()).unwrap();
                    let leaf = issue_server_cert(other, &o, SystemTime::now()).unwrap();
                    std::fs::write(dir.join("domain.crt"), &leaf.cert_pem).unwrap();
                    std::fs::write(dir.join("domain.key"), &leaf.key_pem).unwrap();
                },
                "refusing to replace `{dir}/domain.crt`: it was not issued by a CA in this \
                 directory",
            ),
        ];
        for (name, setup, want) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            setup(dir, &other);
            let snapshot = |dir: &Path| {
                let mut files: Vec<_> = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| {
                        let e = e.unwrap();
                        (e.file_name(), std::fs::read(e.path()).unwrap())
                    })
                    .collect();
                files.sort();
                files
            };
            let before = snapshot(dir);
            let err = ensure_certificates(dir, &o, false, now).unwrap_err();
            assert_eq!(
                err.to_string(),
                want.replace("{dir}", &dir.display().to_string()),
                "{name}"
            );
            assert!(err.hint().unwrap().contains("--force"), "{name}");
            assert_eq!(snapshot(dir), before, "{name}: nothing written");

            let forced = ensure_certificates(dir, &o, true, now).unwrap();
            assert_eq!(forced.action, CertAction::Replaced, "{name}");
            assert_eq!(
                openssl(
                    dir,
                    &["verify", "-x509_strict", "-CAfile", "ca.crt", "domain.crt"]
                ),
                "domain.crt: OK\n",
                "{name}"
            );
        }
    }

    #[test]
    fn a_ca_close_to_expiry_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let now = SystemTime::now();
        let o = GenerateOptions {
            ca_days: 20,
            ..opts(KeyType::EcdsaP256)
        };
        let created = ensure_certificates(dir, &o, false, now).unwrap();
        let ca_end = crate::testutil::openssl_not_after(dir, "ca.crt");
        // The server certificate never outlives its CA.
        assert_eq!(
            crate::testutil::openssl_not_after(dir, "domain.crt"),
            ca_end
        );
        assert_eq!(inspect::rfc3339(created.not_after), ca_end);
        let err = ensure_certificates(dir, &o, false, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "refusing to replace the CA in `{}`: `ca.crt` expires on {ca_end}, within 30 \
                 days",
                dir.display()
            )
        );
    }

    #[test]
    fn rejects_bad_options_before_touching_the_directory() {
        let cases: &[(&str, GenerateOptions, &str)] = &[
            (
                "no hostname",
                GenerateOptions::default(),
                "invalid hostname ``: a host name is required",
            ),
            (
                "bad character",
                GenerateOptions {
                    hostname: "mirror!.example.com".into(),
                    ..Default::default()
                },
                "invalid hostname `mirror!.example.com`: only letters, digits, `-` and `_` are \
                 allowed",
            ),
            (
                "wildcard hostname",
                GenerateOptions {
                    hostname: "*.example.com".into(),
                    ..Default::default()
                },
                "invalid hostname `*.example.com`: a wildcard is not allowed here",
            ),
            (
                "empty label",
                GenerateOptions {
                    hostname: "mirror..example.com".into(),
                    ..Default::default()
                },
                "invalid hostname `mirror..example.com`: each dot-separated label must be 1 to \
                 63 characters",
            ),
            (
                "label with a leading dash",
                GenerateOptions {
                    hostname: "mirror".into(),
                    dns_names: vec!["-x.example.com".into()],
                    ..Default::default()
                },
                "invalid dns name `-x.example.com`: a label cannot start or end with `-`",
            ),
            (
                "zero days",
                GenerateOptions {
                    hostname: "mirror".into(),
                    days: 0,
                    ..Default::default()
                },
                "invalid days `0`: a certificate must be valid for at least one day",
            ),
            (
                "email without @",
                GenerateOptions {
                    hostname: "mirror".into(),
                    email: Some("admin".into()),
                    ..Default::default()
                },
                "invalid email `admin`: expected `name@domain`",
            ),
            (
                "non-ASCII email",
                GenerateOptions {
                    hostname: "mirror".into(),
                    email: Some("jörg@example.com".into()),
                    ..Default::default()
                },
                "invalid email `jörg@example.com`: only ASCII characters are allowed",
            ),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("certs");
        for (name, o, want) in cases {
            let err = ensure_certificates(&dir, o, false, SystemTime::now()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{name}");
            assert!(!dir.exists(), "{name}");
        }
    }
}
