//! Checking a server certificate, its key and its chain the way registry clients will.

use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;
use x509_parser::certificate::X509Certificate;

use crate::cert_dir::CertPaths;
use crate::error::{Result, read_err};
use crate::fsutil::read_optional;
use crate::inspect::{self, San};

/// The checks [`verify`] runs, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CheckName {
    /// The certificates (and the CA, when given) parse.
    Parse,
    /// The private key is the server certificate's key.
    KeyMatch,
    /// Each certificate is signed by the next one, and the last by the CA when given.
    Chain,
    /// The server certificate has DNS or IP subject alternative names.
    SubjectAltNames,
    /// The SANs cover the host name clients connect to.
    Hostname,
    /// The certificates are valid now.
    Validity,
    /// The extended key usage, if any, allows TLS servers.
    ExtendedKeyUsage,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// Whether it passed.
    pub passed: bool,
    /// What was found, one line.
    pub detail: String,
}

/// The result of [`verify`]: every check that ran, plus what was read from the server
/// certificate. Serializes to JSON for `--output json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Whether every check passed.
    pub ok: bool,
    /// The checks, in order. When parsing fails the report holds only the `parse` check.
    pub checks: Vec<Check>,
    /// The server certificate's subject, e.g. `C=US, ..., CN=mirror.example.com`.
    pub subject: Option<String>,
    /// The server certificate's issuer.
    pub issuer: Option<String>,
    /// The server certificate's key, e.g. `RSA 4096` or `ECDSA P-256`.
    pub key: Option<String>,
    /// The server certificate's DNS and IP SANs.
    pub sans: Vec<San>,
    /// `notBefore`, RFC 3339.
    pub not_before: Option<String>,
    /// `notAfter`, RFC 3339.
    pub not_after: Option<String>,
    /// Whole days from `now` to `notAfter`; negative once expired.
    pub days_left: Option<i64>,
}

