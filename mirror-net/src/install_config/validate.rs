//! The installer's rules for the `networking` section, applied to [`ClusterNetworks`].

use std::fmt;
use std::net::Ipv6Addr;

use ipnet::IpNet;
use serde::Serialize;

use super::{
    ClusterNetwork, ClusterNetworks, OPENSHIFT_SDN, OVN_KUBERNETES, PLUGINS_USING_HOST_PREFIX, v4,
    v6,
};
use crate::cidr::{Labeled, overlaps};

/// The ranges OVN-Kubernetes reserves inside every node, labelled for [`crate::find_overlaps`]:
/// join (`100.64.0.0/16`, `fd98::/64`), transit (`100.88.0.0/16`, `fd97::/64`) and masquerade
/// (`169.254.0.0/17`, `fd69::/112`).
///
/// The IPv4 join subnet is confirmed by the installer's tests; the others are the defaults of
/// current releases. Older releases documented a smaller masquerade range (`169.254.169.0/29`,
/// `fd69::/125`), which these contain.
pub fn ovn_reserved() -> Vec<Labeled> {
    let fd = |first: u16| Ipv6Addr::new(first, 0, 0, 0, 0, 0, 0, 0);
    [
        ("OVN-Kubernetes join subnet", ovn_ipv4_join()),
        ("OVN-Kubernetes transit subnet", v4(100, 88, 0, 0, 16)),
        ("OVN-Kubernetes masquerade subnet", v4(169, 254, 0, 0, 17)),
        ("OVN-Kubernetes join subnet", v6(fd(0xfd98), 64)),
        ("OVN-Kubernetes transit subnet", v6(fd(0xfd97), 64)),
        ("OVN-Kubernetes masquerade subnet", v6(fd(0xfd69), 112)),
    ]
    .into_iter()
    .map(|(name, net)| Labeled::new(name, net))
    .collect()
}

/// The default IPv4 join subnet, which `ovnKubernetesConfig.ipv4.internalJoinSubnet` replaces.
fn ovn_ipv4_join() -> IpNet {
    v4(100, 64, 0, 0, 16)
}

/// How bad a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The installer would refuse the config (or the cluster would not work).
    Error,
    /// Worth fixing; the installer accepts it.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The field path (`networking.clusterNetwork[1].cidr`).
    pub field: String,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// The likely fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Finding {
    /// `networking.clusterNetwork[1].cidr: invalid network address: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Collects findings.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, severity: Severity, field: &str, message: String, hint: Option<String>) {
        self.0.push(Finding {
            severity,
            field: field.to_string(),
            message,
            hint,
        });
    }
    fn error(&mut self, field: &str, message: String) {
        self.push(Severity::Error, field, message, None);
    }
}

