//! The `networking` section of install-config.yaml and the installer's rules for it.
//!
//! [`Networking`] is the section as written (current and deprecated field names, CIDRs kept as
//! text so that a bad value is reported with its field path); [`Networking::normalize`] applies
//! the installer's conversions and defaults; [`validate`] applies the installer's checks
//! (openshift/installer `pkg/types/validation/installconfig.go`: `validateNetworking`,
//! `validateClusterNetwork`, `validateNetworkingIPVersion`, the OVN-Kubernetes subnet checks)
//! and reports every problem rather than the first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::cidr::{Labeled, parse_cidr_lenient};
use crate::error::in_field;

mod validate;

pub use validate::{Finding, Severity, ovn_reserved, validate};

/// The network type the installer uses when none is given.
pub const DEFAULT_NETWORK_TYPE: &str = "OVNKubernetes";
/// The `hostPrefix` of the default cluster network.
pub const DEFAULT_HOST_PREFIX: i32 = 23;

const OVN_KUBERNETES: &str = "OVNKubernetes";
const OPENSHIFT_SDN: &str = "OpenShiftSDN";
/// Network plugins that carve a per-node subnet out of each cluster network.
const PLUGINS_USING_HOST_PREFIX: [&str; 2] = [OVN_KUBERNETES, OPENSHIFT_SDN];

/// The `networking` section of install-config.yaml, as written.
///
/// Deserializes from any serde format (mirror-core reads YAML); unknown fields are ignored and
/// every field is optional, as in the installer. CIDRs are kept as text: [`Networking::normalize`]
/// parses them and names the field of a bad one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Networking {
    /// `networkType`: `OVNKubernetes` (default), `OpenShiftSDN` (before 4.15), or a third-party
    /// plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// `machineNetwork[]`: the ranges the nodes' addresses come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_network: Option<Vec<MachineNetworkEntry>>,
    /// `clusterNetwork[]`: the pod ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<Vec<ClusterNetworkEntry>>,
    /// `serviceNetwork[]`: the service ranges (one, or two for dual-stack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_network: Option<Vec<String>>,
    /// `ovnKubernetesConfig`: only its IPv4 join subnet matters here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovn_kubernetes_config: Option<OvnKubernetesConfig>,
    /// Deprecated `machineCIDR`, used when `machineNetwork` is absent.
    #[serde(
        default,
        rename = "machineCIDR",
        skip_serializing_if = "Option::is_none"
    )]
    pub deprecated_machine_cidr: Option<String>,
    /// Deprecated `serviceCIDR`, used when `serviceNetwork` is absent.
    #[serde(
        default,
        rename = "serviceCIDR",
        skip_serializing_if = "Option::is_none"
    )]
    pub deprecated_service_cidr: Option<String>,
    /// Deprecated `type`, used when `networkType` is absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub deprecated_type: Option<String>,
    /// Deprecated `clusterNetworks[]`, used when `clusterNetwork` is absent.
    #[serde(
        default,
        rename = "clusterNetworks",
        skip_serializing_if = "Option::is_none"
    )]
    pub deprecated_cluster_networks: Option<Vec<ClusterNetworkEntry>>,
}

/// One `machineNetwork[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineNetworkEntry {
    /// `cidr`.
    #[serde(default)]
    pub cidr: String,
}

/// One `clusterNetwork[]` (or deprecated `clusterNetworks[]`) entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetworkEntry {
    /// `cidr`.
    #[serde(default)]
    pub cidr: String,
    /// `hostPrefix`: the prefix length of each node's slice of `cidr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_prefix: Option<i32>,
    /// Deprecated `hostSubnetLength`: host bits per node (9 means a /23 for IPv4); used when
    /// `hostPrefix` is absent or 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_subnet_length: Option<i32>,
}

/// `networking.ovnKubernetesConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvnKubernetesConfig {
    /// `ipv4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<OvnIpv4Config>,
}

/// `networking.ovnKubernetesConfig.ipv4`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OvnIpv4Config {
    /// `internalJoinSubnet`: replaces OVN-Kubernetes' default join subnet `100.64.0.0/16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_join_subnet: Option<String>,
}

