//! Command-line syntax (clap). Resolved into library settings in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Build and fill the mirror registry a restricted-network OpenShift install needs.
#[derive(Parser, Debug)]
#[command(
    name = "mirrorctl",
    version = crate::version::SHORT,
    long_version = crate::version::LONG,
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Print no progress on stderr (errors are still printed)
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Show each registry request on stderr (-v: requests and retries; -vv: everything)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log filter for stderr, e.g. `debug` or `mirror_core=trace` [default: off, or set by -v]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check this host before anything changes: OS, disk, memory, CIDR overlaps, port, firewall, hostname, tools, storage, upstream
    Preflight(PreflightArgs),
    /// Generate and verify the registry's CA and SAN server certificate
    #[command(subcommand)]
    Tls(crate::cmd::tls::TlsCommand),
    /// Trust the registry's CA on this host, for the OS and for podman/skopeo
    #[command(subcommand)]
    Trust(crate::cmd::trust::TrustCommand),
    /// Run the registry itself: users, up, status, down, logs
    #[command(subcommand)]
    Registry(crate::cmd::registry::RegistryCommand),
    /// Add the mirror's credentials to a Red Hat pull secret, and check pull secrets
    #[command(subcommand)]
    PullSecret(crate::cmd::pull_secret::PullSecretCommand),
    /// Mirror an OpenShift release, inspect it, extract openshift-install
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Do everything createMirrorRegistry.sh did, idempotently, in one command
    ///
    /// `--version` is the OpenShift version to mirror here; `-V` prints mirrorctl's version.
    #[command(disable_version_flag = true, arg = mirrorctl_version_short())]
    Install(Box<InstallArgs>),
    /// Stop and remove what `install` created (the registry, its files, trust entries, outputs)
    Uninstall(UninstallArgs),
    /// Mirror what an oc-mirror ImageSetConfiguration asks for: releases from channels, additional images
    Mirror(ConfigMirrorArgs),
    /// Check and describe a bundle written by `release mirror --to-dir`
    #[command(subcommand)]
    Bundle(crate::cmd::bundle::BundleCommand),
    /// Print a shell completion script on stdout (bash, zsh, fish)
    Completions(crate::cmd::generate::CompletionsArgs),
    /// Write a man page for every command into a directory
    Man(crate::cmd::generate::ManArgs),
}

/// `-V` alone, for a command whose `--version` flag is its own (install's OpenShift version).
fn mirrorctl_version_short() -> clap::Arg {
    clap::Arg::new("mirrorctl-version")
        .short('V')
        .action(clap::ArgAction::Version)
        .help("Print version")
}

/// `mirrorctl mirror --config`.
#[derive(Args, Debug)]
pub struct ConfigMirrorArgs {
    /// An ImageSetConfiguration (mirror.openshift.io/v2alpha1); see docs/upgrades.md for the fields supported. With --from-dir it is optional and only checked against the bundle's copy
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        required_unless_present = "from_dir"
    )]
    pub config: Option<PathBuf>,
    /// Target registry, optionally with a namespace: releases go to <REGISTRY>/<NAMESPACE>/openshift/release, other images to their repository path under the namespace
    #[arg(long, value_name = "REGISTRY[/NAMESPACE]", required_unless_present_any = ["to_dir", "from_dir"])]
    pub to: Option<String>,
    /// Write what the file asks for into this directory, a bundle to carry to a disconnected site, instead of a registry (--to)
    #[arg(long, value_name = "DIR")]
    pub to_dir: Option<PathBuf>,
    /// Publish the bundle in this directory (written with --to-dir) into --to; the source and the graph are never contacted
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<PathBuf>,
    /// With --to-dir: write the bundle as numbered tar volumes of at most SIZE each [default: the file's archiveSize (GiB), else no volumes]
    #[arg(long, value_name = "SIZE", requires = "to_dir")]
    pub archive_size: Option<String>,
    /// With --to-dir: leave out the blobs an earlier bundle (its directory or its mirrorctl-bundle.json) carried
    #[arg(long, value_name = "EARLIER_BUNDLE", requires = "to_dir")]
    pub since: Option<PathBuf>,
    /// The graph API endpoint, or a saved graph: a file, or a directory of <arch>-<channel>.json files
    #[arg(long, value_name = "URL|FILE", default_value = mirror_core::upgrade::DEFAULT_GRAPH_URL)]
    pub graph_url: String,
    #[command(flatten)]
    pub signatures: SignatureArgs,
    #[command(flatten)]
    pub access: Access,
    /// Print the plan (images, unique blobs, bytes per release) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Transfers in flight at once per registry
    #[arg(long, value_name = "N", default_value_t = mirror_core::copy::DEFAULT_MAX_PER_REGISTRY)]
    pub max_per_registry: usize,
    /// Which mirror instructions to print for the releases [default: icsp before 4.14, idms from 4.14]
    #[arg(long, value_enum, value_name = "KIND")]
    pub print_mirror_instructions: Option<Instructions>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum ReleaseCommand {
    /// Copy a release and all its components into a registry, digests preserved, release tag last
    Mirror(MirrorArgs),
    /// Show a release: version, architecture, components, unique blobs and size
    Info(InfoArgs),
    /// Extract openshift-install pinned to a release
    Extract(ExtractArgs),
    /// Show the releases a channel (or an ImageSetConfiguration) picks from the upgrade graph, with the paths and conditional edges; copies nothing
    Graph(GraphArgs),
}

