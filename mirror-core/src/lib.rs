//! mirrorctl's engine: the registry client, the OpenShift release payload, digest-exact
//! release mirroring, the upgrade graph and the releases to mirror for upgrades, and host
//! setup.
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

mod auth;
pub mod bundle;
pub mod copy;
mod digest;
mod error;
mod hint;
mod htpasswd;
mod install;
mod manifest;
mod preflight;
mod progress;
mod pull_secret;
mod reference;
mod registry;
mod release;
mod runtime;
mod secret;
mod size;
mod storage;
mod upgrade;
pub mod verify;

pub use auth::{AuthFile, Credential, FoundCredential};
pub use copy::DEFAULT_MAX_PER_REGISTRY;
pub use digest::{Digest, DigestHasher};
pub use error::{CertProblem, Error, ErrorChain, ObjectStorageFailure};
pub use hint::Hint;
pub use htpasswd::{
    DEFAULT_BCRYPT_COST, Htpasswd, MAX_PASSWORD_BYTES, UserAction, UserState, hash_password,
    htpasswd_user_state, set_htpasswd_user, validate_password, validate_username,
};
pub use install::config::{InstallConfigFile, S3ConfigFile};
pub use install::settings::{
    DEFAULT_ARCHITECTURE, DEFAULT_CERTIFICATE_FILE, DEFAULT_MIRROR_REPOSITORY, DEFAULT_OUTPUT_DIR,
    DEFAULT_RELEASE_REPOSITORY, InstallOptions, SettingNames,
};
pub use install::uninstall::{UninstallSettings, uninstall};
pub use install::{
    InstallError, InstallProgress, InstallReport, InstallSettings, Step, StepReport, StepStatus,
    install,
};
pub use manifest::{BlobRef, ChildRef, ManifestKind, is_list, media_type_of, parse_kind};
/// The network facts library, re-exported so callers share one version.
pub use mirror_net as net;
/// The certificate and trust library, re-exported so callers share one version.
pub use mirror_tls as tls;
pub use preflight::{
    CheckInfo, CheckList, CheckResult, CheckSeverity, ClusterNetworks, DEFAULT_DATA_DIR,
    DEFAULT_MIN_FREE, DEFAULT_PORT, DiskSpace, FirewallFacts, HostFacts, HostnameFacts,
    InstallConfig, InterfaceNetwork, IpNet, MIN_CPUS, MIN_MEMORY_BYTES, OsRelease,
    PREFLIGHT_API_VERSION, PortStatus, PreflightOptions, PreflightReport, Probe, Problem,
    ProcessInfo, ReleaseSize, Status, Summary, Tools, UpstreamFacts, checks, evaluate,
    parse_cidr_arg, run_preflight,
};
pub use progress::{BlobAction, ImageAction, MirrorEvent, NoProgress, Progress};
pub use pull_secret::{
    EntryAction, LoginCheck, MergeOptions, MergeReport, OutputAction, PullSecret, PullSecretEntry,
    Warning, check_logins, merge_pull_secret, validate_registry_key,
};
pub use reference::valid_tag;
pub use reference::{ImageRef, Reference, Repository, Target};
pub use registry::{
    BlobStream, ClientOptions, HttpVersion, MountOutcome, RawManifest, RegistryClient, RetryHook,
    RetryNotice, RetryPolicy, UploadSession, media_type,
};
pub use release::extract::{ExtractReport, extract_installer};
pub use release::info::{ComponentInfo, ReleaseInfo, release_info};
pub use release::instructions::{InstructionKind, MirrorInstructions, SourceMirror};
pub use release::mirror::{
    ImageEntry, MirrorOptions, MirrorPlan, MirrorReport, MirrorRequest, ReleaseEntry,
    mirror_release, mirror_releases,
};
pub use release::payload::{
    Component, Release, ReleaseMetadata, parse_image_references, parse_release_metadata,
    read_release, tag_arch,
};
pub use release::signature::{
    KeyMatch, Keyring, KeyringInfo, MAX_SIGNATURE_BYTES, MAX_SIGNATURES, SIGNATURE_LABEL,
    SIGNATURE_NAMESPACE, SignatureFiles, SignatureOptions, SignatureReport, SignatureStatus,
    SignatureStore, StoreReport, StoreResult, VERIFICATION_ANNOTATION, VerifiedSignature,
    configmap_file_name, signature_configmap, sigstore_tag,
};
pub use runtime::{
    ArchiveImage, CONTAINER_NAME, CheckState, DEFAULT_REGISTRY_IMAGE, DEFAULT_REGISTRY_PORT,
    DEFAULT_REGISTRY_ROOT, DetectedVersion, DownReport, FirewallAction, FirewallReport,
    LoadedImage, LogSource, PortOpen, RegistryLayout, RegistryVersion, RunMode, RunOptions,
    RuntimeChoice, RuntimeState, StatusCheck, StatusOptions, StatusReport, SupervisorChoice,
    UNIT_NAME, UpAction, UpOptions, UpReport, close_registry_ports, describe_listen, is_running,
    parse_bind, read_image_archive, registry_down, registry_logs, registry_status, registry_up,
    validate_port,
};
pub use secret::{read_secret_file, secret_line};
/// Semantic versions (release versions in the upgrade graph), re-exported so callers share one
/// version.
pub use semver;
pub use size::{format_size, parse_size};
pub use storage::{
    DEFAULT_S3_REGION, S3CheckReport, S3Credentials, S3Storage, SecretAction, StorageSettings,
    check_s3, default_http_secret_file, ensure_http_secret, read_http_secret,
};
pub use upgrade::cross::{CrossChannelPath, CrossStep};
pub use upgrade::fetch::{
    ChannelGraph, DEFAULT_ARCH, DEFAULT_GRAPH_URL, GraphClient, GraphOptions, GraphSource,
    graph_arch, graph_file_name,
};
pub use upgrade::graph::{
    ARCHITECTURE_KEY, CHANNELS_KEY, ConditionalEdges, EdgeVersions, Graph, MatchingRule, Node,
    PromQlRule, Risk,
};
pub use upgrade::imageset::{AdditionalImage, IMAGESET_API_VERSION, IMAGESET_KIND, ImageSetConfig};
pub use upgrade::output::{
    AdditionalMirrors, ReleaseUpdate, additional_mirrors, render_release_updates,
};
pub use upgrade::select::{
    ChannelRequest, ChannelSelection, ConditionalHop, Hop, PickedRelease, SelectionMode,
    parse_version, select_channel,
};
pub use upgrade::{PlannedRelease, UpgradePlan, UpgradeRequest, plan_upgrade};