/// A cluster (pod) network with its per-node prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterNetwork {
    /// The pod range, as written (host bits are reported by [`validate`]).
    pub cidr: IpNet,
    /// `hostPrefix`; 0 when not given.
    pub host_prefix: i32,
}

/// A section of `networking` that [`Networking::normalize`] filled with the installer's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `machineNetwork` became `10.0.0.0/16`.
    MachineNetwork,
    /// `clusterNetwork` became `10.128.0.0/14` with `hostPrefix` 23.
    ClusterNetwork,
    /// `serviceNetwork` became `172.30.0.0/16`.
    ServiceNetwork,
    /// `networkType` became `OVNKubernetes`.
    NetworkType,
}

impl Section {
    /// The field path (`networking.machineNetwork`).
    pub fn field(self) -> &'static str {
        match self {
            Section::MachineNetwork => "networking.machineNetwork",
            Section::ClusterNetwork => "networking.clusterNetwork",
            Section::ServiceNetwork => "networking.serviceNetwork",
            Section::NetworkType => "networking.networkType",
        }
    }
}

/// A deprecated field found in the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deprecated {
    /// Its path (`networking.machineCIDR`, `networking.clusterNetworks[0].hostSubnetLength`).
    pub field: String,
    /// The field that replaces it (`networking.machineNetwork`).
    pub replacement: String,
    /// True when the replacement is also set, so the installer ignores this one.
    pub ignored: bool,
}

/// The cluster's networks after the installer's conversions and defaults: what [`validate`]
/// checks and what a mirror network must stay clear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNetworks {
    /// Machine (node) networks.
    pub machine: Vec<IpNet>,
    /// Cluster (pod) networks.
    pub cluster: Vec<ClusterNetwork>,
    /// Service networks.
    pub service: Vec<IpNet>,
    /// The network plugin (`OVNKubernetes`).
    pub network_type: String,
    /// `ovnKubernetesConfig.ipv4.internalJoinSubnet`, when set.
    pub ovn_ipv4_join_subnet: Option<IpNet>,
    /// Sections that were absent and got the installer's default.
    pub defaulted: Vec<Section>,
    /// Deprecated fields that were present.
    pub deprecated: Vec<Deprecated>,
}

impl ClusterNetworks {
    /// The installer's defaults for every section: machine `10.0.0.0/16`, cluster
    /// `10.128.0.0/14` with `hostPrefix` 23, service `172.30.0.0/16`, `OVNKubernetes`.
    ///
    /// Some platforms default the machine network differently (libvirt `192.168.126.0/24`,
    /// PowerVS `192.168.0.0/24`); Azure, AWS, GCP and bare metal use `10.0.0.0/16`.
    pub fn installer_defaults() -> Self {
        Networking::default()
            .normalize()
            .expect("the defaults parse")
    }

    /// Every network, labelled with its field path, for [`crate::find_overlaps`].
    pub fn labeled(&self) -> Vec<Labeled> {
        let machine = self
            .machine
            .iter()
            .enumerate()
            .map(|(i, n)| Labeled::new(format!("networking.machineNetwork[{i}]"), *n));
        let cluster = self
            .cluster
            .iter()
            .enumerate()
            .map(|(i, c)| Labeled::new(format!("networking.clusterNetwork[{i}]"), c.cidr));
        let service = self
            .service
            .iter()
            .enumerate()
            .map(|(i, n)| Labeled::new(format!("networking.serviceNetwork[{i}]"), *n));
        machine.chain(cluster).chain(service).collect()
    }
}

