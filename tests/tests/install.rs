//! `mirrorctl install` end to end: process runtime, temp root, loopback ports, the fixture
//! release; every output checked; a second run changes nothing; bad input changes nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use mirror_core::{ClientOptions, RegistryClient, Repository, auth::AuthFile};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::{TestRegistry, free_port};

struct Env {
    dir: tempfile::TempDir,
    port: u16,
}

impl Env {
    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Stops the installed registry however the test ends.
impl Drop for Env {
    fn drop(&mut self) {
        let _ = mirrorctl(["registry", "down", "--root"])
            .arg(self.p("registry"))
            .output();
        if let Ok(pid) = std::fs::read_to_string(self.p("registry/registry.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        dir,
        port: free_port(),
    };
    std::fs::write(env.p("certificate"), "countrycode=US\nstate=\"New York\"\nlocality=Armonk\norganization=Example Corp\nunit = IT  # the script's file, with a comment\n").unwrap();
    std::fs::write(env.p("password"), "s3cret-Mirror-pw\n").unwrap();
    std::fs::set_permissions(env.p("password"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let quay = mirror_core::auth::Credential {
        username: "rh-user".into(),
        password: "rh-token".into(),
    };
    std::fs::write(
        env.p("pull-secret"),
        serde_json::json!({"auths": {"cloud.openshift.com": {"auth": quay.to_auth_value(), "email": "me@example.com"}, "quay.io": {"auth": quay.to_auth_value(), "email": "me@example.com"}}}).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(env.p("trust/etc")).unwrap();
    std::fs::copy("/etc/os-release", env.p("trust/etc/os-release")).unwrap();
    env
}

fn install_args(env: &Env, release: &str, source: &str) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "install".into(),
        "--email".into(),
        "admin@example.com".into(),
        "--username".into(),
        "mirror".into(),
        "--release".into(),
        release.into(),
    ];
    for (flag, path) in [
        ("--password-file", "password"),
        ("--pull-secret", "pull-secret"),
        ("--root", "registry"),
        ("--certificate-file", "certificate"),
        ("--output-dir", "out"),
        ("--trust-root", "trust"),
    ] {
        v.push(flag.into());
        v.push(env.p(path).display().to_string());
    }
    v.extend(
        [
            "--hostname",
            "localhost",
            "--port",
            &env.port.to_string(),
            "--runtime",
            "process",
            "--insecure-registry",
            source,
            "--min-free",
            "1MiB",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

/// path -> (mode, bytes) of every file under `dir`, except the registry's own data and log.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name == "data" || name.ends_with(".log") {
                continue;
            }
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() {
                out.insert(
                    p.clone(),
                    (
                        md.permissions().mode() & 0o777,
                        std::fs::read(&p).unwrap(),
                        md.modified().unwrap(),
                    ),
                );
            }
        }
    }
    out
}

#[test]
fn install_end_to_end_then_a_rerun_changes_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A signed release: its payload names a signature store on loopback and the test key.
    let key = mirror_testkit::signing::SigningKey::generate("install test release key", 41);
    let store_dir = tempfile::tempdir().unwrap();
    let store = mirror_testkit::SignatureServer::start(store_dir.path());
    let source = TestRegistry::start();
    let f = rt.block_on(fixture::push(
        &FixtureSpec {
            verification: Some(
                mirror_testkit::fixture::FixtureVerification::default()
                    .key("test", &key)
                    .store("local", &store.url),
            ),
            ..FixtureSpec::tiny()
        },
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    mirror_testkit::signing::write_signature(
        &store.dir,
        &f.release_digest,
        1,
        &key.sign_release(&f.release_digest, &f.release),
    );
    let env = setup();
    let args = install_args(&env, &f.release, &source.host);

    let out = mirrorctl(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "install failed:\n{stderr}");
    assert!(
        !stderr.contains("s3cret-Mirror-pw") && !stdout.contains("s3cret-Mirror-pw"),
        "the password leaked"
    );
    for step in [
        "directories",
        "certificates",
        "user",
        "registry",
        "trust",
        "pull-secret",
        "mirror",
        "extract",
        "outputs",
    ] {
        assert!(
            stderr.lines().any(|l| l.contains("]")
                && l.contains(&format!(" {step} "))
                && l.contains("[        done]")),
            "step {step} not done:\n{stderr}"
        );
    }
    // The mirror step's progress without a terminal: a line per image as it completes, then
    // the totals, before the step's own line.
    let n = f.components.len() + 1;
    let totals = stderr
        .find(&format!("info: images {n}/{n}  "))
        .unwrap_or_else(|| panic!("no closing progress line:\n{stderr}"));
    let step_line = stderr.find("[        done] mirror").unwrap();
    assert!(totals < step_line, "{stderr}");
    for c in &f.components {
        let line = stderr
            .find(&format!("info: {}: copied\n", c.name))
            .unwrap_or_else(|| panic!("no line for `{}`:\n{stderr}", c.name));
        assert!(line < totals, "{stderr}");
    }
    let registry = format!("localhost:{}", env.port);
    let mirror = format!("{registry}/ocp4/openshift4");
    assert!(
        stdout.contains(&format!("Registry:   {registry}")),
        "{stdout}"
    );

    // The release signature ConfigMap the cluster reads, beside the other outputs.
    let hex = f.release_digest.hex();
    let cm_path = env.p(&format!(
        "out/signatures/signature-sha256-{}.json",
        &hex[..16]
    ));
    let cm: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&cm_path).unwrap_or_else(|e| panic!("{}: {e}\n{stderr}", cm_path.display())),
    )
    .unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["namespace"], "openshift-config-managed");
    assert_eq!(cm["metadata"]["name"], format!("sha256-{hex}"));
    assert!(
        cm["binaryData"][format!("sha256-{hex}-1")].is_string(),
        "{cm}"
    );
    assert!(
        stderr.contains("release signature verified, ConfigMap"),
        "{stderr}"
    );