impl VerifyReport {
    /// The check named `name`, if it ran.
    pub fn check(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// The error Go clients (podman, skopeo, oc, the cluster) report for a certificate without
/// SANs.
pub const GO_LEGACY_CN_ERROR: &str =
    "x509: certificate relies on legacy Common Name field, use SANs instead";

/// Checks a server certificate chain and key as registry clients will see them.
///
/// - `chain_pem`: the server certificate first, then optional intermediates/CA (`domain.crt`).
/// - `key_pem`: the server's private key (`domain.key`).
/// - `ca_pem`: the CA clients trust (`ca.crt`); without it the chain is checked only within
///   `chain_pem`.
/// - `hostname`: the name clients connect to (`host` or `host:port`, or an IP address);
///   without it the `hostname` check is not run.
///
/// Never fails: problems are failed checks in the report.
pub fn verify(
    chain_pem: &[u8],
    key_pem: &[u8],
    ca_pem: Option<&[u8]>,
    hostname: Option<&str>,
    now: SystemTime,
) -> VerifyReport {
    let mut report = VerifyReport {
        ok: false,
        checks: Vec::new(),
        subject: None,
        issuer: None,
        key: None,
        sans: Vec::new(),
        not_before: None,
        not_after: None,
        days_left: None,
    };
    let fail_parse = |mut report: VerifyReport, detail: String| {
        report.checks.push(Check {
            name: CheckName::Parse,
            passed: false,
            detail,
        });
        report
    };

    let chain_ders = match inspect::parse_certs(chain_pem, "certificate chain") {
        Ok(ders) => ders,
        Err(e) => return fail_parse(report, e.to_string()),
    };
    let ca_ders = match ca_pem.map(|pem| inspect::parse_certs(pem, "CA")) {
        None => Vec::new(),
        Some(Ok(ders)) => ders,
        Some(Err(e)) => return fail_parse(report, e.to_string()),
    };
    let mut chain = Vec::new();
    for der in &chain_ders {
        match inspect::parse_x509(der, "certificate chain") {
            Ok(cert) => chain.push(cert),
            Err(e) => return fail_parse(report, e.to_string()),
        }
    }
    let mut cas = Vec::new();
    for der in &ca_ders {
        match inspect::parse_x509(der, "CA") {
            Ok(cert) => cas.push(cert),
            Err(e) => return fail_parse(report, e.to_string()),
        }
    }
    let leaf = &chain[0];
    report.checks.push(Check {
        name: CheckName::Parse,
        passed: true,
        detail: match ca_pem {
            Some(_) => format!(
                "{} in the chain, {} in the CA file",
                count(chain.len()),
                count(cas.len())
            ),
            None => format!("{} in the chain, no CA file", count(chain.len())),
        },
    });

    report.subject = Some(leaf.subject().to_string());
    report.issuer = Some(leaf.issuer().to_string());
    report.key = Some(inspect::key_description(leaf));
    let not_after = inspect::not_after(leaf);
    let not_before = inspect::not_before(leaf);
    report.not_before = Some(inspect::rfc3339(not_before));
    report.not_after = Some(inspect::rfc3339(not_after));
    report.days_left = Some(inspect::days_between(now, not_after));

    report.checks.push(check_key(leaf, key_pem));
    report.checks.push(check_chain(&chain, &cas));
    let sans = inspect::sans(leaf);
    report.checks.push(check_sans(leaf, sans.as_deref()));
    if let Some(hostname) = hostname {
        report
            .checks
            .push(check_hostname(hostname, sans.as_deref()));
    }
    report.checks.push(check_validity(&chain, &cas, now));
    report.checks.push(check_eku(leaf));
    report.sans = sans.unwrap_or_default();
    report.ok = report.checks.iter().all(|c| c.passed);
    report
}

/// Reads `domain.crt`, `domain.key` and (when present) `ca.crt` from `dir` and runs
/// [`verify`] on them.
pub fn verify_dir(dir: &Path, hostname: Option<&str>, now: SystemTime) -> Result<VerifyReport> {
    let paths = CertPaths::in_dir(dir);
    let chain = std::fs::read(&paths.cert).map_err(read_err(&paths.cert))?;
    let key = std::fs::read(&paths.key).map_err(read_err(&paths.key))?;
    let ca = read_optional(&paths.ca_cert)?;
    Ok(verify(&chain, &key, ca.as_deref(), hostname, now))
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 certificate".into()
    } else {
        format!("{n} certificates")
    }
}

fn check(name: CheckName, passed: bool, detail: String) -> Check {
    Check {
        name,
        passed,
        detail,
    }
}

fn check_key(leaf: &X509Certificate<'_>, key_pem: &[u8]) -> Check {
    let name = CheckName::KeyMatch;
    match inspect::parse_key(key_pem, "private key") {
        Err(e) => check(name, false, e.to_string()),
        Ok(key) if inspect::key_matches(&key, leaf) => check(
            name,
            true,
            "the private key matches the server certificate".into(),
        ),
        Ok(_) => check(
            name,
            false,
            "the private key does not match the server certificate's public key".into(),
        ),
    }
}

fn check_chain(chain: &[X509Certificate<'_>], cas: &[X509Certificate<'_>]) -> Check {
    let name = CheckName::Chain;
    let unknown = "clients fail with `x509: certificate signed by unknown authority`";
    for pair in chain.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        if !inspect::signed_by(cert, issuer) {
            return check(
                name,
                false,
                format!(
                    "`{}` is not signed by the next certificate in the chain, `{}`",
                    cert.subject(),
                    issuer.subject()
                ),
            );
        }
        if !inspect::is_ca(issuer) {
            return check(
                name,
                false,
                format!(
                    "`{}` signs `{}` but is not a CA",
                    issuer.subject(),
                    cert.subject()
                ),
            );
        }
    }
    let last = chain.last().expect("parse_certs returns at least one");
    if cas.is_empty() {
        let detail = if chain.len() == 1 {
            "no CA given and the chain holds only the server certificate: issuer not checked"
                .to_string()
        } else {
            format!(
                "each certificate is signed by the next; no CA given to anchor `{}`",
                last.subject()
            )
        };
        return check(name, true, detail);
    }
    if let Some(ca) = cas.iter().find(|ca| ca.as_ref() == last.as_ref()) {
        return check(name, true, format!("anchored at the CA `{}`", ca.subject()));
    }
    match cas.iter().find(|ca| inspect::signed_by(last, ca)) {
        Some(ca) if inspect::is_ca(ca) => {
            check(name, true, format!("signed by the CA `{}`", ca.subject()))
        }
        Some(ca) => check(
            name,
            false,
            format!(
                "`{}` signs the chain but is not a CA; {unknown}",
                ca.subject()
            ),
        ),
        None => check(
            name,
            false,
            format!(
                "`{}` is not signed by the CA `{}`; {unknown}",
                last.subject(),
                cas[0].subject()
            ),
        ),
    }
}