impl Networking {
    /// Apply the installer's conversions (deprecated names, `hostSubnetLength` to `hostPrefix`)
    /// and, for each section that is absent or empty, its default.
    ///
    /// Fails on the first value that is not a CIDR, naming its field; host bits and every other
    /// rule are left to [`validate`], which reports them all.
    pub fn normalize(&self) -> Result<ClusterNetworks, Error> {
        let mut out = ClusterNetworks {
            machine: Vec::new(),
            cluster: Vec::new(),
            service: Vec::new(),
            network_type: String::new(),
            ovn_ipv4_join_subnet: None,
            defaulted: Vec::new(),
            deprecated: Vec::new(),
        };
        let deprecated = |field: &str, replacement: &str, current_set: bool| Deprecated {
            field: format!("networking.{field}"),
            replacement: format!("networking.{replacement}"),
            ignored: current_set,
        };

        // Machine networks.
        let machine_set = self.machine_network.as_ref().is_some_and(|v| !v.is_empty());
        if let Some(cidr) = &self.deprecated_machine_cidr {
            out.deprecated
                .push(deprecated("machineCIDR", "machineNetwork", machine_set));
            if !machine_set {
                out.machine
                    .push(parse_field("networking.machineCIDR".into(), cidr)?);
            }
        }
        for (i, entry) in self.machine_network.iter().flatten().enumerate() {
            let field = format!("networking.machineNetwork[{i}].cidr");
            out.machine.push(parse_field(field, &entry.cidr)?);
        }

        // Service networks.
        let service_set = self.service_network.as_ref().is_some_and(|v| !v.is_empty());
        if let Some(cidr) = &self.deprecated_service_cidr {
            out.deprecated
                .push(deprecated("serviceCIDR", "serviceNetwork", service_set));
            if !service_set {
                out.service
                    .push(parse_field("networking.serviceCIDR".into(), cidr)?);
            }
        }
        for (i, cidr) in self.service_network.iter().flatten().enumerate() {
            out.service.push(parse_field(
                format!("networking.serviceNetwork[{i}]"),
                cidr,
            )?);
        }

        // Cluster networks.
        let cluster_set = self.cluster_network.as_ref().is_some_and(|v| !v.is_empty());
        let (list, name) = match &self.deprecated_cluster_networks {
            Some(old) if !old.is_empty() => {
                out.deprecated
                    .push(deprecated("clusterNetworks", "clusterNetwork", cluster_set));
                if cluster_set {
                    (
                        self.cluster_network.as_deref().unwrap_or_default(),
                        "clusterNetwork",
                    )
                } else {
                    (old.as_slice(), "clusterNetworks")
                }
            }
            _ => (
                self.cluster_network.as_deref().unwrap_or_default(),
                "clusterNetwork",
            ),
        };
        for (i, entry) in list.iter().enumerate() {
            let cidr = parse_field(format!("networking.{name}[{i}].cidr"), &entry.cidr)?;
            let mut host_prefix = entry.host_prefix.unwrap_or(0);
            if let Some(length) = entry.host_subnet_length.filter(|l| *l != 0) {
                let prefix_set = host_prefix != 0;
                out.deprecated.push(deprecated(
                    &format!("{name}[{i}].hostSubnetLength"),
                    &format!("{name}[{i}].hostPrefix"),
                    prefix_set,
                ));
                if !prefix_set {
                    host_prefix = i32::from(cidr.max_prefix_len()) - length;
                }
            }
            out.cluster.push(ClusterNetwork { cidr, host_prefix });
        }

        // Network type.
        let network_type = self.network_type.as_deref().filter(|t| !t.is_empty());
        if let Some(old) = &self.deprecated_type {
            out.deprecated
                .push(deprecated("type", "networkType", network_type.is_some()));
            if network_type.is_none() {
                out.network_type = old.clone();
            }
        }
        if let Some(t) = network_type {
            out.network_type = t.to_string();
        }
        if out.network_type.eq_ignore_ascii_case(OPENSHIFT_SDN) {
            out.network_type = OPENSHIFT_SDN.to_string();
        }

        if let Some(join) = self
            .ovn_kubernetes_config
            .as_ref()
            .and_then(|c| c.ipv4.as_ref())
            .and_then(|c| c.internal_join_subnet.as_ref())
        {
            let field = "networking.ovnKubernetesConfig.ipv4.internalJoinSubnet".to_string();
            out.ovn_ipv4_join_subnet = Some(parse_field(field, join)?);
        }

        // Defaults, as the installer applies them after conversion.
        if out.machine.is_empty() {
            out.machine.push(v4(10, 0, 0, 0, 16));
            out.defaulted.push(Section::MachineNetwork);
        }
        if out.cluster.is_empty() {
            out.cluster.push(ClusterNetwork {
                cidr: v4(10, 128, 0, 0, 14),
                host_prefix: DEFAULT_HOST_PREFIX,
            });
            out.defaulted.push(Section::ClusterNetwork);
        }
        if out.service.is_empty() {
            out.service.push(v4(172, 30, 0, 0, 16));
            out.defaulted.push(Section::ServiceNetwork);
        }
        if out.network_type.is_empty() {
            out.network_type = DEFAULT_NETWORK_TYPE.to_string();
            out.defaulted.push(Section::NetworkType);
        }
        Ok(out)
    }
}

