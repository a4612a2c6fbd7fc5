//! Test harness for mirrorctl.
//!
//! - [`TestRegistry`]: a real distribution registry (`docker-registry serve`, the program in
//!   the `registry:2` image) on a free loopback port, optionally with TLS from a throwaway CA
//!   and htpasswd auth; killed and cleaned up on drop, also when a test panics.
//! - [`skopeo`]: an independent client to check what landed.
//! - [`fixture`]: a synthetic, format-faithful OpenShift release payload pushed byte for byte.
//! - [`moto::Moto`]: a real S3 API server (moto) on a free loopback port, with a bucket.
//! - [`graph_server`]: an upgrade graph server (Cincinnati JSON) on loopback.
//! - [`signing`] and [`SignatureServer`]: release signatures made with a generated OpenPGP
//!   key, and a loopback signature store serving them.
//!
//! A missing `docker-registry` or `skopeo` fails the test with the install command.
#![deny(missing_docs)]

pub mod cli;
pub mod fault_proxy;
pub mod fixture;
pub mod graph_server;
pub mod moto;
mod registry;
pub mod signature_server;
pub mod signing;
pub mod skopeo;
pub mod token_server;
mod tools;

pub use registry::{CertVariant, RegistryOptions, TestRegistry, free_port};
pub use signature_server::SignatureServer;

/// The tokio runtime the tests drive library calls with (two workers, all drivers). Make one
/// per test and keep it: a client's pooled connections belong to the runtime that made them.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}
pub use tools::require_tool;