/// Check `networks` against the installer's rules; empty means the installer would accept them.
///
/// Rules: each CIDR canonical and not the unspecified address; no overlap within machine,
/// service or cluster networks, nor service with machine, nor cluster with machine or service;
/// service network size; `hostPrefix` present, not below the CIDR's prefix length, the same for
/// all IPv4 cluster networks, 64 for IPv6; at least one network of each kind; single- and
/// dual-stack consistency; with OVN-Kubernetes, no overlap with its reserved ranges
/// ([`ovn_reserved`]). Warnings: deprecated fields, `OpenShiftSDN`, overlap with Docker's
/// default bridge `172.17.0.0/16`. Platform-specific rules are not checked.
pub fn validate(networks: &ClusterNetworks) -> Vec<Finding> {
    let mut f = Findings::default();
    let n = networks;

    for d in &n.deprecated {
        let message = if d.ignored {
            format!("deprecated and ignored because `{}` is set", d.replacement)
        } else {
            "deprecated".to_string()
        };
        let hint = Some(format!("use `{}` instead", d.replacement));
        f.push(Severity::Warning, &d.field, message, hint);
    }

    if n.network_type.is_empty() {
        f.error("networking.networkType", "network type is required".into());
    } else if n.network_type == OPENSHIFT_SDN {
        f.push(
            Severity::Warning,
            "networking.networkType",
            "`OpenShiftSDN` cannot be installed by OpenShift 4.15 and later".into(),
            Some("use `networkType: OVNKubernetes`".into()),
        );
    }
    let ovn = n.network_type.eq_ignore_ascii_case(OVN_KUBERNETES);

    if n.machine.is_empty() {
        f.error(
            "networking.machineNetwork",
            "at least one machine network is required".into(),
        );
    }
    for (i, &net) in n.machine.iter().enumerate() {
        let field = format!("networking.machineNetwork[{i}].cidr");
        if !check_subnet(&mut f, &field, net) {
            continue;
        }
        check_common(&mut f, &field, net, n, ovn);
        for (j, &other) in n.machine[..i].iter().enumerate() {
            if clash(net, other) {
                f.error(&field, overlap_message("machine", net, "machine", j, other));
            }
        }
    }

    if n.service.is_empty() {
        f.error(
            "networking.serviceNetwork",
            "a service network is required".into(),
        );
    }
    for (i, &net) in n.service.iter().enumerate() {
        let field = format!("networking.serviceNetwork[{i}]");
        if !check_subnet(&mut f, &field, net) {
            continue;
        }
        let (family, min, advice) = if net.addr().is_ipv4() {
            ("IPv4", 12, "use a /16 like the default `172.30.0.0/16`")
        } else {
            ("IPv6", 108, "use a /112")
        };
        if net.prefix_len() < min {
            let message = format!("{family} service network `{net}` is larger than /{min}");
            f.push(Severity::Error, &field, message, Some(advice.into()));
            continue;
        }
        check_common(&mut f, &field, net, n, ovn);
        for (j, &other) in n.machine.iter().enumerate() {
            if clash(net, other) {
                f.error(&field, overlap_message("service", net, "machine", j, other));
            }
        }
        for (j, &other) in n.service[..i].iter().enumerate() {
            if clash(net, other) {
                f.error(&field, overlap_message("service", net, "service", j, other));
            }
        }
    }

    if n.cluster.is_empty() {
        f.error(
            "networking.clusterNetwork",
            "at least one cluster network is required".into(),
        );
    }
    let uses_host_prefix = PLUGINS_USING_HOST_PREFIX.contains(&n.network_type.as_str());
    for (i, cn) in n.cluster.iter().enumerate() {
        let field = format!("networking.clusterNetwork[{i}].cidr");
        let net = cn.cidr;
        if !check_subnet(&mut f, &field, net) {
            continue;
        }
        check_common(&mut f, &field, net, n, ovn);
        for (j, &other) in n.machine.iter().enumerate() {
            if clash(net, other) {
                f.error(&field, overlap_message("cluster", net, "machine", j, other));
            }
        }
        for (j, &other) in n.service.iter().enumerate() {
            if clash(net, other) {
                f.error(&field, overlap_message("cluster", net, "service", j, other));
            }
        }
        for (j, other) in n.cluster[..i].iter().enumerate() {
            if clash(net, other.cidr) {
                f.error(
                    &field,
                    overlap_message("cluster", net, "cluster", j, other.cidr),
                );
            }
        }
        if uses_host_prefix || cn.host_prefix != 0 {
            check_host_prefix(&mut f, i, cn, &n.cluster[..i]);
        }
    }

    check_ip_families(&mut f, n);
    check_ovn_join_override(&mut f, n, ovn);
    f.0
}

/// The installer's `SubnetCIDR`: not unspecified, no host bits. False when the value is too
/// broken for further checks.
fn check_subnet(f: &mut Findings, field: &str, net: IpNet) -> bool {
    if net.addr().is_unspecified() {
        let hint = Some("give the network's own address, like `10.0.0.0/16`".to_string());
        f.push(
            Severity::Error,
            field,
            format!("address must be specified: got `{net}`"),
            hint,
        );
        return false;
    }
    if net != net.trunc() {
        let expected = net.trunc();
        let message = format!("invalid network address: got `{net}`, expecting `{expected}`");
        f.push(
            Severity::Error,
            field,
            message,
            Some(format!("did you mean `{expected}`")),
        );
        return false;
    }
    true
}

