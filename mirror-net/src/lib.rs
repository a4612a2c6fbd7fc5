//! Network facts for mirrorctl: CIDR overlap rules, the install-config `networking` rules, host
//! networks, ports and names.
//!
//! A mirror registry for a restricted-network OpenShift install sits in a network the cluster
//! must reach: on Azure the mirror's VNet is peered with the cluster's, and peering fails when
//! their address spaces overlap. This crate answers the questions a preflight asks:
//!
//! - [`parse_cidr`], [`overlaps`], [`find_overlaps`]: is every mirror range disjoint from every
//!   cluster range?
//! - [`Networking`], [`validate`]: would the installer accept the `networking` section of
//!   install-config.yaml?
//! - [`host_networks`], [`host_addresses`], [`hostname`], [`fqdn`], [`resolves_to_local`]: what
//!   does this host look like from the cluster?
//! - [`port_status`]: can the registry listen where it should, and if not, who is in the way?
//!
//! ```
//! use mirror_net::{find_overlaps, parse_cidr, validate, Labeled, Networking};
//!
//! # fn main() -> Result<(), mirror_net::Error> {
//! // The networking section as read from install-config.yaml (here: absent, so all defaults).
//! let cluster = Networking::default().normalize()?;
//! assert!(validate(&cluster).is_empty());
//!
//! // Azure's default VNet is 10.0.0.0/16, the same as OpenShift's default machine network.
//! let mirror = [Labeled::new("mirror vnet", parse_cidr("10.0.0.0/16")?)];
//! let found = find_overlaps(&mirror, &cluster.labeled());
//! assert_eq!(
//!     found[0].to_string(),
//!     "mirror vnet `10.0.0.0/16` is the same network as networking.machineNetwork[0] `10.0.0.0/16`"
//! );
//!
//! // Host bits are an error with the fix as its hint.
//! let err = parse_cidr("10.0.0.1/16").unwrap_err();
//! assert_eq!(err.hint().as_deref(), Some("did you mean `10.0.0.0/16`"));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod cidr;
mod error;
mod host;
mod install_config;
mod port;

pub use cidr::{
    Labeled, Overlap, OverlapKind, find_overlaps, overlaps, parse_cidr, parse_cidr_lenient,
};
pub use error::Error;
pub use host::{
    InterfaceNetwork, filter_networks, fqdn, fqdn_from_hosts, host_addresses, host_networks,
    hostname, is_fqdn, resolve, resolves_to_local,
};
pub use install_config::{
    ClusterNetwork, ClusterNetworkEntry, ClusterNetworks, DEFAULT_HOST_PREFIX,
    DEFAULT_NETWORK_TYPE, Deprecated, Finding, MachineNetworkEntry, Networking, OvnIpv4Config,
    OvnKubernetesConfig, Section, Severity, ovn_reserved, validate,
};
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
pub use port::{PortStatus, ProcessInfo, TCP_LISTEN, TcpSocket, parse_proc_net_tcp, port_status};
