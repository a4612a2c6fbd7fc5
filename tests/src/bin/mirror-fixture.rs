//! `mirror-fixture`: start harness registries that outlive the command, and push the
//! synthetic release into one. Used by the quickstart and the benchmarks.
//!
//! ```text
//! mirror-fixture up --dir DIR [--tls] [--empty] [--components N --total-mib M --big-mib B]
//!     [--port P] [--access-log] [--user U --password-file F [--bcrypt-cost C]]
//!     [--token-realm URL --token-cert PEM]
//! mirror-fixture down --dir DIR
//! mirror-fixture token-server --dir DIR --user U --password-file F
//! mirror-fixture serve-signatures --dir DIR --port PORT
//! ```
//! `up` prints a JSON description on stdout (and writes it to DIR/fixture.json). The release
//! it pushes is signed: its verification ConfigMap holds a generated test key
//! (DIR/signing-key.asc) and names a signature store on loopback that `up` starts in the
//! background (`serve-signatures`, serving DIR/signatures), so a mirror verifies it offline.
//! Run over a
//! DIR that holds data already (with `--empty` and the same `--port`), it serves that data
//! again, in another auth mode if asked: the benchmarks push a release once and restart its
//! registry with htpasswd or bearer tokens. `down` stops the registry and waits for it to exit.
//! `token-server` runs a bearer-token issuer in the foreground until it is killed, and writes
//! DIR/token.env (`REALM`, `TOKEN_CERT`, `TOKEN_PID`) and the number of tokens it issued to
//! DIR/token-requests.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use mirror_core::RegistryClient;
use mirror_testkit::fixture::{self, FixtureSpec, FixtureVerification};
use mirror_testkit::signing::{self, SigningKey};
use mirror_testkit::token_server::TokenServer;
use mirror_testkit::{RegistryOptions, SignatureServer, TestRegistry, free_port};

const USAGE: &str = "usage: mirror-fixture up --dir DIR [--tls] [--empty] [--components N] [--total-mib M] [--big-mib B]
           [--port P] [--access-log] [--user U --password-file F [--bcrypt-cost C]]
           [--token-realm URL --token-cert PEM]
       mirror-fixture down --dir DIR
       mirror-fixture token-server --dir DIR --user U --password-file F
       mirror-fixture serve-signatures --dir DIR --port PORT";

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// The parsed command line.
#[derive(Default)]
struct Args {
    dir: Option<PathBuf>,
    tls: bool,
    empty: bool,
    scale: (Option<usize>, Option<u64>, Option<u64>),
    port: Option<u16>,
    access_log: bool,
    user: Option<String>,
    password_file: Option<PathBuf>,
    bcrypt_cost: Option<u32>,
    token_realm: Option<String>,
    token_cert: Option<PathBuf>,
}

