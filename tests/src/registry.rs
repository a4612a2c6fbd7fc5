//! Real distribution registries on loopback.

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mirror_core::{ClientOptions, Repository, auth::AuthFile};

use crate::tools::require_tool;

/// How to start a [`TestRegistry`].
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Serve TLS with a certificate from a throwaway CA (for `127.0.0.1` and `localhost`).
    pub tls: bool,
    /// With `tls`: which server certificate to serve (a faulty one to test refusals).
    pub cert: CertVariant,
    /// Require this user and password (bcrypt htpasswd).
    pub htpasswd: Option<(String, String)>,
    /// With `htpasswd`: the bcrypt cost of the hash (default 5, what `htpasswd -B` writes;
    /// the registry checks it on every request, so it is a benchmark knob).
    pub bcrypt_cost: Option<u32>,
    /// Listen on this port instead of a free one (to restart a registry over the same data,
    /// so that references to it stay valid).
    pub port: Option<u16>,
    /// Write distribution's access log (one line per request) to the registry log, so that
    /// benchmarks can count requests.
    pub access_log: bool,
    /// Keep data in this directory instead of a temp dir (it is not removed).
    pub root: Option<PathBuf>,
    /// Refuse writes (distribution's read-only maintenance mode).
    pub readonly: bool,
    /// Bearer-token auth: the issuer's realm URL and signing certificate (PEM), see
    /// [`crate::token_server::TokenServer`].
    pub token: Option<(String, String)>,
}

/// The server certificate a TLS [`TestRegistry`] serves. [`TestRegistry::ca_pem`] is always the
/// CA a client is given, so each faulty variant fails for exactly one reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CertVariant {
    /// Valid for `127.0.0.1` and `localhost`, signed by the CA.
    #[default]
    Valid,
    /// Signed by the CA, but names only `wrong.example`.
    WrongName,
    /// Signed by the CA, for the right names, but expired in 2020.
    Expired,
    /// Right names and dates, but signed by another CA than the one handed to clients.
    UnknownCa,
}

/// A running `docker-registry serve` on `127.0.0.1:<port>`.
#[derive(Debug)]
pub struct TestRegistry {
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
    root: PathBuf,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// The port.
    pub port: u16,
    /// True when serving TLS.
    pub tls: bool,
    /// The CA that signed the server certificate (PEM), with TLS.
    pub ca_pem: Option<Vec<u8>>,
    /// User and password, with htpasswd.
    pub credentials: Option<(String, String)>,
}

impl TestRegistry {
    /// Starts a plain-HTTP, anonymous registry.
    pub fn start() -> Self {
        Self::start_with(RegistryOptions::default())
    }

