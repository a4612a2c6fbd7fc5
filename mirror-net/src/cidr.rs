//! CIDR parsing and the overlap rule shared by the installer and Azure VNet peering.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::Error;

/// Parse a CIDR block strictly: surrounding whitespace is ignored, the prefix length is required
/// and host bits must be clear (`10.0.0.1/16` is an error whose hint is `10.0.0.0/16`).
///
/// This is what the installer accepts for `machineNetwork`, `clusterNetwork` and
/// `serviceNetwork`, and what Azure accepts for a VNet address space.
pub fn parse_cidr(input: &str) -> Result<IpNet, Error> {
    let net = parse_cidr_lenient(input)?;
    if net != net.trunc() {
        return Err(Error::HostBitsSet {
            input: input.trim().to_string(),
            canonical: net.trunc(),
        });
    }
    Ok(net)
}

/// Parse a CIDR block, keeping host bits as written (`10.0.0.1/16` stays `10.0.0.1/16`;
/// [`IpNet::trunc`] gives the network).
///
/// Used where the caller reports non-canonical blocks itself, as install-config validation does.
pub fn parse_cidr_lenient(input: &str) -> Result<IpNet, Error> {
    let text = input.trim();
    let invalid = |reason: String| Error::InvalidCidr {
        input: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(invalid("empty".to_string()));
    }
    let Some((addr, prefix)) = text.split_once('/') else {
        return Err(match text.parse::<IpAddr>() {
            Ok(addr) => Error::MissingPrefix {
                input: text.to_string(),
                addr,
            },
            Err(_) => invalid("expected an address and a prefix length".to_string()),
        });
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| invalid(format!("`{addr}` is not an IP address")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = match prefix.parse() {
        Ok(p) if prefix.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(invalid(format!("`{prefix}` is not a prefix length"))),
    };
    if prefix > max {
        return Err(invalid(format!(
            "prefix length {prefix} is longer than {max}"
        )));
    }
    Ok(IpNet::new(addr, prefix).expect("prefix length checked above"))
}

/// Whether two CIDR blocks share any address: either contains the other's network address.
///
/// This is the installer's `DoCIDRsOverlap`; for CIDR blocks it is the same as "either contains
/// the other". An IPv4 and an IPv6 block never overlap.
pub fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// A CIDR block with a name for reports (`mirror vnet`, `machineNetwork[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labeled {
    /// What the block is.
    pub label: String,
    /// The block.
    pub net: IpNet,
}

impl Labeled {
    /// Name a block.
    pub fn new(label: impl Into<String>, net: IpNet) -> Self {
        Labeled {
            label: label.into(),
            net,
        }
    }
}

impl fmt::Display for Labeled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.label, self.net)
    }
}

/// How two overlapping blocks relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverlapKind {
    /// Both are the same network.
    Identical,
    /// The left block contains the right one.
    LeftContainsRight,
    /// The right block contains the left one.
    RightContainsLeft,
}

/// One overlapping pair found by [`find_overlaps`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Overlap {
    /// The block from the left list.
    pub left: Labeled,
    /// The block from the right list.
    pub right: Labeled,
    /// How they relate.
    pub kind: OverlapKind,
}

impl fmt::Display for Overlap {
    /// `mirror vnet `10.0.0.0/16` contains machineNetwork[0] `10.0.0.0/24``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let relation = match self.kind {
            OverlapKind::Identical => "is the same network as",
            OverlapKind::LeftContainsRight => "contains",
            OverlapKind::RightContainsLeft => "lies inside",
        };
        write!(f, "{} {relation} {}", self.left, self.right)
    }
}

