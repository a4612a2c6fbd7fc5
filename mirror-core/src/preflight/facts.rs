//! What the checks look at, gathered from the real host in one place so that tests can build
//! the same facts by hand.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mirror_net::{InterfaceNetwork, PortStatus};

use super::PreflightOptions;
use super::tools::PROGRAMS;
use crate::error::Error;
use crate::progress::NoProgress;
use crate::registry::RegistryClient;
use crate::release::info::release_info;
use crate::release::mirror::{MirrorOptions, mirror_release};
use crate::runtime::RegistryLayout;

/// A fact, or why it could not be read (which makes its check report "could not run"). The
/// error is shared: one unreachable release source stops both `upstream` and the release
/// sizing of `disk`.
pub type Probe<T> = Result<T, Arc<Error>>;

/// A fact that could not be read, with no OS error to carry.
pub(crate) fn unreadable<T>(what: impl Into<String>) -> Probe<T> {
    Err(Arc::new(Error::HostFact {
        what: what.into(),
        source: None,
    }))
}

/// A fact that could not be read because of an OS error.
fn os_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Arc<Error> {
    let what = what.into();
    move |e| {
        Arc::new(Error::HostFact {
            what,
            source: Some(e),
        })
    }
}

/// Any error of this crate or a lower one, as a probe failure.
fn probe(e: impl Into<Error>) -> Arc<Error> {
    Arc::new(e.into())
}

/// Free space for the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpace {
    /// The data directory asked about.
    pub data_dir: PathBuf,
    /// The directory measured: the data directory or its nearest existing parent.
    pub measured: PathBuf,
    /// Bytes an unprivileged user may still write (`f_bavail * f_frsize`).
    pub free_bytes: u64,
    /// Size of the filesystem (`f_blocks * f_frsize`).
    pub total_bytes: u64,
}

/// The registry's host name and what it resolves to.
#[derive(Debug, Clone)]
pub struct HostnameFacts {
    /// The name: `--hostname`, else this host's FQDN, else its plain host name.
    pub name: String,
    /// What the system resolver gives for it.
    pub resolved: Probe<Vec<IpAddr>>,
    /// This host's own addresses (without loopback and link-local).
    pub local: Vec<IpAddr>,
}

/// Programs found, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tools {
    /// Program name to the path it was found at.
    pub found: BTreeMap<String, PathBuf>,
}

impl Tools {
    /// Looks up the programs the `tools` check cares about on `$PATH`, then in `/usr/sbin` and
    /// `/sbin` (trust-store tools live there and a non-root `$PATH` may lack them).
    pub fn lookup() -> Self {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
        let mut found = BTreeMap::new();
        for name in PROGRAMS {
            if let Some(p) = dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p)) {
                found.insert(name.to_string(), p);
            }
        }
        Tools { found }
    }

    /// Programs "found" in `/usr/bin`, for tests.
    pub fn found(names: &[&str]) -> Self {
        Tools {
            found: names
                .iter()
                .map(|n| (n.to_string(), Path::new("/usr/bin").join(n)))
                .collect(),
        }
    }

    /// Where `name` was found.
    pub fn get(&self, name: &str) -> Option<&Path> {
        self.found.get(name).map(PathBuf::as_path)
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The space a release needs in the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSize {
    /// The release image.
    pub image: String,
    /// Its version.
    pub version: String,
    /// Bytes to store: the release's unique blobs, minus those the target holds when asked.
    pub needed_bytes: u64,
    /// How many blobs that is.
    pub blobs: usize,
    /// The target repository whose blobs were subtracted, if it was asked.
    pub subtracted: Option<String>,
    /// Why the target could not be asked, when it could not.
    pub note: Option<String>,
}

/// The release source's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFacts {
    /// The registry (`quay.io`).
    pub registry: String,
    /// The repository checked.
    pub repository: String,
    /// The auth entry used (`entry `quay.io` of `/root/pull-secret.json``); `None` means
    /// anonymous.
    pub credential: Option<String>,
    /// The digest of the release manifest the reference names (a `HEAD`, or a `GET` when the
    /// registry sends no digest); `None` when the registry answered 404: no such release.
    pub release_digest: Option<String>,
}

/// Everything the checks look at. [`HostFacts::gather`] reads it from this host; tests build
/// it directly.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The text of `/etc/os-release`.
    pub os_release: Probe<String>,
    /// The machine architecture (`x86_64`, `aarch64`; Rust's names).
    pub arch: String,
    /// Free space for the data directory.
    pub disk: Probe<DiskSpace>,
    /// Total memory in bytes.
    pub memory_bytes: Probe<u64>,
    /// Logical CPUs.
    pub cpus: Probe<usize>,
    /// This host's interface networks (without loopback and link-local).
    pub networks: Probe<Vec<InterfaceNetwork>>,
    /// The registry port on all addresses.
    pub port: Probe<PortStatus>,
    /// Whether the process holding the port is the mirror registry under
    /// [`PreflightOptions::root`]: its command line serves `<root>/config.yml`, the rule
    /// `registry up` applies to the pid in `<root>/registry.pid`. False when the port is free
    /// or its holder cannot be seen.
    pub port_held_by_mirror: bool,
    /// The registry's name.
    pub hostname: Probe<HostnameFacts>,
    /// Programs found.
    pub tools: Tools,
    /// The release's size, when `--release` is given, the `disk` check runs and not offline.
    pub release_size: Option<Probe<ReleaseSize>>,
    /// The release source's answer, when `--release` is given, `upstream` runs and not
    /// offline.
    pub upstream: Option<Probe<UpstreamFacts>>,
    /// The S3 check, with S3 storage when `storage` runs.
    pub storage: Option<Probe<crate::storage::S3CheckReport>>,
}