fn parse(args: &[String]) -> Option<Args> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned();
        match flag.as_str() {
            "--dir" => a.dir = Some(val()?.into()),
            "--tls" => a.tls = true,
            "--empty" => a.empty = true,
            "--access-log" => a.access_log = true,
            "--components" => a.scale.0 = Some(val()?.parse().ok()?),
            "--total-mib" => a.scale.1 = Some(val()?.parse().ok()?),
            "--big-mib" => a.scale.2 = Some(val()?.parse().ok()?),
            "--port" => a.port = Some(val()?.parse().ok()?),
            "--user" => a.user = Some(val()?),
            "--password-file" => a.password_file = Some(val()?.into()),
            "--bcrypt-cost" => a.bcrypt_cost = Some(val()?.parse().ok()?),
            "--token-realm" => a.token_realm = Some(val()?),
            "--token-cert" => a.token_cert = Some(val()?.into()),
            _ => return None,
        }
    }
    a.dir.is_some().then_some(a)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((verb, rest)) = args.split_first() else {
        return usage();
    };
    let Some(a) = parse(rest) else {
        return usage();
    };
    let result = match verb.as_str() {
        "up" => up(a),
        "down" => down(a.dir.as_deref().unwrap_or(Path::new("."))),
        "token-server" => token_server(a),
        "serve-signatures" => match (a.port, a.dir.as_deref()) {
            (Some(p), Some(dir)) => SignatureServer::run_forever(dir, p)
                .map_err(|e| format!("serve `{}` on port {p}: {e}", dir.display())),
            _ => return usage(),
        },
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The first line of `path`, trimmed (a password file).
fn read_secret(path: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read `{}`: {e}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

/// `user` with the password from `password_file`, when both are given.
fn credentials(a: &Args) -> Result<Option<(String, String)>, String> {
    match (&a.user, &a.password_file) {
        (Some(u), Some(f)) => Ok(Some((u.clone(), read_secret(f)?))),
        (None, None) => Ok(None),
        _ => Err("--user and --password-file go together".into()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

fn up(a: Args) -> Result<(), String> {
    let dir = a.dir.clone().unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|e| format!("create `{}`: {e}", dir.display()))?;
    let dir = dir.canonicalize().unwrap_or(dir);
    let creds = credentials(&a)?;
    let token = match (&a.token_realm, &a.token_cert) {
        (Some(realm), Some(cert)) => {
            let pem = std::fs::read_to_string(cert)
                .map_err(|e| format!("read `{}`: {e}", cert.display()))?;
            Some((realm.clone(), pem))
        }
        (None, None) => None,
        _ => return Err("--token-realm and --token-cert go together".into()),
    };
    let mut reg = TestRegistry::start_with(RegistryOptions {
        tls: a.tls,
        root: Some(dir.join("registry")),
        htpasswd: if token.is_some() { None } else { creds.clone() },
        bcrypt_cost: a.bcrypt_cost,
        port: a.port,
        access_log: a.access_log,
        token,
        ..Default::default()
    });
    // With tokens the credentials go to the issuer; the harness writes them to its auth file.
    reg.credentials = creds;
    let mut desc = serde_json::json!({
        "registry": reg.host,
        "caFile": reg.ca_file(),
        "registryFlags": reg.cli_flags(),
    });
    if !a.empty {
        let mut spec = match a.scale {
            (None, None, None) => FixtureSpec::tiny(),
            (c, t, b) => {
                let mut s =
                    FixtureSpec::scaled(c.unwrap_or(100), t.unwrap_or(2304), b.unwrap_or(600));
                s.work_dir = Some(dir.join("layers"));
                s
            }
        };
        let store = start_signature_store(&dir)?;
        let key = SigningKey::generate("mirrorctl fixture release key", spec.seed);
        spec.verification = Some(
            FixtureVerification::default()
                .key("fixture", &key)
                .store("fixture-local", &store.0),
        );
        let client = RegistryClient::new(reg.client_options()).map_err(|e| e.to_string())?;
        let f = runtime()?.block_on(fixture::push(&spec, &client, &reg.host));
        // The registry holds the layers now; the generated copies are not needed.
        let _ = std::fs::remove_dir_all(dir.join("layers"));
        let sig = key.sign_release(
            &f.release_digest,
            &format!(
                "quay.io/openshift-release-dev/ocp-release:{}-x86_64",
                f.version
            ),
        );
        signing::write_signature(&dir.join("signatures"), &f.release_digest, 1, &sig);
        let _ = std::fs::write(dir.join("signing-key.asc"), key.public_armored());
        desc["fixture"] = serde_json::to_value(&f).unwrap_or_default();
        desc["signatureStore"] = store.0.into();
        desc["signatureStorePid"] = store.1.into();
        desc["signingKey"] = dir.join("signing-key.asc").display().to_string().into();
        desc["signingKeyFingerprint"] = key.fingerprint().into();
    }
    let pid = reg.detach();
    desc["pid"] = pid.into();
    let text = serde_json::to_string_pretty(&desc).unwrap_or_default();
    let _ = std::fs::write(dir.join("registry.pid"), pid.to_string());
    let _ = std::fs::write(dir.join("fixture.json"), &text);
    // The same facts for shell scripts: `. DIR/fixture.env`.
    let mut env = format!(
        "REGISTRY={}\nREGISTRY_PID={pid}\n",
        desc["registry"].as_str().unwrap_or_default()
    );
    if let Some(ca) = desc["caFile"].as_str() {
        env.push_str(&format!("CA_FILE={ca}\n"));
    }
    if let Some(r) = desc["fixture"]["release"].as_str() {
        env.push_str(&format!(
            "RELEASE={r}\nRELEASE_DIGEST={}\n",
            desc["fixture"]["release_digest"]
                .as_str()
                .unwrap_or_default()
        ));
    }
    if let Some(st) = desc["signatureStore"].as_str() {
        env.push_str(&format!(
            "SIGNATURE_STORE={st}\nSIGNING_KEY={}\n",
            desc["signingKey"].as_str().unwrap_or_default()
        ));
    }
    let _ = std::fs::write(dir.join("fixture.env"), env);
    println!("{text}");
    Ok(())
}

/// Starts `mirror-fixture serve-signatures` in the background on a free loopback port,
/// serving `<dir>/signatures`; returns its URL and pid (kept in `<dir>/signatures.pid`).
fn start_signature_store(dir: &Path) -> Result<(String, u32), String> {
    let root = dir.join("signatures");
    std::fs::create_dir_all(&root).map_err(|e| format!("create `{}`: {e}", root.display()))?;
    let port = free_port();
    let exe = std::env::current_exe().map_err(|e| format!("find mirror-fixture: {e}"))?;
    let child = std::process::Command::new(exe)
        .args(["serve-signatures", "--port", &port.to_string(), "--dir"])
        .arg(&root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("start the signature store: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    // Ready when it accepts a connection.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let _ = std::fs::write(dir.join("signatures.pid"), child.id().to_string());
            return Ok((url, child.id()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("the signature store did not start on port {port}"))
}

/// True while `pid` is a live (not zombie) process.
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn down(dir: &Path) -> Result<(), String> {
    if let Ok(pid) = std::fs::read_to_string(dir.join("signatures.pid")) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        let _ = std::fs::remove_file(dir.join("signatures.pid"));
    }
    let pid_file = dir.join("registry.pid");
    let Ok(pid) = std::fs::read_to_string(&pid_file) else {
        eprintln!("no registry running under `{}`", dir.display());
        return Ok(());
    };
    let pid = pid.trim().to_string();
    let status = std::process::Command::new("kill").arg(&pid).status();
    let _ = std::fs::remove_file(&pid_file);
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("registry pid {pid} was not running");
        return Ok(());
    }
    // Wait for it to let go of its port, so that a registry can start on it again.
    for _ in 0..200 {
        if !alive(&pid) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("registry pid {pid} did not exit within 10 s"))
}

fn token_server(a: Args) -> Result<(), String> {
    let dir = a.dir.clone().unwrap_or_default();
    let Some((user, password)) = credentials(&a)? else {
        return Err("token-server needs --user and --password-file".into());
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("create `{}`: {e}", dir.display()))?;
    let dir = dir.canonicalize().unwrap_or(dir);
    let rt = runtime()?;
    rt.block_on(async move {
        let tokens = TokenServer::start(&user, &password).await;
        let cert = dir.join("token-signer.crt");
        std::fs::write(&cert, &tokens.cert_pem).map_err(|e| format!("write cert: {e}"))?;
        let count_file = dir.join("token-requests");
        let write_count = |n: usize| {
            let tmp = dir.join("token-requests.tmp");
            let _ = std::fs::write(&tmp, format!("{n}\n"));
            let _ = std::fs::rename(&tmp, &count_file);
        };
        write_count(0);
        let env = format!(
            "REALM={}\nTOKEN_CERT={}\nTOKEN_PID={}\n",
            tokens.realm,
            cert.display(),
            std::process::id()
        );
        // Written last: its presence says the issuer is ready.
        std::fs::write(dir.join("token.env"), env).map_err(|e| format!("write env: {e}"))?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("signal: {e}"))?;
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            let n = tokens.requests.lock().map(|r| r.len()).unwrap_or(seen);
            if n != seen {
                seen = n;
                write_count(n);
            }
        }
        let _ = std::fs::remove_file(dir.join("token.env"));
        Ok(())
    })
}