fn parse_field(field: String, value: &str) -> Result<IpNet, Error> {
    parse_cidr_lenient(value).map_err(|e| in_field(field, e))
}

fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> IpNet {
    IpNet::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), prefix).expect("prefix <= 32")
}

fn v6(addr: Ipv6Addr, prefix: u8) -> IpNet {
    IpNet::new(IpAddr::V6(addr), prefix).expect("prefix <= 128")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn from_json(json: &str) -> Networking {
        serde_json::from_str(json).unwrap()
    }

    fn cn(cidr: &str, host_prefix: i32) -> ClusterNetwork {
        ClusterNetwork {
            cidr: net(cidr),
            host_prefix,
        }
    }

    use validate::tests::render;

    #[test]
    fn defaults_are_valid() {
        let n = Networking::default().normalize().unwrap();
        assert_eq!(n.machine, [net("10.0.0.0/16")]);
        assert_eq!(n.cluster, [cn("10.128.0.0/14", 23)]);
        assert_eq!(n.service, [net("172.30.0.0/16")]);
        assert_eq!(n.network_type, "OVNKubernetes");
        assert_eq!(
            n.defaulted,
            [
                Section::MachineNetwork,
                Section::ClusterNetwork,
                Section::ServiceNetwork,
                Section::NetworkType
            ]
        );
        assert_eq!(validate(&n), []);
        assert_eq!(ClusterNetworks::installer_defaults(), n);
        assert_eq!(
            n.labeled()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "networking.machineNetwork[0] `10.0.0.0/16`",
                "networking.clusterNetwork[0] `10.128.0.0/14`",
                "networking.serviceNetwork[0] `172.30.0.0/16`",
            ]
        );
    }

    #[test]
    fn current_fields_parse_and_only_absent_sections_default() {
        let n = from_json(
            r#"{
                "networkType": "OVNKubernetes",
                "machineNetwork": [{"cidr": "10.20.0.0/16"}],
                "clusterNetwork": [{"cidr": "10.132.0.0/14", "hostPrefix": 23}],
                "somethingNew": {"ignored": true}
            }"#,
        );
        let n = n.normalize().unwrap();
        assert_eq!(
            n,
            ClusterNetworks {
                machine: vec![net("10.20.0.0/16")],
                cluster: vec![cn("10.132.0.0/14", 23)],
                service: vec![net("172.30.0.0/16")],
                network_type: "OVNKubernetes".into(),
                ovn_ipv4_join_subnet: None,
                defaulted: vec![Section::ServiceNetwork],
                deprecated: vec![],
            }
        );
        assert_eq!(validate(&n), []);
    }

    #[test]
    fn deprecated_fields_are_converted() {
        let n = from_json(
            r#"{
                "type": "openshiftsdn",
                "machineCIDR": "10.0.0.0/16",
                "serviceCIDR": "172.30.0.0/16",
                "clusterNetworks": [{"cidr": "10.128.0.0/14", "hostSubnetLength": 9}]
            }"#,
        );
        let n = n.normalize().unwrap();
        let dep = |field: &str, replacement: &str| Deprecated {
            field: field.into(),
            replacement: replacement.into(),
            ignored: false,
        };
        assert_eq!(
            n,
            ClusterNetworks {
                machine: vec![net("10.0.0.0/16")],
                cluster: vec![cn("10.128.0.0/14", 23)],
                service: vec![net("172.30.0.0/16")],
                network_type: "OpenShiftSDN".into(),
                ovn_ipv4_join_subnet: None,
                defaulted: vec![],
                deprecated: vec![
                    dep("networking.machineCIDR", "networking.machineNetwork"),
                    dep("networking.serviceCIDR", "networking.serviceNetwork"),
                    dep("networking.clusterNetworks", "networking.clusterNetwork"),
                    dep(
                        "networking.clusterNetworks[0].hostSubnetLength",
                        "networking.clusterNetworks[0].hostPrefix"
                    ),
                    dep("networking.type", "networking.networkType"),
                ],
            }
        );
        assert_eq!(
            render(&validate(&n)),
            [
                "warning networking.machineCIDR: deprecated | hint: use `networking.machineNetwork` instead",
                "warning networking.serviceCIDR: deprecated | hint: use `networking.serviceNetwork` instead",
                "warning networking.clusterNetworks: deprecated | hint: use `networking.clusterNetwork` instead",
                "warning networking.clusterNetworks[0].hostSubnetLength: deprecated | hint: use `networking.clusterNetworks[0].hostPrefix` instead",
                "warning networking.type: deprecated | hint: use `networking.networkType` instead",
                "warning networking.networkType: `OpenShiftSDN` cannot be installed by OpenShift 4.15 and later | hint: use `networkType: OVNKubernetes`",
            ]
        );
    }

    #[test]
    fn current_fields_win_over_deprecated_ones() {
        let n = from_json(
            r#"{
                "networkType": "OVNKubernetes",
                "type": "OpenShiftSDN",
                "machineNetwork": [{"cidr": "10.1.0.0/16"}],
                "machineCIDR": "10.0.0.0/16",
                "clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23, "hostSubnetLength": 8}],
                "clusterNetworks": [{"cidr": "10.192.0.0/14", "hostSubnetLength": 9}]
            }"#,
        );
        let n = n.normalize().unwrap();
        assert_eq!(
            (n.machine.clone(), n.cluster.clone(), n.network_type.clone()),
            (
                vec![net("10.1.0.0/16")],
                vec![cn("10.128.0.0/14", 23)],
                "OVNKubernetes".to_string()
            )
        );
        assert_eq!(
            render(&validate(&n)),
            [
                "warning networking.machineCIDR: deprecated and ignored because `networking.machineNetwork` is set | hint: use `networking.machineNetwork` instead",
                "warning networking.clusterNetworks: deprecated and ignored because `networking.clusterNetwork` is set | hint: use `networking.clusterNetwork` instead",
                "warning networking.clusterNetwork[0].hostSubnetLength: deprecated and ignored because `networking.clusterNetwork[0].hostPrefix` is set | hint: use `networking.clusterNetwork[0].hostPrefix` instead",
                "warning networking.type: deprecated and ignored because `networking.networkType` is set | hint: use `networking.networkType` instead",
            ]
        );
    }

    #[test]
    fn unparseable_values_name_their_field() {
        let cases = [
            (
                r#"{"machineNetwork": [{"cidr": "10.0.0.0/16"}, {"cidr": "10.1.0.0"}]}"#,
                "`networking.machineNetwork[1].cidr`: invalid CIDR `10.1.0.0`: missing prefix length",
            ),
            (
                r#"{"serviceNetwork": ["172.30.0.0/16", "bogus"]}"#,
                "`networking.serviceNetwork[1]`: invalid CIDR `bogus`: expected an address and a prefix length",
            ),
            (
                r#"{"clusterNetworks": [{"hostSubnetLength": 9}]}"#,
                "`networking.clusterNetworks[0].cidr`: invalid CIDR ``: empty",
            ),
            (
                r#"{"machineCIDR": "10.0.0.0/40"}"#,
                "`networking.machineCIDR`: invalid CIDR `10.0.0.0/40`: prefix length 40 is longer than 32",
            ),
            (
                r#"{"ovnKubernetesConfig": {"ipv4": {"internalJoinSubnet": "100.65.0.0"}}}"#,
                "`networking.ovnKubernetesConfig.ipv4.internalJoinSubnet`: invalid CIDR `100.65.0.0`: missing prefix length",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(json, _)| crate::error::chain(&from_json(json).normalize().unwrap_err()))
            .collect();
        assert_eq!(
            got,
            cases
                .iter()
                .map(|(_, want)| want.to_string())
                .collect::<Vec<_>>()
        );
        let err = from_json(cases[0].0).normalize().unwrap_err();
        assert_eq!(
            err.hint().as_deref(),
            Some("add a prefix length: `10.1.0.0/32` is the single address")
        );
    }
}
