//! The benchmark's tools (bench/speed.sh): bench-copy, the minimal client, copies a release
//! byte for byte with exactly the requests it claims, counted in the registries' access logs;
//! mirror-fixture restarts a registry over its data on the same port in another auth mode,
//! bearer tokens from its token server included.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mirror_core::RegistryClient;
use mirror_testkit::fixture::{self, Fixture, FixtureSpec};
use mirror_testkit::{RegistryOptions, TestRegistry, runtime, skopeo};

const USER: &str = "bench";
const PASSWORD: &str = "bench-pass";

/// Access-log lines (one per request) in a registry's log after byte `from`.
fn requests(log: &Path, from: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.get(from..)
        .unwrap_or_default()
        .lines()
        // The combined-log lines start with the client's address; the registry's own start
        // with `time=`.
        .filter(|l| l.starts_with("127.0.0.1 - "))
        .map(str::to_string)
        .collect()
}

fn log_len(reg: &TestRegistry) -> usize {
    reg.log().len()
}

/// `{"auths": ...}` with the bench user for every host.
fn auth_file(dir: &Path, hosts: &[&str]) -> PathBuf {
    let cred = mirror_core::auth::Credential {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let auths: serde_json::Map<String, serde_json::Value> = hosts
        .iter()
        .map(|h| {
            (
                h.to_string(),
                serde_json::json!({ "auth": cred.to_auth_value() }),
            )
        })
        .collect();
    let path = dir.join("auth.json");
    std::fs::write(&path, serde_json::json!({ "auths": auths }).to_string()).unwrap();
    path
}

/// bench-copy's job lines for the fixture `f` (served at `src`) into `dst`.
fn jobs(dir: &Path, f: &Fixture, src: &str, dst: &str) -> PathBuf {
    let rehost = |repo: &str| format!("{src}/{}", repo.split_once('/').unwrap().1);
    let to = format!("{dst}/ocp4/openshift4:{}-x86_64", f.version);
    let mut lines: Vec<String> = f
        .components
        .iter()
        .map(|c| format!("{}@{} {to}-{}", rehost(&f.component_repo), c.digest, c.name))
        .collect();
    lines.push(format!(
        "{}@{} {to}",
        rehost(&f.release_repo),
        f.release_digest
    ));
    let path = dir.join("jobs.txt");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn bench_copy(jobs: &Path, auth: &Path, cas: &[PathBuf]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench-copy"));
    cmd.arg("--jobs").arg(jobs).arg("-a").arg(auth);
    for ca in cas {
        cmd.arg("--ca-file").arg(ca);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench-copy failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check_target(target: &TestRegistry, f: &Fixture) {
    let to = format!("{}/ocp4/openshift4:{}-x86_64", target.host, f.version);
    for c in &f.components {
        skopeo::assert_digest(target, &format!("{to}-{}", c.name), &c.digest);
    }
    skopeo::assert_digest(target, &to, &f.release_digest);
}

#[test]
fn bench_copy_copies_byte_for_byte_with_only_the_necessary_requests() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let tls_basic = |cost| RegistryOptions {
        tls: true,
        htpasswd: Some((USER.into(), PASSWORD.into())),
        bcrypt_cost: Some(cost),
        access_log: true,
        ..Default::default()
    };
    let source = TestRegistry::start_with(tls_basic(5));
    let target = TestRegistry::start_with(tls_basic(4));
    let htpasswd = std::fs::read_to_string(target.root().join("htpasswd")).unwrap();
    assert!(htpasswd.starts_with("bench:$2y$04$"), "{htpasswd}");
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let (src_from, dst_from) = (log_len(&source), log_len(&target));

    let auth = auth_file(tmp.path(), &[&source.host, &target.host]);
    let jobs = jobs(tmp.path(), &f, &source.host, &target.host);
    let cas = [source.ca_file().unwrap(), target.ca_file().unwrap()];
    let summary = bench_copy(&jobs, &auth, &cas);

    // One anonymous ping per registry; a GET per manifest and per unique blob at the source;
    // a POST and a PUT per blob and a PUT per manifest at the target.
    let blobs = f.unique_blobs;
    assert_eq!(summary["blobs"], blobs, "{summary}");
    assert_eq!(summary["manifests"], f.manifests, "{summary}");
    std::thread::sleep(Duration::from_millis(300));
    let src = requests(&source.root().join("registry.log"), src_from);
    let dst = requests(&target.root().join("registry.log"), dst_from);
    assert_eq!(src.len(), 1 + f.manifests + blobs, "{src:#?}");
    assert_eq!(dst.len(), 1 + 2 * blobs + f.manifests, "{dst:#?}");
    assert_eq!(summary["requests"][&source.host], src.len(), "{summary}");
    assert_eq!(summary["requests"][&target.host], dst.len(), "{summary}");
    let count = |lines: &[String], what: &str| lines.iter().filter(|l| l.contains(what)).count();
    assert_eq!(count(&src, "\"GET "), src.len());
    assert_eq!(count(&dst, "\"POST "), blobs);
    assert_eq!(count(&dst, "\"PUT "), blobs + f.manifests);
    // Only the pings went unauthenticated, and TLS gave HTTP/2.
    assert_eq!(count(&src, "\" 401 ") + count(&dst, "\" 401 "), 2);
    assert_eq!(count(&src, "HTTP/2.0\""), src.len(), "{src:#?}");
    // Counted first: skopeo's reads land in the same log.
    check_target(&target, &f);
}

/// A detached registry (or token server) under a mirror-fixture dir, stopped on drop.
struct Fixtured {
    dir: PathBuf,
    tokens: Option<Child>,
}

impl Drop for Fixtured {
    fn drop(&mut self) {
        let _ = fixture_cmd(&["down", "--dir"], &self.dir).output();
        if let Some(c) = self.tokens.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn fixture_cmd(args: &[&str], dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mirror-fixture"));
    c.args(args).arg(dir);
    c
}

fn fixture_down(dir: &Path) {
    let out = fixture_cmd(&["down", "--dir"], dir).output().unwrap();
    assert!(out.status.success());
}

fn fixture_up(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = fixture_cmd(&["up", "--tls", "--access-log", "--dir"], dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn mirror_fixture_restarts_a_registry_over_its_data_with_htpasswd_or_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src");
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let mut guard = Fixtured {
        dir: dir.clone(),
        tokens: None,
    };
    let first = fixture_up(&dir, &[]);
    let f: Fixture = serde_json::from_value(first["fixture"].clone()).unwrap();
    let host = first["registry"].as_str().unwrap().to_string();
    let port = host.rsplit_once(':').unwrap().1.to_string();

    // Down waits for the registry to let go of its port; up serves the same data there again.
    let pw_s = pw.to_str().unwrap();
    fixture_down(&dir);
    let again = fixture_up(
        &dir,
        &[
            "--empty",
            "--port",
            &port,
            "--user",
            USER,
            "--password-file",
            pw_s,
        ],
    );
    assert_eq!(again["registry"], host.as_str());
    let htpasswd = std::fs::read_to_string(dir.join("registry/htpasswd")).unwrap();
    assert!(htpasswd.starts_with("bench:$2y$05$"), "{htpasswd}");

    // The token server, then the same data behind bearer tokens.
    let mut tokens = Command::new(env!("CARGO_BIN_EXE_mirror-fixture"))
        .args([
            "token-server",
            "--user",
            USER,
            "--password-file",
            pw_s,
            "--dir",
        ])
        .arg(tmp.path().join("tokens"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let env_file = tmp.path().join("tokens/token.env");
    let start = Instant::now();
    while !env_file.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no token.env");
        if let Ok(Some(s)) = tokens.try_wait() {
            panic!("token-server exited: {s}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    guard.tokens = Some(tokens);
    let env = std::fs::read_to_string(&env_file).unwrap();
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let (realm, cert) = (get("REALM"), get("TOKEN_CERT"));
    fixture_down(&dir);
    fixture_up(
        &dir,
        &[
            "--empty",
            "--port",
            &port,
            "--user",
            USER,
            "--password-file",
            pw_s,
            "--token-realm",
            &realm,
            "--token-cert",
            &cert,
        ],
    );

    let target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..Default::default()
    });
    let auth = auth_file(tmp.path(), &[&host, &target.host]);
    let jobs = jobs(tmp.path(), &f, &host, &target.host);
    let cas = [dir.join("registry/ca.crt"), target.ca_file().unwrap()];
    let summary = bench_copy(&jobs, &auth, &cas);
    check_target(&target, &f);
    assert_eq!(summary["tokenRequests"], 1, "{summary}");
    std::thread::sleep(Duration::from_millis(200));
    let issued = std::fs::read_to_string(tmp.path().join("tokens/token-requests")).unwrap();
    assert_eq!(issued.trim(), "1");
}
