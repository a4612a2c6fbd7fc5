//! Network facts for mirrorctl: CIDR overlap rules, host networks, ports and names.
#![deny(missing_docs)]
