//! `mirror-fixture`: start harness registries that outlive the command, and push the
//! synthetic release into one. Used by the quickstart and the benchmarks.
//!
//! ```text
//! mirror-fixture up --dir DIR [--tls] [--empty] [--components N --total-mib M --big-mib B]
//! mirror-fixture down --dir DIR
//! mirror-fixture serve-signatures --dir DIR --port PORT
//! ```
//! `up` prints a JSON description on stdout (and writes it to DIR/fixture.json). The release
//! it pushes is signed: its verification ConfigMap holds a generated test key
//! (DIR/signing-key.asc) and names a signature store on loopback that `up` starts in the
//! background (`serve-signatures`, serving DIR/signatures), so a mirror verifies it offline.

use std::path::PathBuf;
use std::process::ExitCode;

use mirror_core::RegistryClient;
use mirror_testkit::fixture::{self, FixtureSpec, FixtureVerification};
use mirror_testkit::signing::{self, SigningKey};
use mirror_testkit::{RegistryOptions, SignatureServer, TestRegistry, free_port};

fn usage() -> ExitCode {
    eprintln!(
        "usage: mirror-fixture up --dir DIR [--tls] [--empty] [--components N] [--total-mib M] [--big-mib B]\n       mirror-fixture down --dir DIR\n       mirror-fixture serve-signatures --dir DIR --port PORT"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(verb) = args.first().cloned() else {
        return usage();
    };
    let mut dir = None;
    let mut tls = false;
    let mut empty = false;
    let mut port = None;
    let mut scale: (Option<usize>, Option<u64>, Option<u64>) = (None, None, None);
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned();
        match a.as_str() {
            "--dir" => dir = val().map(PathBuf::from),
            "--tls" => tls = true,
            "--empty" => empty = true,
            "--components" => scale.0 = val().and_then(|v| v.parse().ok()),
            "--total-mib" => scale.1 = val().and_then(|v| v.parse().ok()),
            "--big-mib" => scale.2 = val().and_then(|v| v.parse().ok()),
            "--port" => port = val().and_then(|v| v.parse::<u16>().ok()),
            _ => return usage(),
        }
    }
    let Some(dir) = dir else { return usage() };
    match verb.as_str() {
        "up" => up(dir, tls, empty, scale),
        "down" => down(&dir),
        "serve-signatures" => match port {
            Some(p) => match SignatureServer::run_forever(&dir, p) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: serve `{}` on port {p}: {e}", dir.display());
                    ExitCode::from(1)
                }
            },
            None => usage(),
        },
        _ => usage(),
    }
}

fn up(
    dir: PathBuf,
    tls: bool,
    empty: bool,
    scale: (Option<usize>, Option<u64>, Option<u64>),
) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: create `{}`: {e}", dir.display());
        return ExitCode::from(1);
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    let reg = TestRegistry::start_with(RegistryOptions {
        tls,
        root: Some(dir.join("registry")),
        ..Default::default()
    });
    let mut desc = serde_json::json!({
        "registry": reg.host,
        "caFile": reg.ca_file(),
        "registryFlags": reg.cli_flags(),
    });
    if !empty {
        let mut spec = match scale {
            (None, None, None) => FixtureSpec::tiny(),
            (c, t, b) => {
                let mut s =
                    FixtureSpec::scaled(c.unwrap_or(100), t.unwrap_or(2304), b.unwrap_or(600));
                s.work_dir = Some(dir.join("layers"));
                s
            }
        };
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: runtime: {e}");
                return ExitCode::from(1);
            }
        };
        let client = match RegistryClient::new(reg.client_options()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let store = match start_signature_store(&dir) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let key = SigningKey::generate("mirrorctl fixture release key", spec.seed);
        spec.verification = Some(
            FixtureVerification::default()
                .key("fixture", &key)
                .store("fixture-local", &store.0),
        );
        let f = rt.block_on(fixture::push(&spec, &client, &reg.host));
        let sig = key.sign_release(
            &f.release_digest,
            &format!(
                "quay.io/openshift-release-dev/ocp-release:{}-x86_64",
                f.version
            ),
        );
        signing::write_signature(&dir.join("signatures"), &f.release_digest, 1, &sig);
        let _ = std::fs::write(dir.join("signing-key.asc"), key.public_armored());
        desc["signatureStore"] = store.0.into();
        desc["signatureStorePid"] = store.1.into();
        desc["signingKey"] = dir.join("signing-key.asc").display().to_string().into();
        desc["signingKeyFingerprint"] = key.fingerprint().into();
        // The registry holds the layers now; the generated copies are not needed.
        let _ = std::fs::remove_dir_all(dir.join("layers"));
        desc["fixture"] = serde_json::to_value(&f).unwrap_or_default();
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
    if let Some(s) = desc["signatureStore"].as_str() {
        env.push_str(&format!(
            "SIGNATURE_STORE={s}\nSIGNING_KEY={}\n",
            desc["signingKey"].as_str().unwrap_or_default()
        ));
    }
    let _ = std::fs::write(dir.join("fixture.env"), env);
    println!("{text}");
    ExitCode::SUCCESS
}

/// Starts `mirror-fixture serve-signatures` in the background on a free loopback port,
/// serving `<dir>/signatures`; returns its URL and pid (kept in `<dir>/signatures.pid`).
fn start_signature_store(dir: &std::path::Path) -> Result<(String, u32), String> {
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
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("the signature store did not start on port {port}"))
}

fn down(dir: &std::path::Path) -> ExitCode {
    if let Ok(pid) = std::fs::read_to_string(dir.join("signatures.pid")) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        let _ = std::fs::remove_file(dir.join("signatures.pid"));
    }
    let pid_file = dir.join("registry.pid");
    let Ok(pid) = std::fs::read_to_string(&pid_file) else {
        eprintln!("no registry running under `{}`", dir.display());
        return ExitCode::SUCCESS;
    };
    let pid = pid.trim();
    let status = std::process::Command::new("kill").arg(pid).status();
    let _ = std::fs::remove_file(&pid_file);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        _ => {
            eprintln!("registry pid {pid} was not running");
            ExitCode::SUCCESS
        }
    }
}
