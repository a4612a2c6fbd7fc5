//! `cidr`: mirror networks against cluster networks, and the install-config's own rules.
//!
//! The overlap rule and the installer's rules live in `mirror-net`; this module chooses the
//! networks, reads the install-config and words the report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mirror_net::{
    ClusterNetworks, IpNet, Labeled, Networking, Severity, find_overlaps, ovn_reserved, parse_cidr,
    validate,
};
use serde::Deserialize;

use super::{HostFacts, Outcome, PreflightOptions, Problem, Status};
use crate::error::Error;

/// Parse a CIDR given as `name` (a flag or field, as the program names it): a bad one is an
/// [`Error::Setting`] naming it (`--mirror-cidr: invalid CIDR `10.0.0.1/16`: host bits are
/// set`), whose hint for host bits is the network meant (``did you mean `10.0.0.0/16` ``).
pub fn parse_cidr_arg(name: &str, value: &str) -> Result<IpNet, Error> {
    parse_cidr(value).map_err(|e| Error::Setting {
        name: name.to_string(),
        source: Box::new(e.into()),
    })
}

/// The `networking` section of an install-config.yaml, normalized by the installer's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its networks, deprecated names converted and defaults applied.
    pub networks: ClusterNetworks,
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    networking: Option<Networking>,
}