    /// Starts a registry; panics (with the registry's log) when it does not come up.
    pub fn start_with(opts: RegistryOptions) -> Self {
        let bin = require_tool("docker-registry");
        let (tmp, root) = match &opts.root {
            Some(r) => {
                std::fs::create_dir_all(r).expect("create registry root");
                (None, r.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("mirror-test-registry")
                    .tempdir()
                    .expect("tempdir");
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let data = root.join("data");
        std::fs::create_dir_all(&data).expect("create data dir");
        let mut ca_pem = None;
        let mut tls_section = String::new();
        if opts.tls {
            let (ca, cert, key) = throwaway_pki(opts.cert);
            std::fs::write(root.join("ca.crt"), &ca).expect("write ca");
            std::fs::write(root.join("domain.crt"), &cert).expect("write cert");
            std::fs::write(root.join("domain.key"), &key).expect("write key");
            tls_section = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                root.join("domain.crt").display(),
                root.join("domain.key").display()
            );
            ca_pem = Some(ca.into_bytes());
        }
        let mut auth_section = String::new();
        if let Some((user, pass)) = &opts.htpasswd {
            let hash = bcrypt::hash_with_result(pass, opts.bcrypt_cost.unwrap_or(5))
                .expect("bcrypt")
                .format_for_version(bcrypt::Version::TwoY);
            std::fs::write(root.join("htpasswd"), format!("{user}:{hash}\n"))
                .expect("write htpasswd");
            auth_section = format!(
                "auth:\n  htpasswd:\n    realm: mirror-test\n    path: {}\n",
                root.join("htpasswd").display()
            );
        }
        if let Some((realm, cert)) = &opts.token {
            std::fs::write(root.join("token-signer.crt"), cert).expect("write token cert");
            auth_section = format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                crate::token_server::SERVICE,
                crate::token_server::ISSUER,
                root.join("token-signer.crt").display()
            );
        }
        let log_path = root.join("registry.log");
        let attempts = if opts.port.is_some() { 1 } else { 5 };
        for attempt in 0..attempts {
            let port = opts.port.unwrap_or_else(free_port);
            let config = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: {no_access_log}\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n    readonly:\n      enabled: {readonly}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: mirror-test-secret\n{tls_section}{auth_section}",
                data.display(),
                readonly = opts.readonly,
                no_access_log = !opts.access_log
            );
            let config_path = root.join("config.yml");
            std::fs::write(&config_path, config).expect("write config");
            let log = std::fs::File::create(&log_path).expect("create log");
            let child = Command::new(&bin)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn docker-registry");
            let mut reg = TestRegistry {
                child: Some(child),
                _tmp: None,
                root: root.clone(),
                host: format!("127.0.0.1:{port}"),
                port,
                tls: opts.tls,
                ca_pem: ca_pem.clone(),
                credentials: opts.htpasswd.clone(),
            };
            match reg.wait_ready(Duration::from_secs(20)) {
                Ok(()) => {
                    reg._tmp = tmp;
                    return reg;
                }
                Err(why) if attempt + 1 < attempts && why.contains("address already in use") => {
                    continue;
                }
                Err(why) => {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("docker-registry did not start ({why}); its log:\n{log}");
                }
            }
        }
        unreachable!("start loop returns or panics")
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        let addr: SocketAddr = self.host.parse().expect("addr");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log =
                    std::fs::read_to_string(self.root.join("registry.log")).unwrap_or_default();
                return Err(format!(
                    "exited with {status}: {}",
                    log.lines().last().unwrap_or("")
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!("no listener on {} after {limit:?}", self.host));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's data and config directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.root.join("registry.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// A repository on this registry.
    pub fn repo(&self, path: &str) -> Repository {
        Repository {
            registry: self.host.clone(),
            path: path.to_string(),
        }
    }

    /// Writes an auth file (`{"auths":{host:{auth}}}`) for this registry and returns its path
    /// (inside the registry's root). Without htpasswd it holds no entry for this host.
    pub fn auth_file(&self) -> PathBuf {
        let path = self.root.join("auth.json");
        let mut auths = serde_json::Map::new();
        if let Some((u, p)) = &self.credentials {
            let cred = mirror_core::auth::Credential {
                username: u.clone(),
                password: p.clone(),
            };
            auths.insert(
                self.host.clone(),
                serde_json::json!({ "auth": cred.to_auth_value(), "email": "test@example.com" }),
            );
        }
        std::fs::write(&path, serde_json::json!({ "auths": auths }).to_string())
            .expect("write auth file");
        path
    }

    /// The CA file path, with TLS.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls.then(|| self.root.join("ca.crt"))
    }

    /// Client options that reach this registry (credentials, CA, plain HTTP).
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            auth: self
                .credentials
                .as_ref()
                .map(|_| AuthFile::load(&self.auth_file()).expect("auth file")),
            ca_pems: self.ca_pem.iter().cloned().collect(),
            insecure_registries: if self.tls {
                vec![]
            } else {
                vec![self.host.clone()]
            },
            ..Default::default()
        }
    }

    /// `mirrorctl`/`oc`-style flags that reach this registry.
    pub fn cli_flags(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(ca) = self.ca_file() {
            v.push("--ca-file".into());
            v.push(ca.display().to_string());
        } else {
            v.push("--insecure-registry".into());
            v.push(self.host.clone());
        }
        v
    }

    /// Leaves the registry running after this value is dropped (for the fixture command);
    /// returns its pid.
    pub fn detach(mut self) -> u32 {
        let pid = self.child.as_ref().map(|c| c.id()).unwrap_or(0);
        self.child = None;
        if let Some(t) = self._tmp.take() {
            let _ = t.keep();
        }
        pid
    }

    /// The registry process's pid (0 once stopped or detached).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Stops the registry now (it is also stopped on drop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port free on every interface at the time of the call, for a server a test starts.
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux), so that no outgoing
/// connection of a concurrent test can be holding it as its local port when the server binds
/// (a port from `bind(":0")` is an ephemeral one and can be), and handed out once per process
/// from a start that differs between processes, so two tests never get the same one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LOW: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        1 + (std::process::id() % u32::from(SPAN)) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN;
        if TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN)
}

/// A CA and a server certificate for `127.0.0.1`/`localhost` (or the faulty `variant`), as
/// PEM: (ca, leaf + its issuer, key).
pub(crate) fn throwaway_pki(variant: CertVariant) -> (String, String, String) {
    use rcgen::{DnType, SanType};
    let (ca, issuer) = throwaway_ca("mirror-test CA");
    let (signer_pem, signer) = match variant {
        CertVariant::UnknownCa => throwaway_ca("mirror-test other CA"),
        _ => (ca.clone(), issuer),
    };
    let key = rcgen::KeyPair::generate().expect("leaf key");
    let names = match variant {
        CertVariant::WrongName => vec!["wrong.example".to_string()],
        _ => vec!["localhost".to_string()],
    };
    let mut params = rcgen::CertificateParams::new(names).expect("leaf params");
    if variant != CertVariant::WrongName {
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    }
    if variant == CertVariant::Expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = params.signed_by(&key, &signer).expect("sign leaf");
    (
        ca,
        format!("{}{signer_pem}", leaf.pem()),
        key.serialize_pem(),
    )
}

/// A self-signed CA: its PEM and the issuer that signs with it.
fn throwaway_ca(cn: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.distinguished_name.push(DnType::CommonName, cn);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("self-sign ca");
    (ca.pem(), rcgen::Issuer::new(ca_params, ca_key))
}
