//! Test helpers: the real `openssl` command line as an independent judge and fixture maker.

use std::path::Path;
use std::process::Command;

/// Runs `openssl args...` in `dir` and returns stdout. Panics with an install hint when
/// `openssl` is missing (the test fails, it never skips), and with stderr when it fails.
pub(crate) fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("install openssl: apt-get install -y openssl")
        }
        Err(e) => panic!("cannot run openssl: {e}"),
    };
    assert!(
        output.status.success(),
        "openssl {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `notAfter` of a PEM certificate file as RFC 3339, as openssl reads it.
pub(crate) fn openssl_not_after(dir: &Path, cert: &str) -> String {
    let out = openssl(
        dir,
        &[
            "x509", "-in", cert, "-noout", "-enddate", "-dateopt", "iso_8601",
        ],
    );
    // `notAfter=2027-03-01 12:00:00Z`
    out.trim()
        .strip_prefix("notAfter=")
        .unwrap()
        .replace(' ', "T")
}

/// The subject most tests use.
pub(crate) fn sample_subject() -> crate::Subject {
    crate::Subject {
        country: "US".into(),
        state: "North Carolina".into(),
        locality: "Raleigh".into(),
        organization: "Example".into(),
        unit: "IT".into(),
    }
}

/// Options with every field set: mixed-case host name, a duplicate DNS name, IPv4 and IPv6.
pub(crate) fn sample_opts(key_type: crate::KeyType) -> crate::GenerateOptions {
    crate::GenerateOptions {
        subject: sample_subject(),
        email: Some("admin@example.com".into()),
        hostname: "Mirror.Example.com".into(),
        dns_names: vec!["registry.example.com".into(), "mirror.example.com".into()],
        ip_addresses: vec!["192.0.2.10".parse().unwrap(), "::1".parse().unwrap()],
        key_type,
        ..Default::default()
    }
}

/// SANs from strings: IP addresses become `San::Ip`, the rest `San::Dns`.
pub(crate) fn sans(list: &[&str]) -> Vec<crate::San> {
    list.iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(ip) => crate::San::Ip(ip),
            Err(_) => crate::San::Dns(s.to_string()),
        })
        .collect()
}
