//! OpenShift releases: reading payloads, mirroring them, and the mirror instructions.

pub(crate) mod extract;
pub(crate) mod info;
pub(crate) mod instructions;
pub(crate) mod layer;
pub(crate) mod mirror;
pub(crate) mod payload;
pub(crate) mod report;
pub(crate) mod signature;
