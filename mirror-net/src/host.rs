//! This host's networks, addresses and names.

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use ipnet::IpNet;

use crate::Error;

/// A network this host is attached to, as seen on one interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceNetwork {
    /// The interface name (`eth0`).
    pub interface: String,
    /// The network, canonical (`10.1.0.0/24` for an interface address `10.1.0.4/24`).
    pub net: IpNet,
}

/// The networks of this host's interfaces, without loopback and link-local ranges, sorted by
/// interface then network.
///
/// Container bridges (`podman0`, `docker0`, `cni0`) are included: a cluster range overlapping
/// them is unreachable from this host too.
pub fn host_networks() -> Result<Vec<InterfaceNetwork>, Error> {
    Ok(filter_networks(interface_addresses()?))
}

/// The addresses of this host's interfaces, without loopback and link-local ones, sorted and
/// deduplicated: the IP subject alternative names a mirror certificate may need.
pub fn host_addresses() -> Result<Vec<IpAddr>, Error> {
    Ok(filter_addresses(interface_addresses()?))
}

/// Every (interface, address, prefix length) the system reports.
fn interface_addresses() -> Result<Vec<(String, IpAddr, u8)>, Error> {
    let networks = sysinfo::Networks::new_with_refreshed_list().map_err(|e| Error::Interfaces {
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (name, data) in &networks {
        for ip in data.ip_networks() {
            out.push((name.to_string_lossy().into_owned(), ip.addr, ip.prefix));
        }
    }
    Ok(out)
}

/// Whether `addr` is worth reporting: not loopback, link-local or unspecified.
fn is_routable(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.is_loopback() || a.is_link_local() || a.is_unspecified()),
        IpAddr::V6(a) => {
            // fe80::/10; also drop the IPv4-mapped form of a loopback address.
            let link_local = a.segments()[0] & 0xffc0 == 0xfe80;
            let mapped_skip = a
                .to_ipv4_mapped()
                .is_some_and(|v4| !is_routable(IpAddr::V4(v4)));
            !(a.is_loopback() || a.is_unspecified() || link_local || mapped_skip)
        }
    }
}

/// The pure part of [`host_networks`]: drop loopback and link-local entries and invalid prefix
/// lengths, canonicalize, sort and deduplicate.
pub fn filter_networks(
    entries: impl IntoIterator<Item = (String, IpAddr, u8)>,
) -> Vec<InterfaceNetwork> {
    let set: BTreeSet<InterfaceNetwork> = entries
        .into_iter()
        .filter(|(_, addr, _)| is_routable(*addr))
        .filter_map(|(interface, addr, prefix)| {
            let net = IpNet::new(addr, prefix).ok()?.trunc();
            Some(InterfaceNetwork { interface, net })
        })
        .collect();
    set.into_iter().collect()
}

/// The pure part of [`host_addresses`].
fn filter_addresses(entries: impl IntoIterator<Item = (String, IpAddr, u8)>) -> Vec<IpAddr> {
    let set: BTreeSet<IpAddr> = entries
        .into_iter()
        .map(|(_, a, _)| a)
        .filter(|a| is_routable(*a))
        .collect();
    set.into_iter().collect()
}

/// This host's name as the kernel knows it (`/proc/sys/kernel/hostname`, else what sysinfo
/// finds); it may or may not be fully qualified.
pub fn hostname() -> Result<String, Error> {
    let path = Path::new("/proc/sys/kernel/hostname");
    let source = match std::fs::read_to_string(path) {
        Ok(name) if !name.trim().is_empty() => return Ok(name.trim().to_string()),
        Ok(_) => std::io::Error::other("the host name is empty"),
        Err(e) => e,
    };
    sysinfo::System::host_name()
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or(Error::Io {
            action: "read",
            path: path.into(),
            source,
        })
}