impl InstallConfig {
    /// Reads and parses `path`; errors name the file (and the field of a bad CIDR).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses install-config YAML; `path` is used in messages. Only `networking` is read; a
    /// missing section means the installer's defaults. Not YAML is
    /// [`Error::InstallConfigSyntax`]; networking the installer refuses is
    /// [`Error::InstallConfigNetworks`], naming the field.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let doc: Document =
            serde_saphyr::from_str(text).map_err(|e| Error::InstallConfigSyntax {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let networks = doc
            .networking
            .unwrap_or_default()
            .normalize()
            .map_err(|source| Error::InstallConfigNetworks {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(InstallConfig {
            path: path.to_path_buf(),
            networks,
        })
    }
}

const OVN: &str = "OVN-Kubernetes";

fn list(nets: &[Labeled]) -> String {
    nets.iter()
        .map(|l| l.net.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let mirror: Vec<Labeled> = if !opts.mirror_cidrs.is_empty() {
        opts.mirror_cidrs
            .iter()
            .map(|n| Labeled::new("mirror network", *n))
            .collect()
    } else {
        match &facts.networks {
            Ok(nets) => nets
                .iter()
                .map(|n| Labeled::new(format!("{} network", n.interface), n.net))
                .collect(),
            Err(e) => return Outcome::error(e),
        }
    };
    let mut cluster: Vec<Labeled> = opts
        .cluster_cidrs
        .iter()
        .map(|n| Labeled::new("cluster network", *n))
        .collect();
    if let Some(ic) = &opts.install_config {
        cluster.extend(ic.networks.labeled());
    }
    if cluster.is_empty() {
        return Outcome::skipped(format!(
            "no cluster networks given (mirror networks: {})",
            if mirror.is_empty() { "none".to_string() } else { list(&mirror) }
        ))
        .hint("pass `--install-config FILE` or `--cluster-cidr CIDR` (the cluster VNet's address space)".to_string());
    }
    if mirror.is_empty() {
        return Outcome::warn("this host has no networks besides loopback and link-local")
            .hint("pass the mirror's networks with `--mirror-cidr CIDR`".to_string());
    }

    // The ranges OVN-Kubernetes keeps inside every node: a mirror there is unreachable.
    let ovn = opts
        .install_config
        .as_ref()
        .is_none_or(|ic| ic.networks.network_type == mirror_net::DEFAULT_NETWORK_TYPE);
    let mut reserved = Vec::new();
    if ovn {
        reserved = ovn_reserved();
        let join = opts
            .install_config
            .as_ref()
            .and_then(|ic| ic.networks.ovn_ipv4_join_subnet);
        if let Some(join) = join {
            for r in &mut reserved {
                if r.net == "100.64.0.0/16".parse::<IpNet>().expect("static") {
                    r.net = join;
                }
            }
        }
    }

    let mut problems = Vec::new();
    let overlaps = find_overlaps(&mirror, &cluster);
    for o in &overlaps {
        problems.push(Problem {
            status: Status::Fail,
            message: o.to_string(),
            hint: Some(format!(
                "VNet peering and routing fail when address spaces overlap: move the mirror out of `{}` or choose cluster networks clear of `{}`",
                o.right.net, o.left.net
            )),
        });
    }
    let reserved_overlaps = find_overlaps(&mirror, &reserved);
    for o in &reserved_overlaps {
        problems.push(Problem {
            status: Status::Fail,
            message: o.to_string(),
            hint: Some(if o.right.label.contains("join") && o.right.net.addr().is_ipv4() {
                format!("{OVN} routes this range inside every node, so nodes cannot reach the mirror there: move the mirror, or set `networking.ovnKubernetesConfig.ipv4.internalJoinSubnet` to a free range")
            } else {
                format!("{OVN} routes this range inside every node, so nodes cannot reach the mirror there: move the mirror to another range")
            }),
        });
    }
    let mut findings = 0;
    if let Some(ic) = &opts.install_config {
        for f in validate(&ic.networks) {
            findings += 1;
            problems.push(Problem {
                status: match f.severity {
                    Severity::Error => Status::Fail,
                    _ => Status::Warn,
                },
                message: format!("`{}`: {f}", ic.path.display()),
                hint: f.hint,
            });
        }
    }

    let pairs = overlaps.len() + reserved_overlaps.len();
    let mut detail = format!("mirror {} vs cluster {}", list(&mirror), list(&cluster));
    if pairs == 0 {
        detail.push_str(": no overlap");
    } else {
        let _ = write!(
            detail,
            ": {pairs} overlapping pair{}",
            if pairs == 1 { "" } else { "s" }
        );
    }
    if let Some(ic) = &opts.install_config {
        if findings == 0 {
            let _ = write!(detail, "; `{}` networking valid", ic.path.display());
        } else {
            let _ = write!(
                detail,
                "; `{}`: {findings} networking finding{}",
                ic.path.display(),
                if findings == 1 { "" } else { "s" }
            );
        }
    }
    Outcome::pass(detail).with_problems(problems)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mirror_net::InterfaceNetwork;

    use super::super::PreflightOptions;
    use super::super::facts::unreadable;
    use super::super::test_support::{healthy, run_one};
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn iface(name: &str, cidr: &str) -> InterfaceNetwork {
        InterfaceNetwork {
            interface: name.into(),
            net: net(cidr),
        }
    }

    fn ic(yaml: &str) -> InstallConfig {
        InstallConfig::parse(yaml, Path::new("install-config.yaml")).unwrap()
    }

    const DEFAULTS: &str = "apiVersion: v1\nbaseDomain: example.com\nmetadata:\n  name: demo\npullSecret: '{\"auths\":{}}'\n";
    const AZURE: &str = r#"apiVersion: v1
baseDomain: example.com
metadata:
  name: demo
networking:
  networkType: OVNKubernetes
  machineNetwork:
  - cidr: 10.0.0.0/16
  clusterNetwork:
  - cidr: 10.128.0.0/14
    hostPrefix: 23
  serviceNetwork:
  - 172.30.0.0/16
platform:
  azure:
    region: eastus
    networkResourceGroupName: vnet-rg
    virtualNetwork: cluster-vnet
"#;
    const DEPRECATED: &str = r#"apiVersion: v1
networking:
  type: OpenShiftSDN
  machineCIDR: 10.1.0.0/16
  serviceCIDR: 172.30.0.0/16
  clusterNetworks:
  - cidr: 10.128.0.0/14
    hostSubnetLength: 9
"#;
    const BROKEN: &str = r#"networking:
  machineNetwork:
  - cidr: 10.0.0.1/16
  clusterNetwork:
  - cidr: 10.0.0.0/14
    hostPrefix: 23
"#;
    const DUAL: &str = r#"networking:
  machineNetwork:
  - cidr: 10.0.0.0/16
  - cidr: fd00:10::/64
  clusterNetwork:
  - cidr: 10.128.0.0/14
    hostPrefix: 23
  - cidr: fd01::/48
    hostPrefix: 64
  serviceNetwork:
  - 172.30.0.0/16
  - fd02::/112
"#;

    fn run(
        networks: Vec<InterfaceNetwork>,
        mirror: &[&str],
        cluster: &[&str],
        install_config: Option<&str>,
    ) -> String {
        let mut f = healthy();
        f.networks = Ok(networks);
        let opts = PreflightOptions {
            mirror_cidrs: mirror.iter().map(|s| net(s)).collect(),
            cluster_cidrs: cluster.iter().map(|s| net(s)).collect(),
            install_config: install_config.map(ic),
            ..Default::default()
        };
        run_one("cidr", &f, &opts)
    }

    #[test]
    fn cidr_table() {
        let eth0 = || vec![iface("eth0", "10.1.0.0/24")];
        let cases: Vec<(String, &str)> = vec![
            (
                run(eth0(), &[], &[], None),
                "skipped | no cluster networks given (mirror networks: 10.1.0.0/24) | hint: pass `--install-config FILE` or `--cluster-cidr CIDR` (the cluster VNet's address space)",
            ),
            (
                run(eth0(), &[], &["10.0.0.0/16"], None),
                "pass | mirror 10.1.0.0/24 vs cluster 10.0.0.0/16: no overlap",
            ),
            // The mirror VNet reuses Azure's default 10.0.0.0/16, as does the cluster.
            (
                run(
                    vec![iface("eth0", "10.0.0.0/24")],
                    &[],
                    &["10.0.0.0/16"],
                    None,
                ),
                "fail | mirror 10.0.0.0/24 vs cluster 10.0.0.0/16: 1 overlapping pair\n  fail: eth0 network `10.0.0.0/24` lies inside cluster network `10.0.0.0/16` | hint: VNet peering and routing fail when address spaces overlap: move the mirror out of `10.0.0.0/16` or choose cluster networks clear of `10.0.0.0/24`",
            ),
            (
                run(vec![], &["10.0.0.0/16", "192.168.0.0/16"], &[], Some(AZURE)),
                "fail | mirror 10.0.0.0/16, 192.168.0.0/16 vs cluster 10.0.0.0/16, 10.128.0.0/14, 172.30.0.0/16: 1 overlapping pair; `install-config.yaml` networking valid\n  fail: mirror network `10.0.0.0/16` is the same network as networking.machineNetwork[0] `10.0.0.0/16` | hint: VNet peering and routing fail when address spaces overlap: move the mirror out of `10.0.0.0/16` or choose cluster networks clear of `10.0.0.0/16`",
            ),
            (
                run(vec![], &["10.1.0.0/16"], &[], Some(AZURE)),
                "pass | mirror 10.1.0.0/16 vs cluster 10.0.0.0/16, 10.128.0.0/14, 172.30.0.0/16: no overlap; `install-config.yaml` networking valid",
            ),
            // 172.16.0.0/12 is a common VNet range: it holds the default service network.
            (
                run(vec![], &["172.16.0.0/12"], &[], Some(DEFAULTS)),
                "fail | mirror 172.16.0.0/12 vs cluster 10.0.0.0/16, 10.128.0.0/14, 172.30.0.0/16: 1 overlapping pair; `install-config.yaml` networking valid\n  fail: mirror network `172.16.0.0/12` contains networking.serviceNetwork[0] `172.30.0.0/16` | hint: VNet peering and routing fail when address spaces overlap: move the mirror out of `172.30.0.0/16` or choose cluster networks clear of `172.16.0.0/12`",
            ),
            // A mirror inside OVN-Kubernetes' join subnet.
            (
                run(
                    vec![iface("eth0", "100.64.10.0/24")],
                    &[],
                    &["10.0.0.0/16"],
                    None,
                ),
                "fail | mirror 100.64.10.0/24 vs cluster 10.0.0.0/16: 1 overlapping pair\n  fail: eth0 network `100.64.10.0/24` lies inside OVN-Kubernetes join subnet `100.64.0.0/16` | hint: OVN-Kubernetes routes this range inside every node, so nodes cannot reach the mirror there: move the mirror, or set `networking.ovnKubernetesConfig.ipv4.internalJoinSubnet` to a free range",
            ),
            // ... which a custom join subnet avoids.
            (
                run(
                    vec![iface("eth0", "100.64.10.0/24")],
                    &[],
                    &[],
                    Some(
                        "networking:\n  ovnKubernetesConfig:\n    ipv4:\n      internalJoinSubnet: 100.65.0.0/16\n",
                    ),
                ),
                "pass | mirror 100.64.10.0/24 vs cluster 10.0.0.0/16, 10.128.0.0/14, 172.30.0.0/16: no overlap; `install-config.yaml` networking valid",
            ),
            // Deprecated names are read (the mirror in 10.1.0.0/16 overlaps machineCIDR) and
            // reported; OpenShiftSDN has no OVN reserved ranges.
            (
                run(
                    vec![
                        iface("eth0", "10.1.5.0/24"),
                        iface("podman0", "100.64.0.0/24"),
                    ],
                    &[],
                    &[],
                    Some(DEPRECATED),
                ),
                "fail | mirror 10.1.5.0/24, 100.64.0.0/24 vs cluster 10.1.0.0/16, 10.128.0.0/14, 172.30.0.0/16: 1 overlapping pair; `install-config.yaml`: 6 networking findings\n  fail: eth0 network `10.1.5.0/24` lies inside networking.machineNetwork[0] `10.1.0.0/16` | hint: VNet peering and routing fail when address spaces overlap: move the mirror out of `10.1.0.0/16` or choose cluster networks clear of `10.1.5.0/24`\n  warn: `install-config.yaml`: networking.machineCIDR: deprecated | hint: use `networking.machineNetwork` instead\n  warn: `install-config.yaml`: networking.serviceCIDR: deprecated | hint: use `networking.serviceNetwork` instead\n  warn: `install-config.yaml`: networking.clusterNetworks: deprecated | hint: use `networking.clusterNetwork` instead\n  warn: `install-config.yaml`: networking.clusterNetworks[0].hostSubnetLength: deprecated | hint: use `networking.clusterNetworks[0].hostPrefix` instead\n  warn: `install-config.yaml`: networking.type: deprecated | hint: use `networking.networkType` instead\n  warn: `install-config.yaml`: networking.networkType: `OpenShiftSDN` cannot be installed by OpenShift 4.15 and later | hint: use `networkType: OVNKubernetes`",
            ),
            // IPv6: a ULA mirror network inside the cluster's IPv6 machine network.
            (
                run(
                    vec![iface("eth0", "10.1.0.0/24"), iface("eth0", "fd00:10::/64")],
                    &[],
                    &[],
                    Some(DUAL),
                ),
                "fail | mirror 10.1.0.0/24, fd00:10::/64 vs cluster 10.0.0.0/16, fd00:10::/64, 10.128.0.0/14, fd01::/48, 172.30.0.0/16, fd02::/112: 1 overlapping pair; `install-config.yaml` networking valid\n  fail: eth0 network `fd00:10::/64` is the same network as networking.machineNetwork[1] `fd00:10::/64` | hint: VNet peering and routing fail when address spaces overlap: move the mirror out of `fd00:10::/64` or choose cluster networks clear of `fd00:10::/64`",
            ),
            (
                run(vec![], &[], &["10.0.0.0/16"], None),
                "warn | this host has no networks besides loopback and link-local | hint: pass the mirror's networks with `--mirror-cidr CIDR`",
            ),
        ];
        let (got, want): (Vec<String>, Vec<&str>) = cases.into_iter().unzip();
        assert_eq!(got, want);
    }

    #[test]
    fn invalid_install_config_networking_is_reported_by_field() {
        let got = run(
            vec![iface("eth0", "192.168.1.0/24")],
            &[],
            &[],
            Some(BROKEN),
        );
        let want = "fail | mirror 192.168.1.0/24 vs cluster 10.0.0.1/16, 10.0.0.0/14, 172.30.0.0/16: no overlap; `install-config.yaml`: ";
        assert!(got.starts_with(want), "{got}");
        assert!(
            got.contains("fail: `install-config.yaml`: networking.machineNetwork[0].cidr: "),
            "{got}"
        );
    }

    #[test]
    fn interfaces_unreadable_could_not_run() {
        let mut f = healthy();
        f.networks = unreadable("list network interfaces: denied");
        let opts = PreflightOptions {
            cluster_cidrs: vec![net("10.0.0.0/16")],
            ..Default::default()
        };
        assert_eq!(
            run_one("cidr", &f, &opts),
            "error | list network interfaces: denied"
        );
        // Given mirror networks, the interfaces are not needed.
        let opts = PreflightOptions {
            mirror_cidrs: vec![net("10.1.0.0/16")],
            ..opts
        };
        assert_eq!(
            run_one("cidr", &f, &opts),
            "pass | mirror 10.1.0.0/16 vs cluster 10.0.0.0/16: no overlap"
        );
    }

    #[test]
    fn argument_errors_name_the_value() {
        let chain = |e: &Error| crate::ErrorChain(e).to_string();
        let hint = |e: &Error| e.hint().map(|h| h.to_string());
        let e = parse_cidr_arg("--mirror-cidr", "10.0.0.1/16").unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            (chain(&e), hint(&e)),
            (
                "--mirror-cidr: invalid CIDR `10.0.0.1/16`: host bits are set".to_string(),
                Some("did you mean `10.0.0.0/16`".to_string())
            )
        );
        let e = InstallConfig::parse(
            "networking:\n  machineNetwork:\n  - cidr: 10.0.0.0\n",
            Path::new("/tmp/ic.yaml"),
        )
        .unwrap_err();
        assert_eq!(
            (chain(&e), hint(&e)),
            (
                "`/tmp/ic.yaml`: `networking.machineNetwork[0].cidr`: invalid CIDR `10.0.0.0`: missing prefix length".to_string(),
                Some("add a prefix length: `10.0.0.0/32` is the single address".to_string())
            )
        );
        let e = InstallConfig::parse("networking: [1, 2\n", Path::new("/tmp/ic.yaml")).unwrap_err();
        assert!(
            chain(&e).starts_with("`/tmp/ic.yaml`: not a valid install-config: "),
            "{e}"
        );
        assert_eq!(
            hint(&e).as_deref(),
            Some(
                "install-config.yaml is YAML with a `networking` mapping; `openshift-install create install-config` writes one"
            )
        );
        let e = InstallConfig::load(Path::new("/nonexistent/ic.yaml")).unwrap_err();
        assert_eq!(
            chain(&e),
            "read `/nonexistent/ic.yaml`: No such file or directory (os error 2)"
        );
    }
}