fn check_sans(leaf: &X509Certificate<'_>, sans: Option<&[San]>) -> Check {
    let name = CheckName::SubjectAltNames;
    match sans {
        None => check(
            name,
            false,
            format!(
                "no subjectAltName extension: the certificate relies on its Common Name \
                 (`{}`) and Go clients (podman, skopeo, oc, the cluster) fail with `{}`",
                leaf.subject(),
                GO_LEGACY_CN_ERROR
            ),
        ),
        Some([]) => check(
            name,
            false,
            format!(
                "the subjectAltName extension has no DNS or IP names; Go clients fail with \
                 `{GO_LEGACY_CN_ERROR}`"
            ),
        ),
        Some(sans) => check(name, true, join(sans)),
    }
}

fn join(sans: &[San]) -> String {
    sans.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_hostname(hostname: &str, sans: Option<&[San]>) -> Check {
    let name = CheckName::Hostname;
    let host = strip_port(hostname);
    let Some(sans) = sans.filter(|s| !s.is_empty()) else {
        return check(
            name,
            false,
            format!("`{host}` cannot match: the certificate has no DNS or IP SANs"),
        );
    };
    if sans.iter().any(|san| san_matches(san, host)) {
        return check(name, true, format!("`{host}` is covered"));
    }
    let names: Vec<String> = sans
        .iter()
        .map(|san| match san {
            San::Dns(name) => name.clone(),
            San::Ip(ip) => ip.to_string(),
        })
        .collect();
    check(
        name,
        false,
        format!(
            "`{host}` is not among {}; clients fail with `x509: certificate is valid for {}, \
             not {host}`",
            join(sans),
            names.join(", ")
        ),
    )
}

/// `host:port` -> `host`, `[v6]:port` -> `v6`; anything else unchanged.
fn strip_port(hostname: &str) -> &str {
    if let Some(rest) = hostname.strip_prefix('[')
        && let Some((ip, _)) = rest.split_once(']')
    {
        return ip;
    }
    if hostname.parse::<IpAddr>().is_ok() {
        return hostname;
    }
    match hostname.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => hostname,
    }
}

/// RFC 6125 matching as Go does it: exact, case-insensitive; a wildcard stands for exactly one
/// whole left-most label; IP addresses only match IP SANs.
fn san_matches(san: &San, host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return *san == San::Ip(ip);
    }
    let San::Dns(pattern) = san else {
        return false;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.');
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == suffix,
            None => false,
        };
    }
    host == pattern
}