fn not_gathered<T>() -> Probe<T> {
    unreadable("not gathered: the check is skipped")
}

impl HostFacts {
    /// Reads what the checks not skipped in `opts` need from this host, and from the release
    /// source when `opts.release` is set and not `opts.offline`.
    pub async fn gather(opts: &PreflightOptions) -> HostFacts {
        let local = {
            let opts = opts.clone();
            tokio::task::spawn_blocking(move || Self::gather_local(&opts)).await
        };
        let mut facts = match local {
            Ok(f) => f,
            Err(e) => {
                let msg = format!("gather host facts: {e}");
                HostFacts {
                    os_release: unreadable(&msg),
                    arch: std::env::consts::ARCH.to_string(),
                    disk: unreadable(&msg),
                    memory_bytes: unreadable(&msg),
                    cpus: unreadable(&msg),
                    networks: unreadable(&msg),
                    port: unreadable(&msg),
                    port_held_by_mirror: false,
                    hostname: unreadable(&msg),
                    tools: Tools::default(),
                    release_size: None,
                    upstream: None,
                    storage: None,
                }
            }
        };
        if let Some(s3) = opts.storage.s3().filter(|_| opts.runs("storage")) {
            facts.storage = Some(crate::storage::check_s3(s3).await.map_err(probe));
        }
        let Some(image) = opts.release.as_ref().filter(|_| !opts.offline) else {
            return facts;
        };
        let want_upstream = opts.runs("upstream");
        let want_size = opts.runs("disk");
        if !want_upstream && !want_size {
            return facts;
        }
        let client = match RegistryClient::new(opts.client.clone()) {
            Ok(c) => c,
            Err(e) => {
                let e = probe(e);
                facts.upstream = want_upstream.then(|| Err(e.clone()));
                facts.release_size = want_size.then_some(Err(e));
                return facts;
            }
        };
        let ping = client.ping(&image.repo).await.map_err(probe);
        if want_upstream {
            let credential = opts
                .auth()
                .and_then(|a| a.lookup(&image.repo.registry, &image.repo.path))
                .map(|f| f.describe());
            // `/v2/` answering says nothing of the release: ask for its manifest by the
            // reference itself, so a tag that does not exist fails here, not mid-install.
            let release = match &ping {
                Ok(()) => client
                    .head_manifest(&image.repo, image.target.as_str())
                    .await
                    .map(|d| d.map(|d| d.to_string()))
                    .map_err(probe),
                Err(e) => Err(e.clone()),
            };
            facts.upstream = Some(release.map(|release_digest| UpstreamFacts {
                registry: image.repo.registry.clone(),
                repository: image.repo.to_string(),
                credential,
                release_digest,
            }));
        }
        if want_size {
            facts.release_size = Some(match ping {
                Ok(()) => release_size(&client, opts).await,
                Err(e) => Err(e),
            });
        }
        facts
    }

    /// The local part of [`HostFacts::gather`]: blocking reads of files, interfaces, the port
    /// and the resolver.
    pub fn gather_local(opts: &PreflightOptions) -> HostFacts {
        let os_release = if opts.runs("os") || opts.runs("tools") {
            read_os_release()
        } else {
            not_gathered()
        };
        let disk = if opts.runs("disk") {
            disk_space(&opts.data_dir)
        } else {
            not_gathered()
        };
        let memory_bytes = if opts.runs("memory") {
            total_memory()
        } else {
            not_gathered()
        };
        let cpus = if opts.runs("cpu") {
            std::thread::available_parallelism()
                .map(usize::from)
                .map_err(os_error("count CPUs"))
        } else {
            not_gathered()
        };
        let networks = if opts.runs("cidr") && opts.mirror_cidrs.is_empty() {
            mirror_net::host_networks().map_err(probe)
        } else {
            not_gathered()
        };
        let port = if opts.runs("port") {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), opts.port);
            mirror_net::port_status(addr).map_err(probe)
        } else {
            not_gathered()
        };
        let port_held_by_mirror = match &port {
            Ok(PortStatus::InUse { holder: Some(p) }) => {
                let config = RegistryLayout::new(&opts.root).config();
                crate::runtime::process::is_ours(p.pid, &config)
            }
            _ => false,
        };
        let hostname = if opts.runs("hostname") {
            hostname_facts(opts.hostname.as_deref())
        } else {
            not_gathered()
        };
        let tools = if opts.runs("tools") {
            Tools::lookup()
        } else {
            Tools::default()
        };
        HostFacts {
            os_release,
            arch: std::env::consts::ARCH.to_string(),
            disk,
            memory_bytes,
            cpus,
            networks,
            port,
            port_held_by_mirror,
            hostname,
            tools,
            release_size: None,
            upstream: None,
            storage: None,
        }
    }
}

