//! OpenShift releases: reading payloads, mirroring them, and the mirror instructions.

pub(crate) mod extract;
pub(crate) mod info;
pub(crate) mod instructions;
pub(crate) mod layer;
pub(crate) mod mirror;
pub(crate) mod payload;
pub(crate) mod report;
pub(crate) mod signature;

pub use extract::{ExtractReport, extract_installer};
pub use info::{ComponentInfo, ReleaseInfo, release_info};
pub use instructions::{InstructionKind, MirrorInstructions, SourceMirror};
pub use mirror::{
    ImageEntry, MirrorOptions, MirrorPlan, MirrorReport, MirrorRequest, ReleaseEntry,
    mirror_release, mirror_releases,
};
pub use payload::{
    Component, Release, ReleaseMetadata, parse_image_references, parse_release_metadata,
    read_release, tag_arch,
};
pub use signature::{
    KeyMatch, Keyring, KeyringInfo, MAX_SIGNATURE_BYTES, MAX_SIGNATURES, SIGNATURE_LABEL,
    SIGNATURE_NAMESPACE, SignatureFiles, SignatureOptions, SignatureReport, SignatureStatus,
    SignatureStore, StoreReport, StoreResult, VERIFICATION_ANNOTATION, VerifiedSignature,
    configmap_file_name, signature_configmap, sigstore_tag,
};