    // Files and modes.
    for (rel, mode) in [
        ("out/pull-secret.json", 0o600),
        ("out/install-config-snippet.yaml", 0o600),
        ("registry/auth/htpasswd", 0o600),
        ("registry/certs/domain.key", 0o600),
        ("out/openshift-install", 0o755),
    ] {
        let m = std::fs::metadata(env.p(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{rel}");
    }
    assert!(env.p("out/imagedigestmirrorset.yaml").is_file());
    assert!(
        env.p(&format!("trust/etc/containers/certs.d/{registry}/ca.crt"))
            .is_file()
    );

    // The snippet parses; its pull secret logs in; its trust bundle verifies the registry.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Snippet {
        pull_secret: String,
        additional_trust_bundle: String,
        image_digest_sources: Vec<Src>,
    }
    #[derive(serde::Deserialize)]
    struct Src {
        source: String,
        mirrors: Vec<String>,
    }
    let snippet: Snippet = serde_saphyr::from_str(
        &std::fs::read_to_string(env.p("out/install-config-snippet.yaml")).unwrap(),
    )
    .unwrap();
    let sources: Vec<&str> = snippet
        .image_digest_sources
        .iter()
        .map(|s| s.source.as_str())
        .collect();
    let mut want = vec![f.release_repo.as_str(), f.component_repo.as_str()];
    want.sort();
    assert_eq!(sources, want);
    assert!(
        snippet
            .image_digest_sources
            .iter()
            .all(|s| s.mirrors == vec![mirror.clone()])
    );
    let auth = AuthFile::parse(&snippet.pull_secret, Path::new("snippet")).unwrap();
    assert_eq!(
        auth.lookup(&registry, "ocp4/openshift4")
            .unwrap()
            .credential
            .password,
        "s3cret-Mirror-pw"
    );
    assert!(
        auth.lookup("quay.io", "x").is_some(),
        "the original entries were kept"
    );
    let client = RegistryClient::new(ClientOptions {
        auth: Some(auth),
        ca_pems: vec![snippet.additional_trust_bundle.into_bytes()],
        ..Default::default()
    })
    .unwrap();
    let repo = Repository::parse(&mirror).unwrap();
    let got = rt
        .block_on(client.get_manifest(&repo, "4.14.1-x86_64"))
        .unwrap()
        .unwrap();
    assert_eq!(got.digest, f.release_digest);

    // skopeo agrees, and the installer is pinned to the mirror.
    let installer = std::fs::read(env.p("out/openshift-install")).unwrap();
    let pin = format!("{mirror}@{}\0", f.release_digest);
    assert!(
        installer.windows(pin.len()).any(|w| w == pin.as_bytes()),
        "installer not pinned to {pin}"
    );
    let certs = env.p("skopeo-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(env.p("registry/certs/ca.crt"), certs.join("ca.crt")).unwrap();
    let sk = std::process::Command::new(mirror_testkit::require_tool("skopeo"))
        .args(["inspect", "--raw", "--authfile"])
        .arg(env.p("out/pull-secret.json"))
        .arg("--cert-dir")
        .arg(&certs)
        .arg(format!("docker://{mirror}:4.14.1-x86_64"))
        .output()
        .unwrap();
    assert!(
        sk.status.success(),
        "{}",
        String::from_utf8_lossy(&sk.stderr)
    );
    assert_eq!(mirror_core::Digest::of(&sk.stdout), f.release_digest);

    // A second run: every step already done, nothing on disk changes.
    let before = (snapshot(&env.p("registry")), snapshot(&env.p("out")));
    let mut json_args = args.clone();
    json_args.extend(["--output".to_string(), "json".into()]);
    let out = mirrorctl(&json_args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "rerun failed:\n{stderr}");
    // Each step says what it cost, in seconds.
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 12, "{stdout}");
    assert!(
        steps
            .iter()
            .all(|s| s["seconds"].as_f64().is_some_and(|t| t >= 0.0)),
        "{stdout}"
    );
    let mirror_step = steps.iter().find(|s| s["step"] == "mirror").unwrap();
    assert!(mirror_step["seconds"].as_f64().unwrap() > 0.0, "{stdout}");
    for line in stderr.lines().filter(|l| l.starts_with('[')) {
        assert!(
            line.starts_with("[already done]"),
            "rerun did something: {line}\n{stderr}"
        );
    }
    let after = (snapshot(&env.p("registry")), snapshot(&env.p("out")));
    assert_eq!(
        before.0.keys().collect::<Vec<_>>(),
        after.0.keys().collect::<Vec<_>>()
    );
    assert!(before == after, "a rerun changed files on disk");

    // podman installed later, but it cannot run anything (offline, no cgroups): a rerun with
    // the default runtime keeps the process registry and changes nothing.
    let bin = env.p("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let podman = bin.join("podman");
    std::fs::write(
        &podman,
        "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/calls\"\ncase \"$1\" in version) echo 4.9.3 ;; *) echo 'Error: cannot run containers here' >&2; exit 125 ;; esac\n",
    )
    .unwrap();
    std::fs::set_permissions(&podman, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut auto_args = args.clone();
    let i = auto_args.iter().position(|a| a == "--runtime").unwrap();
    auto_args[i + 1] = "auto".into();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let out = mirrorctl(&auto_args).env("PATH", &path).output().unwrap();
    let stderr = text(&out).1;
    assert!(out.status.success(), "auto rerun failed:\n{stderr}");
    for line in stderr.lines().filter(|l| l.starts_with('[')) {
        assert!(
            line.starts_with("[already done]"),
            "auto rerun did something: {line}\n{stderr}"
        );
    }
    assert!(
        stderr.contains("kept the process runtime that runs although podman is installed now"),
        "{stderr}"
    );
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap_or_default();
    assert!(!calls.contains("run") && !calls.contains("pull"), "{calls}");
    assert!(
        (snapshot(&env.p("registry")), snapshot(&env.p("out"))) == after,
        "the auto rerun changed files on disk"
    );

    // uninstall --keep-data: the registry stops, its files, trust entries and the outputs go,
    // the mirrored data stays; a second uninstall has nothing left to do.
    let uninstall = |extra: &[&str]| {
        let mut c = mirrorctl(["uninstall", "--root"]);
        c.arg(env.p("registry"))
            .arg("--output-dir")
            .arg(env.p("out"))
            .arg("--trust-root")
            .arg(env.p("trust"))
            .args(extra);
        c.output().unwrap()
    };
    let out = uninstall(&["--keep-data"]);
    let stderr = text(&out).1;
    assert!(out.status.success(), "uninstall failed:\n{stderr}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", env.port)).is_err(),
        "the registry still listens"
    );
    assert!(
        !env.p(&format!("trust/etc/containers/certs.d/{registry}"))
            .exists(),
        "trust entries left"
    );
    for gone in [
        "registry/auth",
        "registry/certs",
        "registry/config.yml",
        "out",
    ] {
        assert!(!env.p(gone).exists(), "{gone} left after uninstall");
    }
    assert!(
        env.p("registry/data/docker").is_dir(),
        "--keep-data removed the data"
    );
    let out = uninstall(&["--registry", &registry]);
    let stderr = text(&out).1;
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[already done] registry") && stderr.contains("[already done] trust"),
        "{stderr}"
    );
    assert!(
        !env.p("registry").exists(),
        "the root is left after a full uninstall:\n{stderr}"
    );
}

#[test]
fn dry_run_plans_every_step_and_changes_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let source = TestRegistry::start();
    let f = rt.block_on(fixture::push(
        &FixtureSpec::tiny(),
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    let env = setup();
    let mut args = install_args(&env, &f.release, &source.host);
    // A root with capitals: the plan names paths exactly as given.
    let root = env.p("Mirror-Root").display().to_string();
    let i = args.iter().position(|a| a == "--root").unwrap();
    args[i + 1] = root.clone();
    args.push("--dry-run".into());
    args.extend(["--bind".into(), "127.0.0.1".into()]);
    let out = mirrorctl(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "Dry run: nothing was changed.\n");
    assert!(
        stderr.contains(&format!(
            "start the registry (process runtime, filesystem storage) on 127.0.0.1:{} under {root}\n",
            env.port
        )),
        "{stderr}"
    );
    for step in [
        "directories",
        "certificates",
        "user",
        "registry",
        "trust",
        "check",
        "pull-secret",
        "mirror",
        "extract",
        "outputs",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("[     planned]") && l.contains(&format!(" {step} "))),
            "{step} not planned:\n{stderr}"
        );
    }
    assert!(
        stderr.contains(&format!("mirror {} images", f.components.len() + 1)),
        "{stderr}"
    );
    for p in ["Mirror-Root", "registry", "out", "trust/etc/containers"] {
        assert!(!env.p(p).exists(), "a dry run created {p}");
    }
}