/// Every overlapping pair between `left` and `right`, in the order of `left` then `right`.
///
/// Use it for the Azure rule "every mirror VNet range must be disjoint from every cluster
/// range": VNet peering fails when the peered address spaces overlap.
pub fn find_overlaps(left: &[Labeled], right: &[Labeled]) -> Vec<Overlap> {
    let mut found = Vec::new();
    for l in left {
        for r in right {
            if !overlaps(l.net, r.net) {
                continue;
            }
            let kind = match l.net.prefix_len().cmp(&r.net.prefix_len()) {
                std::cmp::Ordering::Equal => OverlapKind::Identical,
                std::cmp::Ordering::Less => OverlapKind::LeftContainsRight,
                std::cmp::Ordering::Greater => OverlapKind::RightContainsLeft,
            };
            found.push(Overlap {
                left: l.clone(),
                right: r.clone(),
                kind,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    /// The parse result rendered as `Ok(net)` or `Err(message | hint)`.
    fn render(r: Result<IpNet, Error>) -> String {
        match r {
            Ok(n) => format!("ok {n}"),
            Err(e) => format!("err {e} | hint: {}", e.hint().unwrap_or_default()),
        }
    }

    #[test]
    fn parse_table() {
        let cases = [
            ("10.0.0.0/16", "ok 10.0.0.0/16"),
            ("  172.30.0.0/16\n", "ok 172.30.0.0/16"),
            ("0.0.0.0/0", "ok 0.0.0.0/0"),
            ("192.168.1.7/32", "ok 192.168.1.7/32"),
            ("fd00::/48", "ok fd00::/48"),
            ("fd98::/64", "ok fd98::/64"),
            ("2001:DB8::/32", "ok 2001:db8::/32"),
            (
                "10.0.0.1/16",
                "err invalid CIDR `10.0.0.1/16`: host bits are set | hint: did you mean `10.0.0.0/16`",
            ),
            (
                "13.0.128.0/16",
                "err invalid CIDR `13.0.128.0/16`: host bits are set | hint: did you mean `13.0.0.0/16`",
            ),
            (
                "fd00::1/64",
                "err invalid CIDR `fd00::1/64`: host bits are set | hint: did you mean `fd00::/64`",
            ),
            (
                "10.0.0.1",
                "err invalid CIDR `10.0.0.1`: missing prefix length | hint: add a prefix length: `10.0.0.1/32` is the single address",
            ),
            (
                "fd00::1",
                "err invalid CIDR `fd00::1`: missing prefix length | hint: add a prefix length: `fd00::1/128` is the single address",
            ),
            (
                "",
                "err invalid CIDR ``: empty | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "vnet-a",
                "err invalid CIDR `vnet-a`: expected an address and a prefix length | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "10.0.0.256/24",
                "err invalid CIDR `10.0.0.256/24`: `10.0.0.256` is not an IP address | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "10.0.0.0/33",
                "err invalid CIDR `10.0.0.0/33`: prefix length 33 is longer than 32 | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "fd00::/129",
                "err invalid CIDR `fd00::/129`: prefix length 129 is longer than 128 | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "10.0.0.0/+8",
                "err invalid CIDR `10.0.0.0/+8`: `+8` is not a prefix length | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "10.0.0.0/",
                "err invalid CIDR `10.0.0.0/`: `` is not a prefix length | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
            (
                "10.0.0.0/16/8",
                "err invalid CIDR `10.0.0.0/16/8`: `16/8` is not a prefix length | hint: write an address and a prefix length, like `10.0.0.0/16` or `fd00::/48`",
            ),
        ];
        let got: Vec<(&str, String)> = cases
            .iter()
            .map(|(i, _)| (*i, render(parse_cidr(i))))
            .collect();
        let want: Vec<(&str, String)> = cases.iter().map(|(i, w)| (*i, w.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn lenient_keeps_host_bits() {
        let n = parse_cidr_lenient(" 10.0.0.1/16 ").unwrap();
        assert_eq!(
            (n.to_string(), n.trunc().to_string()),
            ("10.0.0.1/16".into(), "10.0.0.0/16".into())
        );
    }

    #[test]
    fn overlap_matrix() {
        let cases = [
            // nested
            ("10.0.0.0/16", "10.0.5.0/24", true),
            ("10.0.5.0/24", "10.0.0.0/16", true),
            // adjacent
            ("10.0.0.0/24", "10.0.1.0/24", false),
            ("10.0.0.0/16", "10.1.0.0/16", false),
            // identical
            ("10.0.0.0/16", "10.0.0.0/16", true),
            // v4 vs v6, including the v4-mapped range
            ("10.0.0.0/8", "fd00::/8", false),
            ("0.0.0.0/0", "::/0", false),
            ("0.0.0.0/0", "::ffff:0:0/96", false),
            ("fd98::/64", "fd98::/112", true),
            ("fd98::/64", "fd97::/64", false),
            // the default OpenShift networks vs common Azure VNets
            ("10.0.0.0/16", "10.0.0.0/16", true), // machineNetwork vs Azure's default VNet
            ("10.0.0.0/16", "10.1.0.0/16", false),
            ("10.0.0.0/16", "192.168.0.0/16", false),
            ("10.0.0.0/16", "172.16.0.0/12", false),
            ("10.128.0.0/14", "10.0.0.0/16", false), // clusterNetwork
            ("10.128.0.0/14", "10.1.0.0/16", false),
            ("10.128.0.0/14", "10.130.0.0/16", true),
            ("10.128.0.0/14", "10.132.0.0/16", false),
            ("10.128.0.0/14", "192.168.0.0/16", false),
            ("10.128.0.0/14", "172.16.0.0/12", false),
            ("172.30.0.0/16", "10.0.0.0/16", false), // serviceNetwork
            ("172.30.0.0/16", "10.1.0.0/16", false),
            ("172.30.0.0/16", "192.168.0.0/16", false),
            ("172.30.0.0/16", "172.16.0.0/12", true),
            // non-canonical input still compares by network
            ("10.0.0.7/16", "10.0.200.0/24", true),
        ];
        let got: Vec<(&str, &str, bool)> = cases
            .iter()
            .map(|(a, b, _)| (*a, *b, overlaps(net(a), net(b))))
            .collect();
        assert_eq!(got, cases.to_vec());
    }

    #[test]
    fn find_overlaps_reports_every_pair() {
        let mirror = [
            Labeled::new("mirror vnet", net("10.0.0.0/16")),
            Labeled::new("mirror vnet[1]", net("172.16.0.0/12")),
            Labeled::new("mirror vnet[2]", net("fd00::/48")),
        ];
        let cluster = [
            Labeled::new("machineNetwork[0]", net("10.0.0.0/16")),
            Labeled::new("clusterNetwork[0]", net("10.128.0.0/14")),
            Labeled::new("serviceNetwork[0]", net("172.30.0.0/16")),
            Labeled::new("machineNetwork[1]", net("fd00::/64")),
            Labeled::new("machineNetwork[2]", net("10.0.0.0/8")),
        ];
        let got: Vec<String> = find_overlaps(&mirror, &cluster)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "mirror vnet `10.0.0.0/16` is the same network as machineNetwork[0] `10.0.0.0/16`",
                "mirror vnet `10.0.0.0/16` lies inside machineNetwork[2] `10.0.0.0/8`",
                "mirror vnet[1] `172.16.0.0/12` contains serviceNetwork[0] `172.30.0.0/16`",
                "mirror vnet[2] `fd00::/48` contains machineNetwork[1] `fd00::/64`",
            ]
        );
        let kinds: Vec<OverlapKind> = find_overlaps(&mirror, &cluster)
            .iter()
            .map(|o| o.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                OverlapKind::Identical,
                OverlapKind::RightContainsLeft,
                OverlapKind::LeftContainsRight,
                OverlapKind::LeftContainsRight
            ]
        );
        assert_eq!(find_overlaps(&mirror[..1], &cluster[1..4]), Vec::new());
    }
}