/// Docker bridge and OVN-Kubernetes reserved ranges, checked for every network.
fn check_common(f: &mut Findings, field: &str, net: IpNet, n: &ClusterNetworks, ovn: bool) {
    let docker = v4(172, 17, 0, 0, 16);
    if overlaps(net, docker) {
        let message = format!("`{net}` overlaps Docker's default bridge network `{docker}`");
        f.push(Severity::Warning, field, message, None);
    }
    if !ovn {
        return;
    }
    for reserved in ovn_reserved() {
        let is_v4_join = reserved.net == ovn_ipv4_join();
        if is_v4_join && n.ovn_ipv4_join_subnet.is_some() {
            // Moved by ovnKubernetesConfig; checked from that side.
            continue;
        }
        if overlaps(net, reserved.net) {
            let message = format!("`{net}` overlaps the {reserved}");
            let hint = if is_v4_join {
                "choose another range, or move the join subnet with `networking.ovnKubernetesConfig.ipv4.internalJoinSubnet`"
            } else {
                "OVN-Kubernetes uses this range on every node: choose another range"
            };
            f.push(Severity::Error, field, message, Some(hint.into()));
        }
    }
}

/// [`overlaps`], except that an unspecified network (`0.0.0.0/0`), already reported, does not
/// also clash with everything.
fn clash(a: IpNet, b: IpNet) -> bool {
    !a.addr().is_unspecified() && !b.addr().is_unspecified() && overlaps(a, b)
}

fn overlap_message(kind: &str, net: IpNet, other_kind: &str, j: usize, other: IpNet) -> String {
    format!("{kind} network `{net}` overlaps {other_kind} network {j} `{other}`")
}

fn check_host_prefix(f: &mut Findings, i: usize, cn: &ClusterNetwork, earlier: &[ClusterNetwork]) {
    let field = format!("networking.clusterNetwork[{i}].hostPrefix");
    let hp = cn.host_prefix;
    let len = i32::from(cn.cidr.prefix_len());
    let bits = i32::from(cn.cidr.max_prefix_len());
    let v4 = cn.cidr.addr().is_ipv4();
    let default_hint = || {
        if v4 {
            format!("use a value from {len} to 32; the default 23 gives each node 512 addresses")
        } else {
            "use 64".to_string()
        }
    };
    if hp == 0 {
        f.push(
            Severity::Error,
            &field,
            "hostPrefix is required".into(),
            Some(default_hint()),
        );
    } else if hp < 0 {
        f.push(
            Severity::Error,
            &field,
            format!("hostPrefix {hp} must be positive"),
            Some(default_hint()),
        );
    } else if hp > bits {
        let message = format!(
            "hostPrefix {hp} is longer than an {} address",
            if v4 { "IPv4" } else { "IPv6" }
        );
        f.push(Severity::Error, &field, message, Some(default_hint()));
    } else if hp < len {
        let message = format!(
            "hostPrefix {hp} is shorter than the prefix length of `{}`",
            cn.cidr
        );
        f.push(Severity::Error, &field, message, Some(default_hint()));
    } else if v4 {
        if let Some((j, other)) = earlier
            .iter()
            .enumerate()
            .find(|(_, o)| o.cidr.addr().is_ipv4() && o.host_prefix != hp)
        {
            let message = format!(
                "hostPrefix {hp} differs from hostPrefix {} of cluster network {j}; all IPv4 cluster networks must use the same",
                other.host_prefix
            );
            f.push(
                Severity::Error,
                &field,
                message,
                Some(format!("use {}", other.host_prefix)),
            );
        }
    } else if hp != 64 {
        let message = format!("hostPrefix {hp} must be 64 for an IPv6 cluster network");
        f.push(Severity::Error, &field, message, Some(default_hint()));
    }
}