#[test]
fn bad_input_is_refused_before_any_change() {
    let env = setup();
    let base = install_args(
        &env,
        "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64",
        "127.0.0.1:1",
    );
    let without = |flag: &str| {
        let mut v = base.clone();
        let i = v.iter().position(|a| a == flag).unwrap();
        v.drain(i..i + 2);
        v
    };
    std::fs::write(env.p("bad.yaml"), "email: a@b.c\npassword: hunter2\n").unwrap();
    std::fs::write(env.p("bad-cert"), "countrycode=USA\n").unwrap();
    let mut with_config = base.clone();
    with_config.extend(["--config".into(), env.p("bad.yaml").display().to_string()]);
    let mut bad_cert = base.clone();
    let i = bad_cert
        .iter()
        .position(|a| a == "--certificate-file")
        .unwrap();
    bad_cert[i + 1] = env.p("bad-cert").display().to_string();
    let mut bad_bind = base.clone();
    bad_bind.extend(["--bind".into(), "mirror.example.com".into()]);
    std::fs::write(env.p("bind.yaml"), "bind: 10.0.0.1:5000\n").unwrap();
    let mut bad_bind_file = base.clone();
    bad_bind_file.extend(["--config".into(), env.p("bind.yaml").display().to_string()]);
    let mut bad_skip = base.clone();
    bad_skip.extend(["--skip".into(), "everything".into()]);
    std::fs::write(env.p("rh-password"), "hunter2\n").unwrap();
    let mut rh_password_only = base.clone();
    rh_password_only.extend([
        "--rh-password-file".into(),
        env.p("rh-password").display().to_string(),
    ]);
    let mut rh_user_only = base.clone();
    rh_user_only.extend(["--rh-username".into(), "rh-admin".into()]);
    let mut rh_missing_file = rh_user_only.clone();
    rh_missing_file.extend([
        "--rh-password-file".into(),
        env.p("no-such-file").display().to_string(),
    ]);
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "Red Hat password without a user",
            rh_password_only,
            "without `--rh-username`",
        ),
        (
            "Red Hat user without a password",
            rh_user_only,
            "no password for the Red Hat account `rh-admin`",
        ),
        (
            "unreadable Red Hat password file",
            rh_missing_file,
            "--rh-password-file",
        ),
        (
            "no password",
            without("--password-file"),
            "registry password: no password given",
        ),
        (
            "no pull secret",
            without("--pull-secret"),
            "missing `--pull-secret`",
        ),
        ("no email", without("--email"), "missing `--email`"),
        (
            "unknown config field",
            with_config,
            "unknown field `password`",
        ),
        ("bad certificate file", bad_cert, "--certificate-file"),
        ("unknown step", bad_skip, "unknown step `everything`"),
        (
            "bad --bind",
            bad_bind,
            "error: --bind: `mirror.example.com` is not an IP address\nhint: ",
        ),
        (
            "bad bind in the config file",
            bad_bind_file,
            "error: bind: `10.0.0.1:5000` is not an IP address\nhint: ",
        ),
    ];
    for (name, args, want) in cases {
        let out = mirrorctl(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = text(&out).1;
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(want),
            "{name}: stderr lacks `{want}`:\n{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{name}: a secret leaked");
        assert!(
            !env.p("registry").exists() && !env.p("out").exists(),
            "{name}: something was created"
        );
    }
}

