//! `hostname`: the registry's name is an FQDN that resolves to an address of this host.

use std::net::IpAddr;

use mirror_net::is_fqdn;

use super::{HostFacts, Outcome, PreflightOptions};
use crate::error::ErrorChain;

fn addrs(list: &[IpAddr]) -> String {
    if list.is_empty() {
        return "none".to_string();
    }
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn check(facts: &HostFacts, _opts: &PreflightOptions) -> Outcome {
    let h = match &facts.hostname {
        Ok(h) => h,
        Err(e) => return Outcome::error(e),
    };
    let name = h.name.as_str();
    let pass_fqdn =
        "pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)";
    let lower = name.to_ascii_lowercase();
    if lower == "localhost" || lower.starts_with("localhost.") {
        return Outcome::warn(format!(
            "`{name}` names only this host: cluster nodes cannot reach the mirror by it"
        ))
        .hint(pass_fqdn.to_string());
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return if h.local.contains(&ip) {
            Outcome::warn(format!("`{name}` is an address of this host, not a host name"))
                .hint(format!("a name keeps the certificate and pull secret valid when the address changes: {pass_fqdn}"))
        } else {
            Outcome::fail(format!(
                "`{name}` is not an address of this host (its addresses: {})",
                addrs(&h.local)
            ))
            .hint(pass_fqdn.to_string())
        };
    }
    let resolved = match &h.resolved {
        Ok(r) => r,
        Err(e) => {
            return Outcome::fail(format!("`{name}` does not resolve: {}", ErrorChain(&**e)))
                .hint(e.hint().map(|h| h.to_string()));
        }
    };
    let local: Vec<IpAddr> = resolved
        .iter()
        .copied()
        .filter(|a| h.local.contains(a))
        .collect();
    if local.is_empty() {
        let point = format!(
            "make `{name}` resolve to an address of this host ({}) in DNS, or {pass_fqdn}",
            addrs(&h.local)
        );
        return if resolved.iter().all(IpAddr::is_loopback) {
            Outcome::fail(format!(
                "`{name}` resolves only to loopback ({}): cluster nodes cannot reach it",
                addrs(resolved)
            ))
            .hint(format!("{point}; check `/etc/hosts` too"))
        } else {
            Outcome::fail(format!(
                "`{name}` resolves to {}, not an address of this host",
                addrs(resolved)
            ))
            .hint(point)
        };
    }
    if !is_fqdn(name) {
        return Outcome::warn(format!(
            "`{name}` resolves to {} on this host but is not fully qualified",
            addrs(&local)
        ))
        .hint(format!(
            "cluster nodes resolve the mirror through DNS, where a short name needs a search domain: {pass_fqdn}"
        ));
    }
    Outcome::pass(format!("`{name}` resolves to {}", addrs(&local)))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::super::test_support::{healthy, run_one};
    use super::super::{HostnameFacts, PreflightOptions, Probe};

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn hostname_table() {
        let local = ["10.1.0.4", "fd00:10::4"];
        let not_found = || -> Probe<Vec<IpAddr>> {
            Err(std::sync::Arc::new(crate::Error::Net(
                mirror_net::Error::Resolve {
                    name: "mirror.example.com".into(),
                    source: std::io::Error::other(
                        "failed to lookup address information: Name or service not known",
                    ),
                },
            )))
        };
        let cases: Vec<(&str, Probe<Vec<IpAddr>>, &str)> = vec![
            (
                "mirror.example.com",
                Ok(ips(&["10.1.0.4"])),
                "pass | `mirror.example.com` resolves to 10.1.0.4",
            ),
            (
                "mirror.example.com",
                Ok(ips(&["10.1.0.4", "fd00:10::4", "10.9.9.9"])),
                "pass | `mirror.example.com` resolves to 10.1.0.4, fd00:10::4",
            ),
            (
                "mirror",
                Ok(ips(&["10.1.0.4"])),
                "warn | `mirror` resolves to 10.1.0.4 on this host but is not fully qualified | hint: cluster nodes resolve the mirror through DNS, where a short name needs a search domain: pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)",
            ),
            (
                "localhost",
                Ok(ips(&["127.0.0.1"])),
                "warn | `localhost` names only this host: cluster nodes cannot reach the mirror by it | hint: pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)",
            ),
            (
                "localhost.localdomain",
                Ok(ips(&["127.0.0.1"])),
                "warn | `localhost.localdomain` names only this host: cluster nodes cannot reach the mirror by it | hint: pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)",
            ),
            (
                "mirror.example.com",
                Ok(ips(&["127.0.1.1"])),
                "fail | `mirror.example.com` resolves only to loopback (127.0.1.1): cluster nodes cannot reach it | hint: make `mirror.example.com` resolve to an address of this host (10.1.0.4, fd00:10::4) in DNS, or pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`); check `/etc/hosts` too",
            ),
            (
                "mirror.example.com",
                Ok(ips(&["10.9.9.9"])),
                "fail | `mirror.example.com` resolves to 10.9.9.9, not an address of this host | hint: make `mirror.example.com` resolve to an address of this host (10.1.0.4, fd00:10::4) in DNS, or pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)",
            ),
            (
                "mirror.example.com",
                not_found(),
                "fail | `mirror.example.com` does not resolve: resolve `mirror.example.com`: failed to lookup address information: Name or service not known | hint: add `mirror.example.com` to DNS (or to `/etc/hosts` on this host and on every cluster node)",
            ),
            (
                "10.1.0.4",
                Ok(ips(&["10.1.0.4"])),
                "warn | `10.1.0.4` is an address of this host, not a host name | hint: a name keeps the certificate and pull secret valid when the address changes: pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)",
            ),
            (
                "192.0.2.1",
                Ok(ips(&["192.0.2.1"])),
                "fail | `192.0.2.1` is not an address of this host (its addresses: 10.1.0.4, fd00:10::4) | hint: pass `--hostname` with the mirror's fully qualified name (`mirror.example.com`)",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(name, resolved, _)| {
                let mut f = healthy();
                f.hostname = Ok(HostnameFacts {
                    name: name.to_string(),
                    resolved: resolved.clone(),
                    local: ips(&local),
                });
                run_one("hostname", &f, &PreflightOptions::default())
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.2).collect::<Vec<_>>());
    }
}