/// How to reach registries.
#[derive(Args, Debug, Clone)]
pub struct Access {
    /// Pull secret, docker config.json or containers auth.json with registry credentials
    /// [default: $REGISTRY_AUTH_FILE, then the containers and docker default locations]
    #[arg(short = 'a', long = "registry-config", value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust, on top of the system roots; repeatable
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Registry to reach over plain HTTP (no TLS); repeatable
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Retries of a failed request or blob copy after its first attempt (transient failures
    /// only: connection errors, 408, 429, 5xx, corrupt bytes), with backoff and Retry-After
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retry_times: u32,
    /// HTTP version for registries over TLS: `1.1` (measured faster against the distribution registry, see docs/performance.md) or `auto` (HTTP/2 when the registry offers it)
    #[arg(long, value_enum, value_name = "VERSION", default_value = "1.1")]
    pub http_version: HttpVersionArg,
}

/// `--http-version`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum HttpVersionArg {
    /// HTTP/2 when the registry offers it (ALPN), else HTTP/1.1.
    Auto,
    /// HTTP/1.1 only.
    #[default]
    #[value(name = "1.1")]
    Http1,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Instructions {
    Icsp,
    Idms,
    Both,
    None,
}

#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// A release image, by tag or digest (e.g. quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64); repeatable: several releases share one copy
    #[arg(long, value_name = "SRC", required_unless_present_any = ["channel", "from_dir"])]
    pub from: Vec<String>,
    /// Also the releases picked from the upgrade graph (see `mirrorctl release graph`)
    #[command(flatten)]
    pub pick: ChannelArgs,
    /// Target repository, without tag or digest (e.g. mirror.example.com:5000/ocp4/openshift4)
    #[arg(long, value_name = "REPO", required_unless_present = "to_dir")]
    pub to: Option<String>,
    #[command(flatten)]
    pub bundle: Box<crate::cmd::bundle::BundleFlags>,
    /// Where to put the release image [default: <REPO>:<version>-<arch>]
    #[arg(long, value_name = "REF")]
    pub to_release_image: Option<String>,
    #[command(flatten)]
    pub access: Access,
    /// Print the plan (images, unique blobs, bytes to transfer) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Transfers in flight at once per registry
    #[arg(long, value_name = "N", default_value_t = mirror_core::copy::DEFAULT_MAX_PER_REGISTRY)]
    pub max_per_registry: usize,
    /// Which mirror instructions to print [default: icsp before 4.14, idms from 4.14]
    #[arg(long, value_enum, value_name = "KIND")]
    pub print_mirror_instructions: Option<Instructions>,
    #[command(flatten)]
    pub signatures: SignatureArgs,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// Which releases to pick from the upgrade graph, with oc-mirror's rules (docs/upgrades.md).
#[derive(Args, Debug, Clone)]
pub struct ChannelArgs {
    /// The channel to pick releases from, e.g. stable-4.14
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
    /// The oldest release to pick [default: the channel head alone; with --max-version or --full, the channel's oldest]
    #[arg(long, value_name = "V", requires = "channel")]
    pub min_version: Option<String>,
    /// The newest release to pick [default: the channel's newest]
    #[arg(long, value_name = "V", requires = "channel")]
    pub max_version: Option<String>,
    /// Only the releases on the shortest upgrade path from the minimum to the maximum
    #[arg(long, requires = "channel")]
    pub shortest_path: bool,
    /// Without --min-version and --max-version: every release of the channel, not only its head
    #[arg(long, requires = "channel")]
    pub full: bool,
    /// Follow conditional edges (updates with known risks) when looking for a path
    #[arg(long)]
    pub include_conditional: bool,
    /// The architecture in the graph: amd64, arm64, ppc64le, s390x or multi
    #[arg(long, value_name = "ARCH", default_value = mirror_core::upgrade::DEFAULT_ARCH)]
    pub arch: String,
    /// The graph API endpoint, or a saved graph: a file, or a directory of <arch>-<channel>.json files
    #[arg(long, value_name = "URL|FILE", default_value = mirror_core::upgrade::DEFAULT_GRAPH_URL)]
    pub graph_url: String,
}

impl Default for ChannelArgs {
    fn default() -> Self {
        Self {
            channel: None,
            min_version: None,
            max_version: None,
            shortest_path: false,
            full: false,
            include_conditional: false,
            arch: mirror_core::upgrade::DEFAULT_ARCH.into(),
            graph_url: mirror_core::upgrade::DEFAULT_GRAPH_URL.into(),
        }
    }
}

/// `mirrorctl release graph`: read-only.
#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    pub pick: ChannelArgs,
    /// An oc-mirror ImageSetConfiguration (mirror.openshift.io/v2alpha1) whose releases to show, instead of --channel
    #[arg(long, value_name = "FILE", conflicts_with_all = ["channel", "min_version", "max_version", "shortest_path", "full"])]
    pub config: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust for the graph URL, on top of the system roots; repeatable
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// Release signatures: checked before anything is copied (see docs/release-mirror.md).
#[derive(Args, Debug, Clone, Default)]
pub struct SignatureArgs {
    /// Write the signature ConfigMap (for `oc apply -f`) and the signature store tree (sha256=<hex>/signature-N) to DIR once the release signature verifies
    #[arg(long, value_name = "DIR")]
    pub release_image_signature_to_dir: Option<PathBuf>,
    /// OpenPGP public key (armored or binary) to verify with instead of the release payload's keys; repeatable, and each file is a keyring that must have signed
    #[arg(long = "signature-key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// Signature store to read instead of the release payload's: http://, https:// or file://DIR; repeatable, tried in order
    #[arg(long = "signature-store", value_name = "URL")]
    pub stores: Vec<String>,
    /// Fail (copying nothing) when the release has no verified signature: none published, no store reachable, no keys
    #[arg(long)]
    pub require_signatures: bool,
    /// Neither fetch nor verify the release signature, nor copy sigstore signature tags
    #[arg(long, conflicts_with_all = ["require_signatures", "keys", "stores", "release_image_signature_to_dir"])]
    pub skip_signatures: bool,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The release image, by tag or digest
    #[arg(value_name = "REF")]
    pub image: String,
    #[command(flatten)]
    pub access: Access,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The command to extract (only `openshift-install`)
    #[arg(long, value_name = "COMMAND")]
    pub command: String,
    /// The release image, by tag or digest (a mirror's copy works offline)
    #[arg(long, value_name = "REF")]
    pub from: String,
    /// Directory to write the binary into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub to: std::path::PathBuf,
    #[command(flatten)]
    pub access: Access,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// `mirrorctl preflight`: named checks; exit 0 when nothing fails, 1 when a check fails or could
/// not run (or warns, with `--strict`), 2 on usage errors.
#[derive(Args, Debug)]
pub struct PreflightArgs {
    /// List the checks (name, severity, description) and exit
    #[arg(long)]
    pub list: bool,
    /// Do not run the check NAME; repeatable (names from `--list`)
    #[arg(long, value_name = "NAME")]
    pub skip: Vec<String>,
    /// Treat warnings as failures
    #[arg(long)]
    pub strict: bool,
    /// Where the registry will store its data; the filesystem of its nearest existing parent is measured
    #[arg(long, value_name = "DIR", default_value = mirror_core::preflight::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Free space required on that filesystem (e.g. 1000GiB, 500G, 1.5TiB)
    #[arg(long, value_name = "SIZE", default_value = "1000GiB")]
    pub min_free: String,
    /// Release image to size for `disk` and whose source `upstream` checks
    #[arg(long, value_name = "REF")]
    pub release: Option<String>,
    /// Mirror repository: with --release, blobs it already holds are not counted as needed
    #[arg(long, value_name = "REPO", requires = "release")]
    pub to: Option<String>,
    #[command(flatten)]
    pub access: Access,
    /// Do not reach the network: skip `upstream`, do not size the release
    #[arg(long)]
    pub offline: bool,
    /// A network the mirror is in (its VNet's address space); repeatable [default: this host's interface networks]
    #[arg(long = "mirror-cidr", value_name = "CIDR")]
    pub mirror_cidrs: Vec<String>,
    /// A network of the cluster (its VNet's address space); repeatable
    #[arg(long = "cluster-cidr", value_name = "CIDR")]
    pub cluster_cidrs: Vec<String>,
    /// install-config.yaml whose networking is checked and compared with the mirror's networks
    #[arg(long, value_name = "FILE")]
    pub install_config: Option<PathBuf>,
    /// The registry port
    #[arg(long, default_value_t = mirror_core::preflight::DEFAULT_PORT)]
    pub port: u16,
    /// The registry's root: a distribution registry on the port passes only when it serves this root's config.yml
    #[arg(long, value_name = "DIR", default_value = mirror_core::runtime::DEFAULT_REGISTRY_ROOT)]
    pub root: PathBuf,
    /// The registry's host name [default: this host's FQDN]
    #[arg(long, value_name = "FQDN")]
    pub hostname: Option<String>,
    /// How the registry will run, which decides the programs `tools` looks for
    #[arg(long, value_enum, default_value = "auto")]
    pub runtime: PreflightRuntime,
    #[command(flatten)]
    pub storage: crate::cmd::storage::StorageArgs,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PreflightRuntime {
    Podman,
    Process,
    Auto,
}

/// `mirrorctl install`: every field of the config file can be given or overridden here.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// YAML config file (see docs/install.md); flags override its fields
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Email for the pull-secret entry and the certificate
    #[arg(long)]
    pub email: Option<String>,
    /// The registry user to create
    #[arg(long)]
    pub username: Option<String>,
    #[command(flatten)]
    pub password: crate::cmd::secret_input::PasswordArgs,
    /// Red Hat account user, to register a RHEL host that needs podman and has no repositories
    #[arg(long, value_name = "USER")]
    pub rh_username: Option<String>,
    /// File holding the Red Hat account password (else $MIRROR_RH_PASSWORD, else a prompt)
    #[arg(long, value_name = "FILE")]
    pub rh_password_file: Option<PathBuf>,
    /// OCP version to mirror, e.g. 4.14.1 (the release comes from quay.io/openshift-release-dev/ocp-release)
    #[arg(long, conflicts_with = "release")]
    pub version: Option<String>,
    /// The release image to mirror, instead of --version
    #[arg(long, value_name = "REF")]
    pub release: Option<String>,
    /// Release architecture for --version [default: x86_64]
    #[arg(long)]
    pub architecture: Option<String>,
    /// A bundle written by `release mirror --to-dir`, instead of --version or --release: published from disk, the source never contacted
    #[arg(long, value_name = "DIR", conflicts_with_all = ["version", "release"])]
    pub from_dir: Option<PathBuf>,
    /// The Red Hat pull secret (read, never modified)
    #[arg(long, value_name = "FILE")]
    pub pull_secret: Option<PathBuf>,
    /// The registry's host name [default: this host's FQDN]
    #[arg(long)]
    pub hostname: Option<String>,
    /// The registry port [default: 5000]
    #[arg(long)]
    pub port: Option<u16>,
    /// The address the registry listens on, e.g. 127.0.0.1 [default: every interface]
    #[arg(long, value_name = "ADDRESS")]
    pub bind: Option<String>,
    /// Where the registry lives [default: /opt/registry]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// How the registry runs: podman, process or auto [default: auto]
    #[arg(long)]
    pub runtime: Option<String>,
    /// The script's certificate file (countrycode=, state=, ...) [default: ./certificate]
    #[arg(long, value_name = "FILE")]
    pub certificate_file: Option<PathBuf>,
    /// Where outputs go [default: ./mirror-install]
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Mirror repository [default: ocp4/openshift4]
    #[arg(long)]
    pub repository: Option<String>,
    /// Extra CA (PEM) for the source registry, e.g. a pull-through proxy; repeatable
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Source registry reached over plain HTTP; repeatable
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Skip a step (preflight, directories, certificates, user, registry, trust, check, pull-secret, mirror, extract, outputs); repeatable
    #[arg(long, value_name = "STEP")]
    pub skip: Vec<String>,
    /// Skip a preflight check; repeatable
    #[arg(long = "skip-check", value_name = "NAME")]
    pub skip_checks: Vec<String>,
    /// Preflight free-space minimum [default: 1000GiB]
    #[arg(long, value_name = "SIZE")]
    pub min_free: Option<String>,
    /// Transfers in flight per registry
    #[arg(long, value_name = "N")]
    pub max_per_registry: Option<usize>,
    /// Retries of a failed request or blob copy after its first attempt (transient failures only), with backoff and Retry-After [default: 5]
    #[arg(long, value_name = "N")]
    pub retry_times: Option<u32>,
    /// bcrypt cost of the registry user's hash (4-31); the registry checks it on every request, so each step up doubles its CPU per request [default: 5]
    #[arg(long, value_name = "N")]
    pub bcrypt_cost: Option<u32>,
    /// Registry image for the podman runtime [default: docker.io/library/registry:2]
    #[arg(long)]
    pub image: Option<String>,
    /// The registry image as an archive carried from a connected host (`podman save`, or `skopeo copy ... docker-archive:FILE`): loaded into podman when missing, then run by its ID
    #[arg(long, value_name = "FILE")]
    pub image_archive: Option<PathBuf>,
    /// Leave firewalld alone (by default the registry port is opened when firewalld runs)
    #[arg(long)]
    pub no_firewall: bool,
    #[command(flatten)]
    pub storage: crate::cmd::storage::StorageArgs,
    /// The file holding the secret registry replicas share (created random, 0600, when missing) [default: <root>/auth/http-secret with --storage s3]
    #[arg(long, value_name = "FILE")]
    pub http_secret_file: Option<PathBuf>,
    /// Who keeps the registry running: systemd (a unit), process (no unit), or auto
    #[arg(long, value_enum, default_value = "auto", env = "MIRRORCTL_SUPERVISOR")]
    pub supervisor: crate::cmd::registry::SupervisorArg,
    /// Replace the user's password when htpasswd holds another one, with the pull secret and the snippet (clusters need the new pull secret)
    #[arg(long)]
    pub rotate_password: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Prefix for the host trust store (for tests and image builds) [default: /]
    #[arg(long, value_name = "DIR", hide = true)]
    pub trust_root: Option<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// `mirrorctl uninstall`.
#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// The registry root install used
    #[arg(long, value_name = "DIR", default_value = "/opt/registry")]
    pub root: PathBuf,
    /// The output directory install used
    #[arg(long, value_name = "DIR", default_value = "mirror-install")]
    pub output_dir: PathBuf,
    /// The registry whose trust entries to remove [default: from install-summary.json]
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// Keep the registry's data (the mirrored images)
    #[arg(long)]
    pub keep_data: bool,
    /// Say what would be removed; remove nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Prefix for the host trust store (for tests) [default: /]
    #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
    pub trust_root: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn command_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every default value of every subcommand parses: run each leaf with only its required
    /// arguments (dummy values) and expect no error.
    #[test]
    fn every_default_value_parses() {
        fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            if cmd.has_subcommands() {
                for sub in cmd.get_subcommands() {
                    path.push(sub.get_name().to_string());
                    walk(sub, path, out);
                    path.pop();
                }
                return;
            }
            let mut argv = path.clone();
            // A required group is satisfied by its first member.
            let group_firsts: Vec<&clap::Id> = cmd
                .get_groups()
                .filter(|g| g.is_required_set())
                .filter_map(|g| g.get_args().next())
                .collect();
            for a in cmd
                .get_arguments()
                .filter(|a| a.is_required_set() || group_firsts.contains(&a.get_id()))
            {
                if let Some(l) = a.get_long() {
                    argv.push(format!("--{l}"));
                }
                let v = a
                    .get_possible_values()
                    .first()
                    .map(|p| p.get_name().to_string())
                    .unwrap_or_else(|| "x".into());
                argv.push(v);
            }
            out.push(argv);
        }
        let cmd = Cli::command();
        let mut leaves = Vec::new();
        walk(&cmd, &mut vec!["mirrorctl".into()], &mut leaves);
        assert!(leaves.len() > 10, "{leaves:?}");
        assert!(leaves.iter().any(|l| l[1..] == ["tls", "generate"]));
        for mut argv in leaves {
            // Arguments required only without another (`--from` unless `--from-dir`) are
            // named by the error: give them too, once.
            if let Err(e) = Cli::command().try_get_matches_from(&argv)
                && e.kind() == clap::error::ErrorKind::MissingRequiredArgument
                && let Some(clap::error::ContextValue::Strings(missing)) =
                    e.get(clap::error::ContextKind::InvalidArg)
            {
                for m in missing {
                    argv.extend(m.split_whitespace().next().map(str::to_string));
                    argv.push("x".into());
                }
            }
            let parsed = Cli::command()
                .try_get_matches_from(&argv)
                .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
            if let Err(e) = parsed {
                panic!("`{}`: {e}", argv.join(" "));
            }
        }
    }
}