/// This host's fully qualified name, best effort: the host name when it is already qualified,
/// else the canonical name `/etc/hosts` gives it (`10.0.0.4 mirror.example.com mirror`).
///
/// `None` when neither gives a qualified name. DNS is not asked: the standard resolver does not
/// expose canonical names, and a search domain guess would be a guess.
pub fn fqdn() -> Option<String> {
    let name = hostname().ok()?;
    if is_fqdn(&name) {
        return Some(name);
    }
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    fqdn_from_hosts(&hosts, &name)
}

/// The qualified name `/etc/hosts` (given as `hosts`) lists for `name`: the canonical name of a
/// line naming `name`, or a qualified alias on that line. `None` for `localhost`.
pub fn fqdn_from_hosts(hosts: &str, name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("localhost") {
        return None;
    }
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(addr) = fields.next() else { continue };
        if addr.parse::<IpAddr>().is_err() {
            continue;
        }
        let names: Vec<&str> = fields.collect();
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        if let Some(qualified) = names
            .iter()
            .find(|n| is_fqdn(n) && !n.starts_with("localhost"))
        {
            return Some(qualified.to_string());
        }
    }
    None
}

/// Whether `name` is a fully qualified DNS host name usable in a certificate and in
/// install-config: at least two labels of letters, digits and inner hyphens, each 1 to 63
/// characters, 253 in all, no trailing dot, and not an IP address or all-numeric top label.
pub fn is_fqdn(name: &str) -> bool {
    if name.len() > 253 || name.parse::<IpAddr>().is_ok() {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let top = labels[labels.len() - 1];
    labels.iter().all(label_ok) && !top.bytes().all(|b| b.is_ascii_digit())
}

/// The addresses `name` resolves to, through the system resolver (`/etc/hosts`, DNS), sorted
/// and deduplicated.
pub fn resolve(name: &str) -> Result<Vec<IpAddr>, Error> {
    let addrs = (name, 0u16)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            name: name.to_string(),
            source,
        })?;
    let set: BTreeSet<IpAddr> = addrs.map(|a| a.ip()).collect();
    Ok(set.into_iter().collect())
}