pub(super) fn read_os_release() -> Probe<String> {
    // os-release(5): /etc/os-release, falling back to /usr/lib/os-release.
    let primary = Path::new("/etc/os-release");
    std::fs::read_to_string(primary)
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .map_err(|e| probe(Error::io("read", primary, e)))
}

fn total_memory() -> Probe<u64> {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .map_err(|e| {
        probe(Error::HostFact {
            what: format!("read memory size: {e}"),
            source: None,
        })
    })?;
    match sys.total_memory() {
        0 => unreadable("read memory size: the system reports 0 bytes"),
        n => Ok(n),
    }
}

/// statvfs on `data_dir` or its nearest existing parent.
pub(crate) fn disk_space(data_dir: &Path) -> Probe<DiskSpace> {
    let absolute = if data_dir.is_absolute() {
        data_dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(os_error("current directory"))?
            .join(data_dir)
    };
    let mut dir = absolute.as_path();
    loop {
        match std::fs::metadata(dir) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match dir.parent() {
                Some(parent) => dir = parent,
                None => return Err(probe(Error::io("stat", dir, e))),
            },
            Err(e) => return Err(probe(Error::io("stat", dir, e))),
        }
    }
    let st = rustix::fs::statvfs(dir).map_err(|e| probe(Error::io("statvfs", dir, e.into())))?;
    Ok(DiskSpace {
        data_dir: data_dir.to_path_buf(),
        measured: dir.to_path_buf(),
        free_bytes: st.f_bavail.saturating_mul(st.f_frsize),
        total_bytes: st.f_blocks.saturating_mul(st.f_frsize),
    })
}

fn hostname_facts(given: Option<&str>) -> Probe<HostnameFacts> {
    let name = match given {
        Some(n) => n.trim().to_string(),
        None => match mirror_net::fqdn() {
            Some(n) => n,
            None => mirror_net::hostname().map_err(probe)?,
        },
    };
    let resolved = mirror_net::resolve(&name).map_err(probe);
    let local = mirror_net::host_addresses().unwrap_or_default();
    Ok(HostnameFacts {
        name,
        resolved,
        local,
    })
}

/// The space the release needs: with `opts.to`, what a dry-run mirror would transfer (blobs
/// the target already holds are found by `HEAD` and not counted); otherwise, or when the target
/// cannot be asked, all the release's unique blobs.
async fn release_size(client: &RegistryClient, opts: &PreflightOptions) -> Probe<ReleaseSize> {
    let image = opts.release.as_ref().expect("called with a release");
    let mut note = None;
    if let Some(to) = &opts.to {
        let mirror = MirrorOptions {
            dry_run: true,
            max_per_registry: opts.concurrency.max(1),
            // Sizing only: signatures are the mirror's business.
            signatures: crate::release::signature::SignatureOptions::skipped(),
            ..MirrorOptions::new(to.clone())
        };
        match mirror_release(client, image, &mirror, Arc::new(NoProgress)).await {
            Ok(r) => {
                return Ok(ReleaseSize {
                    image: image.to_string(),
                    version: r.version,
                    needed_bytes: r.plan.bytes_to_copy,
                    blobs: r.plan.blobs_to_copy,
                    subtracted: Some(to.to_string()),
                    note: None,
                });
            }
            Err(e) => {
                note = Some(format!(
                    "could not ask `{to}` what it holds ({}); counting the whole release",
                    crate::error::ErrorChain(&e)
                ));
            }
        }
    }
    let info = release_info(client, image, opts.concurrency).await?;
    Ok(ReleaseSize {
        image: image.to_string(),
        version: info.version,
        needed_bytes: info.unique_bytes,
        blobs: info.unique_blobs,
        subtracted: None,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_space_walks_up_to_an_existing_parent() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = dir.path().join("opt/registry/data");
        let got = disk_space(&wanted).unwrap();
        assert_eq!(
            (got.data_dir, got.measured.clone()),
            (wanted, dir.path().to_path_buf())
        );
        assert!(got.total_bytes >= got.free_bytes && got.total_bytes > 0);
    }

    #[test]
    fn disk_space_through_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = crate::ErrorChain(&*disk_space(&file.join("data")).unwrap_err()).to_string();
        assert!(err.starts_with("stat `"), "{err}");
        assert!(err.contains("Not a directory"), "{err}");
    }

    #[test]
    fn real_host_local_facts() {
        let opts = PreflightOptions {
            port: 0,
            ..Default::default()
        };
        let f = HostFacts::gather_local(&opts);
        assert!(f.os_release.is_ok(), "{:?}", f.os_release);
        assert!(f.memory_bytes.unwrap() > 0);
        assert!(f.cpus.unwrap() >= 1);
        assert!(f.disk.is_ok(), "{:?}", f.disk);
    }
}
