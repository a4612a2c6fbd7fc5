//! Test harness for mirrorctl.
//!
//! - [`TestRegistry`]: a real distribution registry (`docker-registry serve`, the program in
//!   the `registry:2` image) on a free loopback port, optionally with TLS from a throwaway CA
//!   and htpasswd auth; killed and cleaned up on drop, also when a test panics.
//! - [`skopeo`]: an independent client to check what landed.
//! - [`fixture`]: a synthetic, format-faithful OpenShift release payload pushed byte for byte.
//!
//! A missing `docker-registry` or `skopeo` fails the test with the install command.
#![deny(missing_docs)]

pub mod cli;
pub mod fault_proxy;
pub mod fixture;
mod registry;
pub mod skopeo;
pub mod token_server;
mod tools;

pub use registry::{RegistryOptions, TestRegistry};
pub use tools::require_tool;