fn check_validity(
    chain: &[X509Certificate<'_>],
    cas: &[X509Certificate<'_>],
    now: SystemTime,
) -> Check {
    let name = CheckName::Validity;
    for (i, cert) in chain.iter().chain(cas).enumerate() {
        let which = if i == 0 {
            "the server certificate".to_string()
        } else {
            format!("`{}`", cert.subject())
        };
        let (before, after) = (inspect::not_before(cert), inspect::not_after(cert));
        if now < before {
            return check(
                name,
                false,
                format!("{which} is not valid before {}", inspect::rfc3339(before)),
            );
        }
        if now > after {
            let ago = inspect::days_between(after, now);
            return check(
                name,
                false,
                format!(
                    "{which} expired on {} ({} ago); clients fail with `x509: certificate has \
                     expired or is not yet valid`",
                    inspect::rfc3339(after),
                    plural_days(ago)
                ),
            );
        }
    }
    let after = inspect::not_after(&chain[0]);
    check(
        name,
        true,
        format!(
            "valid until {}, {} left",
            inspect::rfc3339(after),
            plural_days(inspect::days_between(now, after))
        ),
    )
}

fn plural_days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

fn check_eku(leaf: &X509Certificate<'_>) -> Check {
    let name = CheckName::ExtendedKeyUsage;
    match leaf.extended_key_usage() {
        Ok(None) => check(name, true, "no extended key usage: any use allowed".into()),
        Ok(Some(eku)) if eku.value.server_auth || eku.value.any => {
            check(name, true, "serverAuth".into())
        }
        Ok(Some(_)) => check(
            name,
            false,
            "the extended key usage lacks serverAuth; clients fail with `x509: certificate \
             specifies an incompatible key usage`"
                .into(),
        ),
        Err(e) => check(name, false, format!("unreadable extended key usage: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testutil::{openssl, openssl_not_after};

    /// A CA, and server certificates it signs, made by the openssl CLI.
    struct Fixtures {
        dir: tempfile::TempDir,
    }

    impl Fixtures {
        fn new() -> Fixtures {
            let dir = tempfile::tempdir().unwrap();
            let f = Fixtures { dir };
            for ca in ["ca", "other-ca"] {
                f.openssl(&[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-subj",
                    &format!("/CN=Test {ca}"),
                    "-days",
                    "3650",
                ]);
            }
            std::fs::write(
                f.path("san.ext"),
                "subjectAltName=DNS:mirror.example.com,DNS:*.apps.example.com,IP:192.0.2.10\n\
                 extendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            std::fs::write(
                f.path("client.ext"),
                "subjectAltName=DNS:mirror.example.com\nextendedKeyUsage=clientAuth\n",
            )
            .unwrap();
            f
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        fn openssl(&self, args: &[&str]) -> String {
            openssl(self.dir.path(), args)
        }

        fn read(&self, name: &str) -> Vec<u8> {
            std::fs::read(self.path(name)).unwrap()
        }

        /// `<name>.key` and `<name>.crt` signed by `ca`, with extensions from `ext`.
        fn leaf(&self, name: &str, ca: &str, days: &str, ext: Option<&str>) {
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            self.openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=mirror.example.com",
            ]);
            let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
            let mut args = vec![
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-set_serial",
                "4242",
                "-days",
                days,
                "-out",
                &crt,
            ];
            if let Some(ext) = ext {
                args.extend(["-extfile", ext]);
            }
            self.openssl(&args);
        }

        fn not_after(&self, cert: &str) -> String {
            openssl_not_after(self.dir.path(), cert)
        }
    }

    fn checks(list: &[(CheckName, bool, &str)]) -> Vec<Check> {
        list.iter()
            .map(|(name, passed, detail)| Check {
                name: *name,
                passed: *passed,
                detail: detail.to_string(),
            })
            .collect()
    }

    const SANS: &str = "DNS:mirror.example.com, DNS:*.apps.example.com, IP:192.0.2.10";

    #[test]
    fn openssl_made_certificates() {
        let f = Fixtures::new();
        f.leaf("good", "ca", "30", Some("san.ext"));
        f.leaf("cn-only", "ca", "30", None);
        f.leaf("short", "ca", "1", Some("san.ext"));
        f.leaf("client", "ca", "30", Some("client.ext"));
        f.leaf("stranger", "other-ca", "30", Some("san.ext"));
        let now = SystemTime::now();
        let good_end = f.not_after("good.crt");
        let short_end = f.not_after("short.crt");
        let ca_subject = "CN=Test ca";

        use CheckName::*;
        let cases: Vec<(&str, VerifyReport, bool, Vec<Check>)> = vec![
            (
                "good, with port",
                verify(
                    &f.read("good.crt"),
                    &f.read("good.key"),
                    Some(&f.read("ca.crt")),
                    Some("mirror.example.com:5000"),
                    now,
                ),
                true,
                checks(&[
                    (
                        Parse,
                        true,
                        "1 certificate in the chain, 1 certificate in the CA file",
                    ),
                    (
                        KeyMatch,
                        true,
                        "the private key matches the server certificate",
                    ),
                    (Chain, true, &format!("signed by the CA `{ca_subject}`")),
                    (SubjectAltNames, true, SANS),
                    (Hostname, true, "`mirror.example.com` is covered"),
                    (
                        Validity,
                        true,
                        &format!("valid until {good_end}, 29 days left"),
                    ),
                    (ExtendedKeyUsage, true, "serverAuth"),
                ]),
            ),
            (
                "good, chain file with the CA appended, wildcard and IP hosts",
                {
                    let mut chain = f.read("good.crt");
                    chain.extend(f.read("ca.crt"));
                    verify(
                        &chain,
                        &f.read("good.key"),
                        None,
                        Some("console.apps.example.com"),
                        now,
                    )
                },
                true,
                checks(&[
                    (Parse, true, "2 certificates in the chain, no CA file"),
                    (
                        KeyMatch,
                        true,
                        "the private key matches the server certificate",
                    ),
                    (
                        Chain,
                        true,
                        &format!(
                            "each certificate is signed by the next; no CA given to anchor \
                             `{ca_subject}`"
                        ),
                    ),
                    (SubjectAltNames, true, SANS),
                    (Hostname, true, "`console.apps.example.com` is covered"),
                    (
                        Validity,
                        true,
                        &format!("valid until {good_end}, 29 days left"),
                    ),
                    (ExtendedKeyUsage, true, "serverAuth"),
                ]),
            ),
            (
                "CN only: the legacy Common Name failure",
                verify(
                    &f.read("cn-only.crt"),
                    &f.read("cn-only.key"),
                    Some(&f.read("ca.crt")),
                    Some("mirror.example.com"),
                    now,
                ),
                false,
                checks(&[
                    (
                        Parse,
                        true,
                        "1 certificate in the chain, 1 certificate in the CA file",
                    ),
                    (
                        KeyMatch,
                        true,
                        "the private key matches the server certificate",
                    ),
                    (Chain, true, &format!("signed by the CA `{ca_subject}`")),
                    (
                        SubjectAltNames,
                        false,
                        "no subjectAltName extension: the certificate relies on its Common Name \
                         (`CN=mirror.example.com`) and Go clients (podman, skopeo, oc, the \
                         cluster) fail with `x509: certificate relies on legacy Common Name \
                         field, use SANs instead`",
                    ),
                    (
                        Hostname,
                        false,
                        "`mirror.example.com` cannot match: the certificate has no DNS or IP SANs",
                    ),
                    (
                        Validity,
                        true,
                        &format!("valid until {}, 29 days left", f.not_after("cn-only.crt")),
                    ),
                    (
                        ExtendedKeyUsage,
                        true,
                        "no extended key usage: any use allowed",
                    ),
                ]),
            ),
            (
                "expired: now moved three days forward",
                verify(
                    &f.read("short.crt"),
                    &f.read("short.key"),
                    Some(&f.read("ca.crt")),
                    None,
                    now + Duration::from_secs(3 * 86_400),
                ),
                false,
                checks(&[
                    (
                        Parse,
                        true,
                        "1 certificate in the chain, 1 certificate in the CA file",
                    ),
                    (
                        KeyMatch,
                        true,
                        "the private key matches the server certificate",
                    ),
                    (Chain, true, &format!("signed by the CA `{ca_subject}`")),
                    (SubjectAltNames, true, SANS),
                    (
                        Validity,
                        false,
                        &format!(
                            "the server certificate expired on {short_end} (2 days ago); \
                             clients fail with `x509: certificate has expired or is not yet \
                             valid`"
                        ),
                    ),
                    (ExtendedKeyUsage, true, "serverAuth"),
                ]),
            ),
            (
                "key of another certificate, wrong host name",
                verify(
                    &f.read("good.crt"),
                    &f.read("short.key"),
                    Some(&f.read("ca.crt")),
                    Some("192.0.2.99"),
                    now,
                ),
                false,
                checks(&[
                    (
                        Parse,
                        true,
                        "1 certificate in the chain, 1 certificate in the CA file",
                    ),
                    (
                        KeyMatch,
                        false,
                        "the private key does not match the server certificate's public key",
                    ),
                    (Chain, true, &format!("signed by the CA `{ca_subject}`")),
                    (SubjectAltNames, true, SANS),
                    (
                        Hostname,
                        false,
                        &format!(
                            "`192.0.2.99` is not among {SANS}; clients fail with `x509: \
                             certificate is valid for mirror.example.com, *.apps.example.com, \
                             192.0.2.10, not 192.0.2.99`"
                        ),
                    ),
                    (
                        Validity,
                        true,
                        &format!("valid until {good_end}, 29 days left"),
                    ),
                    (ExtendedKeyUsage, true, "serverAuth"),
                ]),
            ),
            (
                "signed by another CA, client-only EKU",
                verify(
                    &f.read("client.crt"),
                    &f.read("client.key"),
                    Some(&f.read("other-ca.crt")),
                    None,
                    now,
                ),
                false,
                checks(&[
                    (
                        Parse,
                        true,
                        "1 certificate in the chain, 1 certificate in the CA file",
                    ),
                    (
                        KeyMatch,
                        true,
                        "the private key matches the server certificate",
                    ),
                    (
                        Chain,
                        false,
                        "`CN=mirror.example.com` is not signed by the CA `CN=Test other-ca`; \
                         clients fail with `x509: certificate signed by unknown authority`",
                    ),
                    (SubjectAltNames, true, "DNS:mirror.example.com"),
                    (
                        Validity,
                        true,
                        &format!("valid until {}, 29 days left", f.not_after("client.crt")),
                    ),
                    (
                        ExtendedKeyUsage,
                        false,
                        "the extended key usage lacks serverAuth; clients fail with `x509: \
                         certificate specifies an incompatible key usage`",
                    ),
                ]),
            ),
            (
                "chain whose second certificate did not sign the first",
                {
                    let mut chain = f.read("stranger.crt");
                    chain.extend(f.read("ca.crt"));
                    verify(&chain, &f.read("stranger.key"), None, None, now)
                },
                false,
                checks(&[
                    (Parse, true, "2 certificates in the chain, no CA file"),
                    (
                        KeyMatch,
                        true,
                        "the private key matches the server certificate",
                    ),
                    (
                        Chain,
                        false,
                        "`CN=mirror.example.com` is not signed by the next certificate in the \
                         chain, `CN=Test ca`",
                    ),
                    (SubjectAltNames, true, SANS),
                    (
                        Validity,
                        true,
                        &format!("valid until {}, 29 days left", f.not_after("stranger.crt")),
                    ),
                    (ExtendedKeyUsage, true, "serverAuth"),
                ]),
            ),
            (
                "not a certificate",
                verify(b"hello", &f.read("good.key"), None, None, now),
                false,
                checks(&[(
                    Parse,
                    false,
                    "bad certificate in `certificate chain`: no `BEGIN CERTIFICATE` block",
                )]),
            ),
        ];
        for (name, report, ok, want) in cases {
            assert_eq!((report.ok, &report.checks), (ok, &want), "{name}");
        }
    }

    #[test]
    fn report_fields_and_json() {
        let f = Fixtures::new();
        f.leaf("good", "ca", "30", Some("san.ext"));
        let now = SystemTime::now();
        let report = verify(
            &f.read("good.crt"),
            &f.read("good.key"),
            Some(&f.read("ca.crt")),
            None,
            now,
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            (
                &json["ok"],
                &json["subject"],
                &json["issuer"],
                &json["key"],
                &json["sans"],
                &json["not_after"],
                &json["days_left"],
                &json["checks"][1],
            ),
            (
                &serde_json::json!(true),
                &serde_json::json!("CN=mirror.example.com"),
                &serde_json::json!("CN=Test ca"),
                &serde_json::json!("RSA 2048"),
                &serde_json::json!([
                    "DNS:mirror.example.com",
                    "DNS:*.apps.example.com",
                    "IP:192.0.2.10"
                ]),
                &serde_json::json!(f.not_after("good.crt")),
                &serde_json::json!(29),
                &serde_json::json!({
                    "name": "key-match",
                    "passed": true,
                    "detail": "the private key matches the server certificate"
                }),
            )
        );
    }

    #[test]
    fn san_matching() {
        let dns = |s: &str| San::Dns(s.into());
        let ip = |s: &str| San::Ip(s.parse().unwrap());
        let cases = [
            (dns("mirror.example.com"), "mirror.example.com", true),
            (dns("mirror.example.com"), "MIRROR.example.com.", true),
            (dns("mirror.example.com"), "mirror", false),
            (dns("*.example.com"), "mirror.example.com", true),
            (dns("*.example.com"), "a.b.example.com", false),
            (dns("*.example.com"), "example.com", false),
            (dns("192.0.2.1"), "192.0.2.1", false),
            (ip("192.0.2.1"), "192.0.2.1", true),
            (ip("::1"), "::1", true),
            (ip("192.0.2.1"), "mirror", false),
        ];
        for (san, host, want) in cases {
            assert_eq!(san_matches(&san, host), want, "{san} vs {host}");
        }
        for (input, want) in [
            ("mirror:5000", "mirror"),
            ("mirror", "mirror"),
            ("192.0.2.1:443", "192.0.2.1"),
            ("[::1]:5000", "::1"),
            ("::1", "::1"),
        ] {
            assert_eq!(strip_port(input), want, "{input}");
        }
    }
}