#[test]
fn an_empty_pull_secret_is_named_and_stops_the_install_at_preflight() {
    let env = setup();
    std::fs::write(env.p("pull-secret"), r#"{"auths":{}}"#).unwrap();
    let args = install_args(
        &env,
        "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64",
        "127.0.0.1:1",
    );
    let out = mirrorctl(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let ps = env.p("pull-secret").display().to_string();
    assert!(
        stderr.starts_with(&format!(
            "warning: pull secret `{ps}` has no entries: the Red Hat pull secret is missing\nhint: download your pull secret from console.redhat.com/openshift/install/pull-secret"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "upstream: auth file `{ps}` holds no credentials: the Red Hat pull secret is missing"
        )),
        "{stderr}"
    );
    // The failure is a problem found (exit 1), with a hint naming only flags `install` has.
    assert!(
        stderr.contains("\nhint: run `mirrorctl preflight` for details and hints; `--skip-check NAME` waives a check that does not apply\n"),
        "{stderr}"
    );
    assert!(
        !env.p("registry").exists() && !env.p("out").exists(),
        "something was created:\n{stderr}"
    );
}

#[test]
fn a_new_password_is_refused_unless_rotated_then_updates_every_file() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A signed release: its payload names a signature store on loopback and the test key.
    let key = mirror_testkit::signing::SigningKey::generate("install test release key", 41);
    let store_dir = tempfile::tempdir().unwrap();
    let store = mirror_testkit::SignatureServer::start(store_dir.path());
    let source = TestRegistry::start();
    let f = rt.block_on(fixture::push(
        &FixtureSpec {
            verification: Some(
                mirror_testkit::fixture::FixtureVerification::default()
                    .key("test", &key)
                    .store("local", &store.url),
            ),
            ..FixtureSpec::tiny()
        },
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    mirror_testkit::signing::write_signature(
        &store.dir,
        &f.release_digest,
        1,
        &key.sign_release(&f.release_digest, &f.release),
    );
    let env = setup();
    let args = install_args(&env, &f.release, &source.host);
    let out = mirrorctl(&args).output().unwrap();
    assert!(out.status.success(), "install failed:\n{}", text(&out).1);
    let registry = format!("localhost:{}", env.port);
    let secrets = [
        "registry/auth/htpasswd",
        "out/pull-secret.json",
        "out/install-config-snippet.yaml",
    ];
    let read = |rel: &str| std::fs::read(env.p(rel)).unwrap();
    let logs_in = |password: &str| {
        let auth =
            serde_json::json!({"auths": {registry.clone(): {"auth": mirror_core::auth::Credential {
            username: "mirror".into(),
            password: password.into(),
        }.to_auth_value()}}})
            .to_string();
        let client = RegistryClient::new(ClientOptions {
            auth: Some(AuthFile::parse(&auth, Path::new("test")).unwrap()),
            ca_pems: vec![std::fs::read(env.p("registry/certs/ca.crt")).unwrap()],
            ..Default::default()
        })
        .unwrap();
        rt.block_on(
            client.ping(&Repository::parse(&format!("{registry}/ocp4/openshift4")).unwrap()),
        )
        .is_ok()
    };
    assert!(logs_in("s3cret-Mirror-pw"));

    // Another password: refused before anything changes, saying what would change and how
    // to rotate on purpose.
    std::fs::write(env.p("password"), "an0ther-Mirror-pw\n").unwrap();
    let before = (snapshot(&env.p("registry")), snapshot(&env.p("out")));
    let bytes_before: Vec<Vec<u8>> = secrets.iter().map(|r| read(r)).collect();
    let out = mirrorctl(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    let want = format!(
        "error: step `user` failed: user `mirror` in `{}` has another password: this install would rehash it and rewrite `{}` and `{}`, and every node pulling with the old pull secret would lose access\nhint: give the current password to keep it; to change it on purpose, rerun with `--rotate-password`, which updates htpasswd, the pull secret and the install-config snippet together\n",
        env.p("registry/auth/htpasswd").display(),
        env.p("out/pull-secret.json").display(),
        env.p("out/install-config-snippet.yaml").display(),
    );
    assert!(stderr.starts_with(&want), "{stderr}");
    assert!(!stderr.contains("["), "a step ran:\n{stderr}");
    assert!(!stderr.contains("an0ther-Mirror-pw"), "the password leaked");
    let bytes_after: Vec<Vec<u8>> = secrets.iter().map(|r| read(r)).collect();
    assert!(
        bytes_before == bytes_after,
        "htpasswd, pull secret or snippet changed"
    );
    assert!(
        before == (snapshot(&env.p("registry")), snapshot(&env.p("out"))),
        "files changed"
    );
    assert!(logs_in("s3cret-Mirror-pw") && !logs_in("an0ther-Mirror-pw"));

    // --rotate-password: htpasswd, pull secret and snippet change together, and it is said.
    let mut rotate = args.clone();
    rotate.push("--rotate-password".into());
    let out = mirrorctl(&rotate).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "rotation failed:\n{stderr}");
    for (step, note) in [
        ("user", "(password rotated)"),
        (
            "pull-secret",
            &format!("(entry `{registry}` holds the rotated password)"),
        ),
        (
            "outputs",
            "(install-config-snippet.yaml holds the rotated password)",
        ),
    ] {
        assert!(
            stderr.lines().any(|l| l.starts_with("[        done]")
                && l.contains(&format!(" {step} "))
                && l.ends_with(note)),
            "{step}:\n{stderr}"
        );
    }
    assert!(
        stdout.contains("The password of user `mirror` was rotated")
            && stdout.contains("oc set data secret/pull-secret -n openshift-config"),
        "{stdout}"
    );
    assert!(!stdout.contains("an0ther-Mirror-pw") && !stderr.contains("an0ther-Mirror-pw"));
    for (rel, old) in secrets.iter().zip(&bytes_before) {
        assert!(read(rel) != *old, "{rel} was not updated");
    }
    let ps = AuthFile::load(&env.p("out/pull-secret.json")).unwrap();
    assert_eq!(
        ps.lookup(&registry, "ocp4/openshift4")
            .unwrap()
            .credential
            .password,
        "an0ther-Mirror-pw"
    );
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Snippet {
        pull_secret: String,
    }
    let snippet: Snippet = serde_saphyr::from_str(
        &std::fs::read_to_string(env.p("out/install-config-snippet.yaml")).unwrap(),
    )
    .unwrap();
    let auth = AuthFile::parse(&snippet.pull_secret, Path::new("snippet")).unwrap();
    assert_eq!(
        auth.lookup(&registry, "ocp4/openshift4")
            .unwrap()
            .credential
            .password,
        "an0ther-Mirror-pw"
    );
    assert!(logs_in("an0ther-Mirror-pw") && !logs_in("s3cret-Mirror-pw"));

    // The same (new) password again, without the flag: a no-op success.
    let before = (snapshot(&env.p("registry")), snapshot(&env.p("out")));
    let mut json_args = args.clone();
    json_args.extend(["--output".to_string(), "json".into()]);
    let out = mirrorctl(&json_args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "rerun failed:\n{stderr}");
    // Each step says what it cost, in seconds.
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 12, "{stdout}");
    assert!(
        steps
            .iter()
            .all(|s| s["seconds"].as_f64().is_some_and(|t| t >= 0.0)),
        "{stdout}"
    );
    let mirror_step = steps.iter().find(|s| s["step"] == "mirror").unwrap();
    assert!(mirror_step["seconds"].as_f64().unwrap() > 0.0, "{stdout}");
    for line in stderr.lines().filter(|l| l.starts_with('[')) {
        assert!(
            line.starts_with("[already done]"),
            "rerun did something: {line}"
        );
    }
    assert!(
        before == (snapshot(&env.p("registry")), snapshot(&env.p("out"))),
        "a rerun changed files"
    );
}

/// A CA that `install` will not replace (a lone `ca.crt` from elsewhere) stops the
/// `certificates` step with the TLS library's own message and a hint `install` can follow: the
/// whole `mirrorctl tls generate ... --force` command, never a bare `--force`, which `install`
/// does not have. The CA is left as it was.
#[test]
fn a_ca_install_will_not_replace_stops_it_with_a_hint_it_can_follow() {
    let env = setup();
    let certs = env.p("registry/certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ca.crt"), "a CA from elsewhere\n").unwrap();
    let mut args = install_args(
        &env,
        "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64",
        "127.0.0.1:1",
    );
    args.extend(["--skip", "preflight", "--skip", "packages"].map(String::from));
    let out = mirrorctl(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let certs = certs.display().to_string();
    assert!(
        stderr.contains(&format!(
            "error: step `certificates` failed: refusing to replace the CA in `{certs}`: "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "\nhint: replace the CA and every certificate on purpose with `mirrorctl tls generate --dir {certs} --hostname HOST --force`, or move them away"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("rerun with `--force`"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(env.p("registry/certs/ca.crt")).unwrap(),
        "a CA from elsewhere\n"
    );
}
