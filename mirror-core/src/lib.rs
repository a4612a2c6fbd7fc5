//! mirrorctl's engine: the registry client, the OpenShift release payload, digest-exact
//! release mirroring, the upgrade graph and the releases to mirror for upgrades, and host
//! setup.
//!
//! The public modules are the library's parts: [`registry`] (the client), [`release`]
//! (payloads, mirroring, signatures, instructions), [`copy`] (the engine and its source/sink
//! seam), [`bundle`] (mirror to disk and back), [`upgrade`] (the upgrade graph and
//! ImageSetConfigurations), [`preflight`], [`install`](mod@install), [`runtime`] (the registry process),
//! [`storage`] (S3), [`pull_secret`], [`htpasswd`] and the smaller types they share. The entry
//! points an installer calls are re-exported here at the root, with the types every call
//! takes ([`Error`], [`Hint`], [`ImageRef`], [`Repository`], [`RegistryClient`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), mirror_core::Error> {
//! use mirror_core::{ClientOptions, ImageRef, RegistryClient};
//! let client = RegistryClient::new(ClientOptions::default())?;
//! let release = ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64")?;
//! let manifest = client.get_manifest(&release.repo, release.target.as_str()).await?;
//! println!("{:?}", manifest.map(|m| m.digest));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod bundle;
pub mod copy;
pub mod digest;
mod error;
mod hint;
pub mod htpasswd;
pub mod install;
pub mod manifest;
pub mod preflight;
pub mod progress;
pub mod pull_secret;
pub mod reference;
pub mod registry;
pub mod release;
pub mod runtime;
pub mod secret;
pub mod size;
pub mod storage;
pub mod upgrade;
pub mod verify;

pub use error::{CertProblem, Error, ErrorChain, ObjectStorageFailure};
pub use hint::Hint;
/// The network facts library, re-exported so callers share one version.
pub use mirror_net as net;
/// The certificate and trust library, re-exported so callers share one version.
pub use mirror_tls as tls;
/// Semantic versions (release versions in the upgrade graph), re-exported so callers share one
/// version.
pub use semver;

// The entry points an installer calls, and the types every call takes; the rest is in the
// modules above.
pub use bundle::publish_bundle;
pub use digest::Digest;
pub use htpasswd::set_htpasswd_user;
pub use install::install;
pub use preflight::run_preflight;
pub use pull_secret::merge_pull_secret;
pub use reference::{ImageRef, Repository};
pub use registry::{ClientOptions, RegistryClient};
pub use release::{extract_installer, mirror_release, mirror_releases, release_info};
pub use runtime::registry_up;
pub use upgrade::plan_upgrade;