/// `validateNetworkingIPVersion` without the platform rules: the service networks decide
/// between IPv4, IPv6 and dual-stack.
fn check_ip_families(f: &mut Findings, n: &ClusterNetworks) {
    let has_v4 = n.service.iter().any(|s| s.addr().is_ipv4());
    let has_v6 = n.service.iter().any(|s| s.addr().is_ipv6());
    let sdn = n.network_type == OPENSHIFT_SDN;
    if has_v4 && has_v6 {
        if sdn {
            f.error(
                "networking.networkType",
                "`OpenShiftSDN` does not support dual-stack IPv4/IPv6".into(),
            );
        }
        if n.service.len() != 2 {
            let message = format!(
                "dual-stack IPv4/IPv6 needs exactly two service networks, one of each family; got {}",
                n.service.len()
            );
            f.error("networking.serviceNetwork", message);
        }
        let lists: [(&str, Vec<IpNet>); 3] = [
            ("networking.machineNetwork", n.machine.clone()),
            (
                "networking.clusterNetwork",
                n.cluster.iter().map(|c| c.cidr).collect(),
            ),
            ("networking.serviceNetwork", n.service.clone()),
        ];
        for (field, nets) in lists {
            let v4 = nets.iter().any(|x| x.addr().is_ipv4());
            let v6 = nets.iter().any(|x| x.addr().is_ipv6());
            if v4 && !v6 {
                f.error(
                    field,
                    "dual-stack IPv4/IPv6 needs an IPv6 network in this list".into(),
                );
            } else if v6 && !v4 {
                f.error(
                    field,
                    "dual-stack IPv4/IPv6 needs an IPv4 network in this list".into(),
                );
            }
        }
    } else if has_v6 {
        if sdn {
            f.error(
                "networking.networkType",
                "`OpenShiftSDN` does not support IPv6".into(),
            );
        }
    } else if has_v4 && n.service.len() > 1 {
        let message = format!(
            "only one IPv4 service network can be given; got {}",
            n.service.len()
        );
        f.error("networking.serviceNetwork", message);
    }
}