/// Whether `name` resolves to one of `local_addrs` (typically [`host_addresses`]).
///
/// A name that resolves only to loopback is not local in this sense: cluster nodes could not
/// reach the mirror through it.
pub fn resolves_to_local(name: &str, local_addrs: &[IpAddr]) -> Result<bool, Error> {
    Ok(resolve(name)?.iter().any(|a| local_addrs.contains(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(interface: &str, addr: &str, prefix: u8) -> (String, IpAddr, u8) {
        (interface.to_string(), addr.parse().unwrap(), prefix)
    }

    #[test]
    fn network_filter_table() {
        let input = vec![
            entry("lo", "127.0.0.1", 8),
            entry("lo", "::1", 128),
            entry("eth0", "10.1.0.4", 24),
            entry("eth0", "fe80::20d:3aff:fe12:3456", 64),
            entry("eth0", "2001:db8:5::4", 64),
            entry("eth1", "169.254.10.20", 16),
            entry("eth1", "192.168.122.7", 24),
            entry("eth1", "192.168.122.8", 24),
            entry("podman0", "10.88.0.1", 16),
            entry("tun0", "100.64.3.2", 32),
            entry("bad", "10.0.0.1", 33),
            entry("any", "0.0.0.0", 0),
            entry("mapped", "::ffff:127.0.0.1", 104),
            entry("fe80b", "febf::1", 64),
        ];
        let got: Vec<String> = filter_networks(input.clone())
            .iter()
            .map(|n| format!("{} {}", n.interface, n.net))
            .collect();
        assert_eq!(
            got,
            [
                "eth0 10.1.0.0/24",
                "eth0 2001:db8:5::/64",
                "eth1 192.168.122.0/24",
                "podman0 10.88.0.0/16",
                "tun0 100.64.3.2/32",
            ]
        );
        let addrs: Vec<String> = filter_addresses(input)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            addrs,
            [
                "10.0.0.1",
                "10.1.0.4",
                "10.88.0.1",
                "100.64.3.2",
                "192.168.122.7",
                "192.168.122.8",
                "2001:db8:5::4"
            ]
        );
    }

    #[test]
    fn fqdn_table() {
        let cases = [
            ("mirror.example.com", true),
            ("registry.ocp4.example.internal", true),
            ("a-b.c-d.io", true),
            ("xn--bcher-kva.example", true),
            ("mirror", false),
            ("mirror.example.com.", false),
            (".example.com", false),
            ("mirror..example.com", false),
            ("-mirror.example.com", false),
            ("mirror-.example.com", false),
            ("mir_ror.example.com", false),
            ("10.0.0.4", false),
            ("fd00::4", false),
            ("host.123", false),
            ("", false),
        ];
        let got: Vec<(&str, bool)> = cases.iter().map(|(n, _)| (*n, is_fqdn(n))).collect();
        assert_eq!(got, cases.to_vec());
        let long_label = format!("{}.example.com", "a".repeat(64));
        let long_name = format!("{}.com", ["abcdefghi"; 26].join("."));
        assert_eq!((is_fqdn(&long_label), is_fqdn(&long_name)), (false, false));
    }

    #[test]
    fn fqdn_from_hosts_table() {
        let hosts = "\
127.0.0.1   localhost localhost.localdomain localhost4
::1         localhost localhost.localdomain localhost6
# 10.0.0.9 bastion.commented.example bastion
127.0.1.1   bastion.lab.example bastion
10.0.0.4    mirror mirror.example.com   # alias carries the domain
10.0.0.5    single
bogus-line  other.example.com other
";
        let cases = [
            ("bastion", Some("bastion.lab.example")),
            ("BASTION", Some("bastion.lab.example")),
            ("mirror", Some("mirror.example.com")),
            ("single", None),
            ("other", None),
            ("localhost", None),
            ("absent", None),
        ];
        let got: Vec<(&str, Option<String>)> = cases
            .iter()
            .map(|(n, _)| (*n, fqdn_from_hosts(hosts, n)))
            .collect();
        let want: Vec<(&str, Option<String>)> = cases
            .iter()
            .map(|(n, w)| (*n, w.map(String::from)))
            .collect();
        assert_eq!(got, want);
    }

    /// On this machine: every reported address is bindable (so really ours) and lies in a
    /// reported network; nothing loopback or link-local slips through.
    #[test]
    fn real_host_networks_and_addresses_agree() {
        let nets = host_networks().unwrap();
        let addrs = host_addresses().unwrap();
        assert!(!addrs.is_empty(), "no non-loopback address on this host");
        for a in &addrs {
            assert!(is_routable(*a), "{a}");
            assert!(
                nets.iter().any(|n| n.net.contains(a)),
                "{a} in none of {nets:?}"
            );
            if a.is_ipv4() {
                std::net::TcpListener::bind((*a, 0)).unwrap_or_else(|e| panic!("bind {a}: {e}"));
            }
        }
        assert!(
            nets.iter()
                .all(|n| n.net == n.net.trunc() && is_routable(n.net.addr()))
        );
    }

    #[test]
    fn hostname_is_the_kernels() {
        let want = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(hostname().unwrap(), want.trim());
    }

    #[test]
    fn resolve_localhost_and_an_invalid_name() {
        assert!(
            resolve("localhost")
                .unwrap()
                .iter()
                .all(IpAddr::is_loopback)
        );
        assert!(!resolves_to_local("localhost", &[]).unwrap());
        let lo: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert!(resolves_to_local("localhost", &lo).unwrap());
        let err = resolve("no such host.invalid").unwrap_err();
        assert!(
            crate::error::chain(&err).starts_with("resolve `no such host.invalid`: "),
            "{err}"
        );
    }
}
