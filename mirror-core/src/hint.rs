//! The likely fix for an error, as data.
//!
//! The library cannot know the flag names of the program that embeds it, so a [`Hint`] says
//! *what* to do and carries the values involved; its `Display` words it without naming any
//! flag. A program renders it in its own terms (mirrorctl names the flags of the command that
//! printed it).

use std::path::PathBuf;

/// What to do about an error. `Display` gives a wording that names no program's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// The registry's certificate is signed by a CA this client does not trust.
    TrustCa {
        /// The image or blob whose registry it is.
        target: String,
    },
    /// The registry's certificate does not name the host connected to.
    CertificateName {
        /// The image or blob whose registry it is.
        target: String,
        /// The name connected to, when known.
        expected: Option<String>,
        /// The names the certificate holds, when known.
        presented: Vec<String>,
    },
    /// The registry's certificate has expired (or this host's clock is wrong).
    CertificateExpired,
    /// The registry's certificate is unusable for TLS for another reason.
    CertificateUnusable,
    /// The connection failed: host, port, proxies, firewalls; or the registry is plain HTTP.
    CheckConnection,
    /// The credentials from this auth-file entry were refused.
    CheckCredentials {
        /// Which entry of which file.
        entry: String,
    },
    /// No credentials matched the registry of this target.
    AddCredentials {
        /// The image or blob whose registry it is.
        target: String,
    },
    /// The account may not do this.
    CheckPermissions,
    /// The repository or tag does not exist.
    CheckReference,
    /// The registry kept rate-limiting.
    RateLimited {
        /// How many tries were made.
        tries: u32,
    },
    /// The registry refuses writes (read-only, pull-through cache).
    ReadOnlyRegistry,
    /// The registry or a proxy refuses large bodies.
    BodyTooLarge,
    /// The registry kept failing (5xx).
    RegistryFailing,
    /// The install config file has unknown or misspelt fields.
    ConfigFields,
    /// An auth file is not the documented JSON.
    AuthFileFormat,
    /// The source served bytes that do not match their digest.
    CorruptSource,
    /// An htpasswd file has lines that are not `user:bcrypt`.
    HtpasswdFormat,
    /// The registry user has another password; changing it would lock out every node using
    /// the old pull secret.
    RotatePassword,
    /// A file exists and holds something else; it is not replaced unasked.
    WouldOverwrite {
        /// The file.
        path: PathBuf,
    },
    /// Something else listens on the port.
    PortInUse {
        /// The port.
        port: u16,
    },
    /// The registry's certificate would be refused by clients (no SAN, wrong names).
    RegenerateCertificate {
        /// The certificate directory.
        certs_dir: PathBuf,
    },
    /// The object store cannot be reached at its endpoint.
    StorageEndpoint {
        /// The endpoint URL.
        endpoint: String,
    },
    /// The object store refused the access key, or its file is unusable.
    StorageCredentials {
        /// The credentials file.
        file: PathBuf,
    },
    /// The bucket does not exist (the registry never creates it).
    CreateBucket {
        /// The bucket.
        bucket: String,
    },
    /// The access key may not do what the registry needs in the bucket.
    StoragePermissions {
        /// The bucket.
        bucket: String,
    },
    /// The bucket lives in another region than the one the requests are signed for.
    StorageRegion,
    /// Run this command (installing a package, registering the host): already worded.
    Run {
        /// The whole advice, naming only other programs' commands.
        advice: String,
    },
    /// Save the registry image into an archive on a connected host and carry it over.
    MakeImageArchive,
    /// Open (or close) the registry's port in firewalld by hand, as root.
    FirewallPort {
        /// The port.
        port: u16,
        /// Open it (else close it).
        open: bool,
    },
    /// The release's signatures do not verify with its keys: the content or the keys are not
    /// what they should be.
    SignatureRejected,
    /// No verified signature could be had: reach or copy a signature store, or accept an
    /// unsigned release.
    SignatureUnavailable,
    /// A signature key is not an OpenPGP public key.
    SignatureKeyFormat,
    /// Read the registry's log.
    ReadLog {
        /// The log file.
        log: PathBuf,
    },
    /// The channel (or architecture) is not one the graph knows.
    CheckChannel {
        /// The channel asked for.
        channel: String,
        /// The architecture asked for.
        arch: String,
        /// The channels a saved graph lists (empty for a graph server, which does not say).
        known: Vec<String>,
    },
    /// The graph URL does not lead to a graph API.
    GraphUrl,
    /// The graph server failed or could not be reached: fetch the graph elsewhere and use
    /// the saved file.
    GraphUnavailable {
        /// The URL that failed, with its query.
        url: String,
    },
    /// A graph file is not Cincinnati JSON.
    GraphFormat,
    /// A version is not in the channel: the versions it does hold.
    VersionsInChannel {
        /// Its oldest release.
        oldest: String,
        /// Its newest release.
        newest: String,
        /// The releases nearest to the version asked for.
        nearest: Vec<String>,
    },
    /// The minimum version is above the maximum.
    VersionOrder,
    /// A version that is not a semantic version.
    VersionFormat,
    /// No upgrade path joins two versions on the edges allowed.
    NoUpgradePath {
        /// The conditional edges the path would need (`from -> to (risks: ...)`), when
        /// following conditional edges would join them.
        conditional: Vec<String>,
        /// The newest version reachable from the start, when no path exists at all.
        reachable: Option<String>,
        /// A single channel that may hold the whole path, for a path across channels.
        one_channel: Option<String>,
    },
    /// An ImageSetConfiguration field this version does not implement.
    NotSupportedYet {
        /// The field's path in the file, e.g. `mirror.operators`.
        field: String,
    },
    /// An ImageSetConfiguration that is not the documented format.
    ImageSetConfigFormat,
    /// Advice already worded by a library below this one (`mirror-tls`, `mirror-net`), naming
    /// no program's flags.
    Worded {
        /// The advice.
        advice: String,
    },
    /// A size is written as a number and a unit.
    SizeFormat,
    /// A port is a number from 1 to 65535.
    PortRange,
    /// An address to listen on is one of this host's IP addresses, without a port.
    BindAddress,
    /// The name is not one of these.
    KnownNames {
        /// What they name (`check`, `step`).
        kind: &'static str,
        /// The names known.
        known: Vec<&'static str>,
    },
    /// An install-config file is YAML with a `networking` mapping.
    InstallConfigFormat,
    /// The certificate directory holds a CA that is not replaced unasked.
    ReplaceCa {
        /// The certificate directory.
        certs_dir: PathBuf,
    },
    /// The certificate directory holds a server certificate from a CA that is not there.
    ForeignCertificate {
        /// The certificate directory.
        certs_dir: PathBuf,
    },
    /// Preflight checks blocked the install: run them alone for details, or waive one.
    RunPreflight,
    /// A bundle without its metadata file: the run that wrote it did not finish.
    BundleIncomplete,
    /// A bundle file is missing, cut short or altered (in transfer, on the media).
    BundleDamaged,
    /// A bundle written by a newer program, in a metadata version this one does not read.
    BundleVersion {
        /// The version found.
        found: u32,
        /// The version this program reads.
        supported: u32,
    },
    /// The directory given as a bundle holds no bundle at all.
    NotABundle,
    /// The directory to write a bundle into holds other files.
    BundleDirNotEmpty,
    /// Too little free space for a bundle.
    BundleNoSpace {
        /// Bytes needed.
        needed: u64,
        /// Bytes free.
        free: u64,
    },
    /// An incremental bundle's base is not at the target: the earlier bundle was not
    /// published there.
    BundleBaseMissing {
        /// The earlier bundle's id.
        base_id: String,
        /// When it was made.
        base_created: String,
    },
    /// A complete bundle of other releases is in the directory.
    BundleOtherContent,
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hint::TrustCa { target } => write!(
                f,
                "the registry of `{target}` presents a certificate signed by an unknown CA: trust that CA's certificate"
            ),
            Hint::CertificateName { .. } => f.write_str(
                "connect by a name the certificate holds, or reissue the registry's certificate with this name as a subjectAltName; trusting another CA does not help here",
            ),
            Hint::CertificateExpired => f.write_str(
                "renew the registry's certificate and restart the registry; also check this host's clock; trusting another CA does not help here",
            ),
            Hint::CertificateUnusable => f.write_str(
                "the registry's certificate is unusable for TLS: check its key usage, names and validity",
            ),
            Hint::CheckConnection => f.write_str(
                "check the registry host and port, proxy settings (HTTPS_PROXY/NO_PROXY) and firewalls; a plain-HTTP registry must be named as insecure",
            ),
            Hint::CheckCredentials { entry } => write!(
                f,
                "the credentials from {entry} were refused: check that entry's `auth` (base64 of `user:password`)"
            ),
            Hint::AddCredentials { target } => write!(
                f,
                "no credentials matched the registry of `{target}`: add them to the auth file"
            ),
            Hint::CheckPermissions => f.write_str(
                "the account is known but may not do this: check its permissions on the repository",
            ),
            Hint::CheckReference => f.write_str("check the repository and tag"),
            Hint::RateLimited { tries } => write!(
                f,
                "the registry kept rate-limiting after {tries} tries: copy fewer blobs at once, or rerun later (a rerun copies only what is missing)"
            ),
            Hint::ReadOnlyRegistry => f.write_str(
                "the registry refuses this method here: it may be read-only (maintenance mode) or a pull-through cache; mirror into a writable registry",
            ),
            Hint::BodyTooLarge => f.write_str(
                "the registry (or a proxy in front of it) refuses large request bodies: raise its body size limit",
            ),
            Hint::RegistryFailing => f.write_str(
                "the registry failed repeatedly: check its logs and free disk space, then rerun (a rerun copies only what is missing)",
            ),
            Hint::ConfigFields => f.write_str(
                "fields are camelCase (see docs/install.md); passwords go in a file named by `passwordFile`, never in the config",
            ),
            Hint::AuthFileFormat => f.write_str(
                "an auth file is JSON with an `auths` object whose entries hold `auth`: base64 of `user:password`",
            ),
            Hint::CorruptSource => f.write_str(
                "the source served corrupt or altered content: rerun; if it persists, report it to the source registry",
            ),
            Hint::HtpasswdFormat => f.write_str(
                "each line is `user:$2y$...` (bcrypt); rewrite the user's line with a new password",
            ),
            Hint::RotatePassword => f.write_str(
                "give the current password to keep it, or rotate it on purpose: htpasswd, the pull secret and the install-config snippet are then updated together",
            ),
            Hint::WouldOverwrite { path } => write!(
                f,
                "move `{}` away or write somewhere else: it is never replaced unasked",
                path.display()
            ),
            Hint::PortInUse { port } => write!(
                f,
                "stop what listens on port {port} (a registry started by the old script is a container named `mirror-registry`: `podman rm -f mirror-registry`), or pick another port"
            ),
            Hint::RegenerateCertificate { certs_dir } => write!(
                f,
                "make a new certificate in `{}` with subjectAltNames for every name clients use",
                certs_dir.display()
            ),
            Hint::SignatureRejected => f.write_str(
                "nothing was copied: the release or its signatures were altered, or the keys are not the release keys; mirror from the official source, or check the keys given",
            ),
            Hint::SignatureUnavailable => f.write_str(
                "make a signature store reachable (an internal HTTP server or a directory holding `sha256=<hex>/signature-N`), or accept an unsigned release",
            ),
            Hint::SignatureKeyFormat => f.write_str(
                "give an OpenPGP public key file, armored or binary, as gpg exports it (not a private key, not a signature)",
            ),
            Hint::StorageEndpoint { endpoint } => write!(
                f,
                "check the endpoint URL `{endpoint}` (scheme, host, port), proxy settings (HTTPS_PROXY/NO_PROXY) and firewalls between this host and the object store; a private CA for it goes in this host's trust store"
            ),
            Hint::StorageCredentials { file } => write!(
                f,
                "check the access key in `{}`: {}",
                file.display(),
                crate::storage::CREDENTIAL_FORMATS
            ),
            Hint::CreateBucket { bucket } => write!(
                f,
                "create the bucket `{bucket}` first (the registry never creates it), or check its name"
            ),
            Hint::StoragePermissions { bucket } => write!(
                f,
                "the key is valid but may not use bucket `{bucket}`: grant s3:ListBucket, s3:GetBucketLocation, s3:ListBucketMultipartUploads on the bucket and s3:PutObject, s3:GetObject, s3:DeleteObject, s3:ListMultipartUploadParts, s3:AbortMultipartUpload on its objects"
            ),
            Hint::StorageRegion => f.write_str(
                "the bucket is in another region: give the bucket's region (the store's error names it)",
            ),
            Hint::Run { advice } => f.write_str(advice),
            Hint::ReadLog { log } => write!(f, "read the registry's log: `{}`", log.display()),
            Hint::FirewallPort { port, open: true } => write!(
                f,
                "rerun this as root, or open it yourself: `firewall-cmd --add-port={port}/tcp && firewall-cmd --permanent --add-port={port}/tcp`; the registry runs, but clients on other hosts cannot reach it until the port is open"
            ),
            Hint::FirewallPort { port, open: false } => write!(
                f,
                "rerun this as root, or close it yourself: `firewall-cmd --remove-port={port}/tcp && firewall-cmd --permanent --remove-port={port}/tcp`"
            ),
            Hint::MakeImageArchive => f.write_str(
                "on a host with network access save the image with `podman save -o registry.tar docker.io/library/registry:2` (or `skopeo copy docker://docker.io/library/registry:2 docker-archive:registry.tar:docker.io/library/registry:2`), check its sha256sum on both sides, and carry that file over",
            ),
            Hint::CheckChannel { known, .. } => {
                f.write_str("check the channel name and the architecture: channels are named like `stable-4.14`, `fast-4.15`, `eus-4.16` or `candidate-4.17`, architectures are `amd64`, `arm64`, `ppc64le`, `s390x` or `multi`")?;
                if !known.is_empty() {
                    write!(f, "; this graph lists {}", backticked(known))?;
                }
                Ok(())
            }
            Hint::GraphUrl => f.write_str(
                "give a graph API endpoint (the public one is `https://api.openshift.com/api/upgrades_info/v1/graph`, an OpenShift Update Service serves one too) or a saved graph file",
            ),
            Hint::GraphUnavailable { url } => write!(
                f,
                "check the URL and the proxy settings (HTTPS_PROXY, NO_PROXY), or rerun later; or save the graph where it can be reached (`curl -H 'Accept: application/json' '{url}' -o graph.json`) and read it from that file"
            ),
            Hint::GraphFormat => f.write_str(
                "a graph is Cincinnati JSON (`nodes`, `edges`, `conditionalEdges`) as the graph API serves it with `Accept: application/json`; save the response body unchanged",
            ),
            Hint::VersionsInChannel {
                oldest,
                newest,
                nearest,
            } => {
                write!(f, "the channel holds {oldest} to {newest}")?;
                if !nearest.is_empty() {
                    write!(f, "; the nearest are {}", nearest.join(", "))?;
                }
                Ok(())
            }
            Hint::VersionOrder => f.write_str(
                "the minimum is the version to upgrade from and the maximum the one to reach: swap them",
            ),
            Hint::VersionFormat => {
                f.write_str("versions are written in full, like `4.14.1` or `4.15.0-rc.2`")
            }
            Hint::NoUpgradePath {
                conditional,
                reachable,
                one_channel,
            } => {
                if !conditional.is_empty() {
                    write!(
                        f,
                        "the path needs {}: read the risks, then allow conditional edges to follow them",
                        conditional.join(", ")
                    )?;
                } else {
                    f.write_str("pick versions the graph joins")?;
                }
                if let Some(r) = reachable {
                    write!(f, "; the newest version reachable from the start is {r}")?;
                }
                if let Some(c) = one_channel {
                    write!(
                        f,
                        "; or pick the whole path in one channel: `{c}` also lists the releases that upgrade into it"
                    )?;
                }
                Ok(())
            }
            Hint::NotSupportedYet { field } => write!(
                f,
                "remove `{field}` from the file (or mirror that content with oc-mirror): this version mirrors `mirror.platform.channels`, `mirror.platform.release`, `mirror.additionalImages` and reads `archiveSize`"
            ),
            Hint::ImageSetConfigFormat => f.write_str(
                "the file is an oc-mirror `ImageSetConfiguration` with `apiVersion: mirror.openshift.io/v2alpha1`; field names are camelCase (see docs/upgrades.md)",
            ),
            Hint::Worded { advice } => f.write_str(advice),
            Hint::SizeFormat => f.write_str(
                "write a number and a unit, like `1000GiB`, `500G` or `1.5TiB` (binary units KiB..PiB, decimal units K..P or KB..PB; no unit means bytes)",
            ),
            Hint::PortRange => f.write_str("pass a port from 1 to 65535"),
            Hint::BindAddress => f.write_str(
                "give one of this host's addresses, e.g. `127.0.0.1` or `::1`, without a port; leave it out to listen on every interface",
            ),
            Hint::KnownNames { kind, known } => write!(f, "known {kind}s: {}", known.join(", ")),
            Hint::InstallConfigFormat => f.write_str(
                "install-config.yaml is YAML with a `networking` mapping; `openshift-install create install-config` writes one",
            ),
            Hint::ReplaceCa { certs_dir } => write!(
                f,
                "replace the CA in `{}` and every certificate on purpose, or move them away; clients that trust the old CA must then trust the new one",
                certs_dir.display()
            ),
            Hint::ForeignCertificate { certs_dir } => write!(
                f,
                "put its CA in `ca.crt` and `ca.key` in `{}`, or replace it on purpose with a certificate from a new CA",
                certs_dir.display()
            ),
            Hint::RunPreflight => f.write_str(
                "run the preflight checks alone for details and hints, or waive a check that does not apply",
            ),
            Hint::BundleIncomplete => f.write_str(
                "the run that wrote this bundle did not finish: run it again on the connected side (it continues where it stopped) and carry the bundle once it completes",
            ),
            Hint::BundleDamaged => f.write_str(
                "the file was damaged, cut short or left behind in transfer: copy it again from the connected side (`sha256sum -c mirrorctl-bundle.sha256` checks volumes), then check the bundle again",
            ),
            Hint::BundleVersion { found, supported } => write!(
                f,
                "the bundle was written in metadata version {found} by a newer program, and this one reads version {supported}: use the same or a newer version here"
            ),
            Hint::NotABundle => f.write_str(
                "name the directory that holds `mirrorctl-bundle.json` (and the volumes, for a bundle in volumes)",
            ),
            Hint::BundleDirNotEmpty => f.write_str(
                "write the bundle into a new or empty directory: a directory holding other files is never written into",
            ),
            Hint::BundleNoSpace { needed, free } => write!(
                f,
                "the bundle needs {} and {} are free there: free space or write the bundle onto a larger filesystem",
                crate::size::format_size(*needed),
                crate::size::format_size(*free)
            ),
            Hint::BundleBaseMissing {
                base_id,
                base_created,
            } => write!(
                f,
                "this bundle builds on bundle {base_id} (made {base_created}): publish that one into the same repository first, or make a full bundle without a baseline"
            ),
            Hint::BundleOtherContent => f.write_str(
                "the directory holds a complete bundle of other releases: write into a new directory (or remove that bundle on purpose)",
            ),
        }
    }
}

/// `a`, `b`, `c` with backticks.
fn backticked(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<Hint> for String {
    fn from(h: Hint) -> String {
        h.to_string()
    }
}