/// `ovnKubernetesConfig.ipv4.internalJoinSubnet` must suit the plugin and stay clear of the
/// cluster's networks.
fn check_ovn_join_override(f: &mut Findings, n: &ClusterNetworks, ovn: bool) {
    let Some(join) = n.ovn_ipv4_join_subnet else {
        return;
    };
    let field = "networking.ovnKubernetesConfig.ipv4.internalJoinSubnet";
    if !ovn {
        let message = format!(
            "only used with networkType `OVNKubernetes`, not `{}`",
            n.network_type
        );
        f.error(field, message);
    }
    if !check_subnet(f, field, join) {
        return;
    }
    let lists = [
        (
            "cluster",
            n.cluster.iter().map(|c| c.cidr).collect::<Vec<_>>(),
        ),
        ("machine", n.machine.clone()),
        ("service", n.service.clone()),
    ];
    for (kind, nets) in lists {
        for (j, &other) in nets.iter().enumerate() {
            if clash(join, other) {
                f.error(
                    field,
                    format!("join subnet `{join}` overlaps {kind} network {j} `{other}`"),
                );
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    /// A valid single-stack network set to vary, one rule at a time.
    fn base() -> ClusterNetworks {
        ClusterNetworks {
            machine: vec![net("10.0.0.0/16")],
            cluster: vec![ClusterNetwork {
                cidr: net("10.128.0.0/14"),
                host_prefix: 23,
            }],
            service: vec![net("172.30.0.0/16")],
            network_type: "OVNKubernetes".into(),
            ovn_ipv4_join_subnet: None,
            defaulted: vec![],
            deprecated: vec![],
        }
    }

    fn cn(cidr: &str, host_prefix: i32) -> ClusterNetwork {
        ClusterNetwork {
            cidr: net(cidr),
            host_prefix,
        }
    }

    /// `severity field: message | hint: hint`, one line per finding.
    pub(crate) fn render(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| match &f.hint {
                Some(h) => format!("{} {f} | hint: {h}", f.severity),
                None => format!("{} {f}", f.severity),
            })
            .collect()
    }

    /// Each rule violated once, on top of the valid [`base`].
    #[test]
    fn validation_table() {
        type Edit = fn(&mut ClusterNetworks);
        let cases: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("valid", |_| {}, vec![]),
            (
                "host bits in a machine network",
                |n| n.machine[0] = net("10.0.0.1/16"),
                vec![
                    "error networking.machineNetwork[0].cidr: invalid network address: got `10.0.0.1/16`, expecting `10.0.0.0/16` | hint: did you mean `10.0.0.0/16`",
                ],
            ),
            (
                "host bits in a service network (the installer's own example)",
                |n| n.service[0] = net("13.0.128.0/16"),
                vec![
                    "error networking.serviceNetwork[0]: invalid network address: got `13.0.128.0/16`, expecting `13.0.0.0/16` | hint: did you mean `13.0.0.0/16`",
                ],
            ),
            (
                "host bits in a cluster network",
                |n| n.cluster.push(cn("10.200.0.1/16", 23)),
                vec![
                    "error networking.clusterNetwork[1].cidr: invalid network address: got `10.200.0.1/16`, expecting `10.200.0.0/16` | hint: did you mean `10.200.0.0/16`",
                ],
            ),
            (
                "unspecified address",
                |n| n.machine[0] = net("0.0.0.0/0"),
                vec![
                    "error networking.machineNetwork[0].cidr: address must be specified: got `0.0.0.0/0` | hint: give the network's own address, like `10.0.0.0/16`",
                ],
            ),
            (
                "machine networks overlap each other",
                |n| n.machine.push(net("10.0.2.0/24")),
                vec![
                    "error networking.machineNetwork[1].cidr: machine network `10.0.2.0/24` overlaps machine network 0 `10.0.0.0/16`",
                ],
            ),
            (
                "service networks overlap each other",
                |n| n.service.push(net("172.30.0.0/24")),
                vec![
                    "error networking.serviceNetwork[1]: service network `172.30.0.0/24` overlaps service network 0 `172.30.0.0/16`",
                    "error networking.serviceNetwork: only one IPv4 service network can be given; got 2",
                ],
            ),
            (
                "cluster networks overlap each other",
                |n| n.cluster.push(cn("10.130.0.0/16", 23)),
                vec![
                    "error networking.clusterNetwork[1].cidr: cluster network `10.130.0.0/16` overlaps cluster network 0 `10.128.0.0/14`",
                ],
            ),
            (
                "service overlaps machine",
                |n| n.service[0] = net("10.0.2.0/24"),
                vec![
                    "error networking.serviceNetwork[0]: service network `10.0.2.0/24` overlaps machine network 0 `10.0.0.0/16`",
                ],
            ),
            (
                "cluster overlaps machine",
                |n| n.cluster[0] = cn("10.0.0.0/14", 23),
                vec![
                    "error networking.clusterNetwork[0].cidr: cluster network `10.0.0.0/14` overlaps machine network 0 `10.0.0.0/16`",
                ],
            ),
            (
                "cluster overlaps service",
                |n| n.cluster[0] = cn("172.30.0.0/16", 23),
                vec![
                    "error networking.clusterNetwork[0].cidr: cluster network `172.30.0.0/16` overlaps service network 0 `172.30.0.0/16`",
                ],
            ),
            (
                "service network too large",
                |n| n.service[0] = net("172.0.0.0/8"),
                vec![
                    "error networking.serviceNetwork[0]: IPv4 service network `172.0.0.0/8` is larger than /12 | hint: use a /16 like the default `172.30.0.0/16`",
                ],
            ),
            (
                "hostPrefix below the CIDR's prefix length",
                |n| n.cluster[0].host_prefix = 12,
                vec![
                    "error networking.clusterNetwork[0].hostPrefix: hostPrefix 12 is shorter than the prefix length of `10.128.0.0/14` | hint: use a value from 14 to 32; the default 23 gives each node 512 addresses",
                ],
            ),
            (
                "hostPrefix missing",
                |n| n.cluster[0].host_prefix = 0,
                vec![
                    "error networking.clusterNetwork[0].hostPrefix: hostPrefix is required | hint: use a value from 14 to 32; the default 23 gives each node 512 addresses",
                ],
            ),
            (
                "hostPrefix missing is fine for a plugin without per-node subnets",
                |n| {
                    n.network_type = "Cilium".into();
                    n.cluster[0].host_prefix = 0;
                },
                vec![],
            ),
            (
                "hostPrefix negative",
                |n| n.cluster[0].host_prefix = -1,
                vec![
                    "error networking.clusterNetwork[0].hostPrefix: hostPrefix -1 must be positive | hint: use a value from 14 to 32; the default 23 gives each node 512 addresses",
                ],
            ),
            (
                "hostPrefix longer than an address",
                |n| n.cluster[0].host_prefix = 33,
                vec![
                    "error networking.clusterNetwork[0].hostPrefix: hostPrefix 33 is longer than an IPv4 address | hint: use a value from 14 to 32; the default 23 gives each node 512 addresses",
                ],
            ),
            (
                "IPv4 cluster networks with different hostPrefix",
                |n| n.cluster.push(cn("10.132.0.0/14", 24)),
                vec![
                    "error networking.clusterNetwork[1].hostPrefix: hostPrefix 24 differs from hostPrefix 23 of cluster network 0; all IPv4 cluster networks must use the same | hint: use 23",
                ],
            ),
            (
                "no machine network",
                |n| n.machine.clear(),
                vec!["error networking.machineNetwork: at least one machine network is required"],
            ),
            (
                "no service network",
                |n| n.service.clear(),
                vec!["error networking.serviceNetwork: a service network is required"],
            ),
            (
                "no cluster network",
                |n| n.cluster.clear(),
                vec!["error networking.clusterNetwork: at least one cluster network is required"],
            ),
            (
                "no network type",
                |n| n.network_type.clear(),
                vec!["error networking.networkType: network type is required"],
            ),
            (
                "OVN join subnet",
                |n| n.cluster[0] = cn("100.64.0.0/14", 23),
                vec![
                    "error networking.clusterNetwork[0].cidr: `100.64.0.0/14` overlaps the OVN-Kubernetes join subnet `100.64.0.0/16` | hint: choose another range, or move the join subnet with `networking.ovnKubernetesConfig.ipv4.internalJoinSubnet`",
                ],
            ),
            (
                "OVN join subnet does not matter to another plugin",
                |n| {
                    n.network_type = "Calico".into();
                    n.cluster[0] = cn("100.64.0.0/14", 23);
                },
                vec![],
            ),
            (
                "OVN transit subnet",
                |n| n.machine[0] = net("100.88.0.0/24"),
                vec![
                    "error networking.machineNetwork[0].cidr: `100.88.0.0/24` overlaps the OVN-Kubernetes transit subnet `100.88.0.0/16` | hint: OVN-Kubernetes uses this range on every node: choose another range",
                ],
            ),
            (
                "OVN masquerade subnet",
                |n| n.service[0] = net("169.254.0.0/16"),
                vec![
                    "error networking.serviceNetwork[0]: `169.254.0.0/16` overlaps the OVN-Kubernetes masquerade subnet `169.254.0.0/17` | hint: OVN-Kubernetes uses this range on every node: choose another range",
                ],
            ),
            (
                "moved join subnet frees 100.64.0.0/16 and is checked itself",
                |n| {
                    n.cluster[0] = cn("100.64.0.0/14", 23);
                    n.ovn_ipv4_join_subnet = Some(net("10.0.128.0/24"));
                },
                vec![
                    "error networking.ovnKubernetesConfig.ipv4.internalJoinSubnet: join subnet `10.0.128.0/24` overlaps machine network 0 `10.0.0.0/16`",
                ],
            ),
            (
                "join subnet setting with another plugin",
                |n| {
                    n.network_type = "Calico".into();
                    n.ovn_ipv4_join_subnet = Some(net("100.65.0.0/16"));
                },
                vec![
                    "error networking.ovnKubernetesConfig.ipv4.internalJoinSubnet: only used with networkType `OVNKubernetes`, not `Calico`",
                ],
            ),
            (
                "Docker bridge is a warning",
                |n| n.machine[0] = net("172.17.0.0/16"),
                vec![
                    "warning networking.machineNetwork[0].cidr: `172.17.0.0/16` overlaps Docker's default bridge network `172.17.0.0/16`",
                ],
            ),
            (
                "IPv6 single-stack with OpenShiftSDN",
                |n| {
                    n.network_type = "OpenShiftSDN".into();
                    n.machine[0] = net("fd00::/48");
                    n.cluster[0] = cn("fd01::/48", 64);
                    n.service[0] = net("fd02::/112");
                },
                vec![
                    "warning networking.networkType: `OpenShiftSDN` cannot be installed by OpenShift 4.15 and later | hint: use `networkType: OVNKubernetes`",
                    "error networking.networkType: `OpenShiftSDN` does not support IPv6",
                ],
            ),
            (
                "IPv6 service network too large",
                |n| {
                    n.machine[0] = net("fd00::/48");
                    n.cluster[0] = cn("fd01::/48", 64);
                    n.service[0] = net("fd02::/64");
                },
                vec![
                    "error networking.serviceNetwork[0]: IPv6 service network `fd02::/64` is larger than /108 | hint: use a /112",
                ],
            ),
            (
                "IPv6 hostPrefix must be 64",
                |n| {
                    n.machine[0] = net("fd00::/48");
                    n.cluster[0] = cn("fd01::/48", 80);
                    n.service[0] = net("fd02::/112");
                },
                vec![
                    "error networking.clusterNetwork[0].hostPrefix: hostPrefix 80 must be 64 for an IPv6 cluster network | hint: use 64",
                ],
            ),
            (
                "OVN IPv6 join subnet",
                |n| {
                    n.machine[0] = net("fd00::/48");
                    n.cluster[0] = cn("fd98::/48", 64);
                    n.service[0] = net("fd02::/112");
                },
                vec![
                    "error networking.clusterNetwork[0].cidr: `fd98::/48` overlaps the OVN-Kubernetes join subnet `fd98::/64` | hint: OVN-Kubernetes uses this range on every node: choose another range",
                ],
            ),
            (
                "valid dual-stack",
                |n| {
                    n.machine.push(net("fd00::/48"));
                    n.cluster.push(cn("fd01::/48", 64));
                    n.service.push(net("fd02::/112"));
                },
                vec![],
            ),
            (
                "dual-stack without an IPv6 machine and cluster network",
                |n| n.service.push(net("fd02::/112")),
                vec![
                    "error networking.machineNetwork: dual-stack IPv4/IPv6 needs an IPv6 network in this list",
                    "error networking.clusterNetwork: dual-stack IPv4/IPv6 needs an IPv6 network in this list",
                ],
            ),
            (
                "dual-stack with three service networks",
                |n| {
                    n.machine.push(net("fd00::/48"));
                    n.cluster.push(cn("fd01::/48", 64));
                    n.service.push(net("fd02::/112"));
                    n.service.push(net("172.31.0.0/16"));
                },
                vec![
                    "error networking.serviceNetwork: dual-stack IPv4/IPv6 needs exactly two service networks, one of each family; got 3",
                ],
            ),
        ];
        let mut got = Vec::new();
        let mut want = Vec::new();
        for (name, edit, expected) in cases {
            let mut n = base();
            edit(&mut n);
            got.push((name, render(&validate(&n))));
            want.push((
                name,
                expected.into_iter().map(String::from).collect::<Vec<_>>(),
            ));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn findings_serialize_for_json_reports() {
        let mut n = base();
        n.service[0] = net("172.30.0.1/16");
        let json = serde_json::to_string(&validate(&n)).unwrap();
        assert_eq!(
            json,
            r#"[{"severity":"error","field":"networking.serviceNetwork[0]","message":"invalid network address: got `172.30.0.1/16`, expecting `172.30.0.0/16`","hint":"did you mean `172.30.0.0/16`"}]"#
        );
    }

    #[test]
    fn ovn_reserved_ranges() {
        let got: Vec<String> = ovn_reserved().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "OVN-Kubernetes join subnet `100.64.0.0/16`",
                "OVN-Kubernetes transit subnet `100.88.0.0/16`",
                "OVN-Kubernetes masquerade subnet `169.254.0.0/17`",
                "OVN-Kubernetes join subnet `fd98::/64`",
                "OVN-Kubernetes transit subnet `fd97::/64`",
                "OVN-Kubernetes masquerade subnet `fd69::/112`",
            ]
        );
    }
}
