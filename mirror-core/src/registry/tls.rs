//! Telling certificate refusals apart by the TLS library's error type, never by its text.

use std::time::Duration;

use crate::error::CertProblem;

/// Why the server's certificate was refused, when that is the failure: the error's `source()`
/// chain is walked for a `rustls::Error` (classified by type, never by its text). An
/// `io::Error` hides its payload from `source()`, so its `get_ref()` is looked at too.
pub(crate) fn cert_problem(e: &(dyn std::error::Error + 'static)) -> Option<CertProblem> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return classify_rustls(r);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(p) = cert_problem(inner)
        {
            return Some(p);
        }
        next = err.source();
    }
    None
}

fn classify_rustls(e: &rustls::Error) -> Option<CertProblem> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        // A bad signature on a chain means a trusted CA has the issuer's name but did not sign
        // it: another CA of the same name (a CA generated again from the same `certificate`
        // file). The fix is the same as for an unknown issuer: the right CA.
        C::UnknownIssuer | C::BadSignature => CertProblem::UnknownIssuer,
        C::NotValidForName => CertProblem::NotValidForName {
            expected: None,
            presented: Vec::new(),
        },
        C::NotValidForNameContext {
            expected,
            presented,
        } => CertProblem::NotValidForName {
            expected: Some(server_name(expected)),
            presented: presented.iter().map(|n| plain_name(n)).collect(),
        },
        C::Expired => CertProblem::Expired { not_after: None },
        C::ExpiredContext { not_after, .. } => CertProblem::Expired {
            not_after: Some(httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + Duration::from_secs(not_after.as_secs()),
            )),
        },
        other => CertProblem::Other {
            reason: other.to_string(),
        },
    })
}

/// webpki lists presented names in their `Debug` form (`DnsName("a.example")`,
/// `IpAddress(10.0.0.1)`): keep only the name.
fn plain_name(n: &str) -> String {
    ["DnsName(", "IpAddress(", "UniformResourceIdentifier("]
        .iter()
        .find_map(|p| n.strip_prefix(p)?.strip_suffix(')'))
        .map(|inner| inner.trim_matches('"').to_string())
        .unwrap_or_else(|| n.to_string())
}

fn server_name(n: &rustls::pki_types::ServerName<'_>) -> String {
    match n {
        rustls::pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Certificate errors are classified by type, also when wrapped in an `io::Error` (as
    /// hyper hands them over), and other failures are not certificate problems.
    #[test]
    fn certificate_errors_by_type() {
        use rustls::CertificateError as C;
        use rustls::pki_types::{ServerName, UnixTime};
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let table: Vec<(rustls::Error, Option<CertProblem>)> = vec![
            (
                rustls::Error::InvalidCertificate(C::UnknownIssuer),
                Some(CertProblem::UnknownIssuer),
            ),
            (
                rustls::Error::InvalidCertificate(C::NotValidForNameContext {
                    expected: name.to_owned(),
                    presented: vec![
                        "DnsName(\"wrong.example\")".into(),
                        "IpAddress(10.0.0.1)".into(),
                        "DirectoryName".into(),
                    ],
                }),
                Some(CertProblem::NotValidForName {
                    expected: Some("127.0.0.1".into()),
                    presented: vec![
                        "wrong.example".into(),
                        "10.0.0.1".into(),
                        "DirectoryName".into(),
                    ],
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::NotValidForName),
                Some(CertProblem::NotValidForName {
                    expected: None,
                    presented: vec![],
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::ExpiredContext {
                    time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
                    not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_600_000_000)),
                }),
                Some(CertProblem::Expired {
                    not_after: Some("Sun, 13 Sep 2020 12:26:40 GMT".into()),
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::Expired),
                Some(CertProblem::Expired { not_after: None }),
            ),
            (
                rustls::Error::InvalidCertificate(C::Revoked),
                Some(CertProblem::Other {
                    reason: C::Revoked.to_string(),
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::BadSignature),
                Some(CertProblem::UnknownIssuer),
            ),
            (rustls::Error::DecryptError, None),
        ];
        for (err, want) in table {
            let wrapped = std::io::Error::other(err.clone());
            assert_eq!(cert_problem(&err), want, "{err:?}");
            assert_eq!(cert_problem(&wrapped), want, "wrapped {err:?}");
        }
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(cert_problem(&plain), None);
    }
}
