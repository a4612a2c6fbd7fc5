//! `mirrorctl preflight` run for real: on this host, against real registries, with bad flags.

use std::net::TcpListener;
use std::path::Path;

use mirror_core::{RegistryClient, auth::Credential};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::runtime as rt;
use mirror_testkit::{RegistryOptions, TestRegistry};
use serde_json::Value;

const CHECKS: [&str; 11] = [
    "os", "disk", "memory", "cpu", "cidr", "port", "firewall", "hostname", "tools", "storage",
    "upstream",
];

/// `--skip` for every check but `keep`.
fn only(keep: &[&str]) -> Vec<String> {
    CHECKS
        .iter()
        .filter(|c| !keep.contains(c))
        .flat_map(|c| ["--skip".to_string(), c.to_string()])
        .collect()
}

/// Runs `mirrorctl preflight ARGS --output json`: exit code, report, stderr.
fn preflight_json(args: &[String]) -> (i32, Value, String) {
    let out = mirrorctl(
        ["preflight".to_string()]
            .into_iter()
            .chain(args.iter().cloned())
            .chain(["--output".to_string(), "json".to_string()]),
    )
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {report:#}"))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn offline_run_on_this_host_gives_a_versioned_report() {
    let (code, report, stderr) = preflight_json(&strings(&["--offline", "--min-free", "1MiB"]));
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    assert_eq!(report["apiVersion"], "mirrorctl.openshift.io/v1alpha1");
    assert_eq!(report["kind"], "PreflightReport");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, CHECKS);
    for c in report["checks"].as_array().unwrap() {
        let status = c["status"].as_str().unwrap();
        assert!(
            ["pass", "warn", "fail", "error", "skipped"].contains(&status),
            "{c}"
        );
        assert!(!c["detail"].as_str().unwrap().is_empty(), "{c}");
    }
    // 1 MiB is free on any filesystem this test can run on.
    assert_eq!(check(&report, "disk")["status"], "pass", "{report:#}");
    assert_eq!(check(&report, "upstream")["status"], "skipped");
    assert_eq!(report["passed"], code == 0);
    assert!(stderr.contains("preflight: "), "{stderr}");

    // The text form has the same checks, one per line, after a header.
    let out = mirrorctl(["preflight", "--offline", "--min-free", "1MiB"])
        .output()
        .unwrap();
    let table = text(&out).0;
    assert!(table.starts_with("CHECK"), "{table}");
    for name in CHECKS {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{table}"
        );
    }
    assert_eq!(out.status.code(), Some(code));
}

#[test]
fn list_names_every_check() {
    let out = mirrorctl(["preflight", "--list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listing = text(&out).0;
    let names: Vec<&str> = listing
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, CHECKS);
    let out = mirrorctl(["preflight", "--list", "--output", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "PreflightCheckList");
    assert_eq!(list["checks"][1]["name"], "disk");
    assert_eq!(list["checks"][1]["severity"], "fatal");
}

#[test]
fn bad_arguments_are_usage_errors_naming_the_value() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--port", "0"],
            "error: --port: `0` is not a port\nhint: pass a port from 1 to 65535\n",
        ),
        (
            &["--mirror-cidr", "10.0.0.1/16"],
            "error: --mirror-cidr: invalid CIDR `10.0.0.1/16`: host bits are set\nhint: did you mean `10.0.0.0/16`\n",
        ),
        (
            &["--cluster-cidr", "10.128.0.0"],
            "error: --cluster-cidr: invalid CIDR `10.128.0.0`: missing prefix length\nhint: add a prefix length: `10.128.0.0/32` is the single address\n",
        ),
        (
            &["--skip", "nosuch"],
            "error: --skip: unknown check `nosuch`\nhint: known checks: os, disk, memory, cpu, cidr, port, firewall, hostname, tools, storage, upstream\n",
        ),
        (
            &["--min-free", "lots"],
            "error: --min-free: invalid size `lots`: expected a number first\nhint: write a number and a unit, like `1000GiB`, `500G` or `1.5TiB` (binary units KiB..PiB, decimal units K..P or KB..PB; no unit means bytes)\n",
        ),
        (
            &["--install-config", "/nonexistent/install-config.yaml"],
            "error: --install-config: read `/nonexistent/install-config.yaml`: No such file or directory (os error 2)\n",
        ),
        (
            &["--release", "quay.io/UPPER/case:1"],
            "error: --release: invalid image reference `quay.io/UPPER/case:1`: ",
        ),
    ];
    for (args, want) in cases {
        let out = mirrorctl(["preflight"].iter().chain(args))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert!(stderr.starts_with(want), "{args:?}:\n{stderr}");
    }
}

#[test]
fn install_config_overlaps_and_findings_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ic = dir.path().join("install-config.yaml");
    std::fs::write(
        &ic,
        "apiVersion: v1\nmetadata:\n  name: demo\nnetworking:\n  machineCIDR: 10.0.0.0/16\n  clusterNetwork:\n  - cidr: 10.128.0.0/14\n    hostPrefix: 23\n",
    )
    .unwrap();
    let ic_arg = ic.display().to_string();
    // Azure's default VNet for the mirror: the same network as the machine network.
    let mut args = strings(&[
        "--mirror-cidr",
        "10.0.0.0/16",
        "--mirror-cidr",
        "192.168.0.0/16",
    ]);
    args.extend(["--install-config".to_string(), ic_arg.clone()]);
    args.extend(only(&["cidr"]));
    let (code, report, _) = preflight_json(&args);
    assert_eq!(code, 1);
    let cidr = check(&report, "cidr");
    assert_eq!(cidr["status"], "fail");
    let problems: Vec<(String, String)> = cidr["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["status"].as_str().unwrap().to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (
                "fail".to_string(),
                "mirror network `10.0.0.0/16` is the same network as networking.machineNetwork[0] `10.0.0.0/16`".to_string()
            ),
            (
                "warn".to_string(),
                format!("`{ic_arg}`: networking.machineCIDR: deprecated")
            ),
        ]
    );

    // Clear of the cluster, only the deprecation warning is left: it fails only with --strict.
    let mut args = strings(&[
        "--mirror-cidr",
        "192.168.0.0/16",
        "--install-config",
        &ic_arg,
    ]);
    args.extend(only(&["cidr"]));
    let (code, report, _) = preflight_json(&args);
    assert_eq!(
        (code, &check(&report, "cidr")["status"]),
        (0, &Value::from("warn"))
    );
    args.push("--strict".into());
    let (code, report, _) = preflight_json(&args);
    assert_eq!((code, &report["passed"]), (1, &Value::from(false)));
}

/// Runs `registry down` on drop so a failed test leaves no registry behind.
struct Down(std::path::PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = mirrorctl(["registry", "down", "--root"])
            .arg(&self.0)
            .output();
    }
}

/// `<root>` ready for `registry up`: certificates for `localhost` and an htpasswd user.
fn registry_root(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let subject = root.join("certificate");
    std::fs::write(
        &subject,
        "countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n",
    )
    .unwrap();
    let out = mirrorctl(["tls", "generate", "--dir"])
        .arg(root.join("certs"))
        .arg("--certificate-file")
        .arg(&subject)
        .args([
            "--hostname",
            "localhost",
            "--no-host-ips",
            "--key-type",
            "ecdsa-p256",
            "--email",
            "admin@example.com",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let out = mirrorctl([
        "registry",
        "user",
        "add",
        "--username",
        "admin",
        "--htpasswd",
    ])
    .arg(root.join("auth/htpasswd"))
    .env("MIRROR_REGISTRY_PASSWORD", "pw-for-tests")
    .output()
    .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
}

#[test]
fn port_held_by_our_registry_passes_by_a_stranger_fails() {
    // A stranger: a distribution registry the harness started with its own root.
    let stranger = TestRegistry::start();
    let mut args = strings(&["--port", &stranger.port.to_string()]);
    args.extend(only(&["port"]));
    let (code, report, _) = preflight_json(&args);
    let port = check(&report, "port");
    assert_eq!((code, &port["status"]), (1, &Value::from("fail")), "{port}");
    let pid = stranger.pid();
    assert_eq!(
        port["detail"],
        format!(
            "port {} is in use by another distribution registry (`docker-registry`, pid {pid}): it does not serve `/opt/registry/config.yml`",
            stranger.port
        ),
        "{port}"
    );
    assert!(
        port["hint"]
            .as_str()
            .unwrap()
            .starts_with("`mirrorctl registry up` would refuse the port: "),
        "{port}"
    );

    // Ours: started by `registry up --runtime process --root R`; passes with `--root R`.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    registry_root(&root);
    let p = mirror_testkit::free_port();
    let out = mirrorctl([
        "registry",
        "up",
        "--runtime",
        "process",
        "--supervisor",
        "process",
        "--port",
        &p.to_string(),
        "--root",
    ])
    .arg(&root)
    .output()
    .unwrap();
    let _down = Down(root.clone());
    assert!(out.status.success(), "{:?}", text(&out));
    let ours: u32 = std::fs::read_to_string(root.join("registry.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut args = strings(&[
        "--port",
        &p.to_string(),
        "--root",
        &root.display().to_string(),
    ]);
    args.extend(only(&["port"]));
    let (code, report, _) = preflight_json(&args);
    let port = check(&report, "port");
    assert_eq!((code, &port["status"]), (0, &Value::from("pass")), "{port}");
    assert_eq!(
        port["detail"],
        format!(
            "port {p} is held by the mirror registry under `{}` (`docker-registry`, pid {ours})",
            root.display()
        )
    );
    // The same registry, asked about another root, is a stranger there.
    let other = tmp.path().join("other");
    let mut args = strings(&[
        "--port",
        &p.to_string(),
        "--root",
        &other.display().to_string(),
    ]);
    args.extend(only(&["port"]));
    let (code, report, _) = preflight_json(&args);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        check(&report, "port")["detail"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "it does not serve `{}/config.yml`",
                other.display()
            )),
        "{report:#}"
    );

    // This test process holds the next one.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = listener.local_addr().unwrap().port();
    let mut args = strings(&["--port", &p.to_string()]);
    args.extend(only(&["port"]));
    let (code, report, _) = preflight_json(&args);
    let port = check(&report, "port");
    assert_eq!((code, &port["status"]), (1, &Value::from("fail")), "{port}");
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(
        port["detail"],
        format!(
            "port {p} is in use by `{}` (pid {})",
            me.trim_end(),
            std::process::id()
        )
    );
}

fn write_auth(dir: &Path, host: &str, user: &str, password: &str) -> String {
    let auth = Credential {
        username: user.into(),
        password: password.into(),
    }
    .to_auth_value();
    let path = dir.join("auth.json");
    std::fs::write(
        &path,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn upstream_and_release_size_against_a_real_registry() {
    let reg = TestRegistry::start_with(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), "pw-for-tests".into())),
        ..Default::default()
    });
    let client = RegistryClient::new(reg.client_options()).unwrap();
    let f = rt().block_on(fixture::push(&FixtureSpec::tiny(), &client, &reg.host));
    let dir = tempfile::tempdir().unwrap();
    let ca = reg.ca_file().unwrap().display().to_string();

    // Good credentials: upstream names the entry; disk counts the release's unique blobs.
    let auth = write_auth(dir.path(), &reg.host, "mirror", "pw-for-tests");
    let mut args = strings(&[
        "--release",
        &f.release,
        "-a",
        &auth,
        "--ca-file",
        &ca,
        "--min-free",
        "1B",
    ]);
    args.extend(only(&["upstream", "disk"]));
    let (code, report, stderr) = preflight_json(&args);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(
        check(&report, "upstream")["detail"],
        format!(
            "`{host}` answers for `{repo}` and holds `{release}` (`{digest}`); credentials from entry `{host}` of `{auth}` accepted",
            host = reg.host,
            repo = f.release_repo,
            release = f.release,
            digest = f.release_digest,
        )
    );

    {
        // A tag the registry does not hold: the registry answers, the release is not there.
        let missing = format!("{}:4.99.0-x86_64", f.release_repo);
        let mut missing_args = strings(&["--release", &missing, "-a", &auth, "--ca-file", &ca]);
        missing_args.extend(only(&["upstream"]));
        let (code, report, _) = preflight_json(&missing_args);
        let up = check(&report, "upstream");
        assert_eq!((code, &up["status"]), (1, &Value::from("fail")), "{up}");
        assert_eq!(
            up["detail"],
            format!(
                "release `{missing}` not found: `{host}` answered 404 for its manifest; credentials from entry `{host}` of `{auth}` accepted",
                host = reg.host
            ),
            "{up}"
        );
        // So does a digest it does not hold.
        let by_digest = format!("{}@sha256:{}", f.release_repo, "0".repeat(64));
        let mut digest_args = strings(&["--release", &by_digest, "-a", &auth, "--ca-file", &ca]);
        digest_args.extend(only(&["upstream"]));
        let (code, report, _) = preflight_json(&digest_args);
        let up = check(&report, "upstream");
        assert_eq!((code, &up["status"]), (1, &Value::from("fail")), "{up}");
        assert!(
            up["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("release `{by_digest}` not found")),
            "{up}"
        );

        // `{"auths":{}}`: the Red Hat pull secret is missing; upstream fails naming the file.
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, r#"{"auths":{}}"#).unwrap();
        let empty = empty.display().to_string();
        let mut empty_args = strings(&["--release", &f.release, "-a", &empty, "--ca-file", &ca]);
        empty_args.extend(only(&["upstream"]));
        let (code, report, _) = preflight_json(&empty_args);
        let up = check(&report, "upstream");
        assert_eq!((code, &up["status"]), (1, &Value::from("fail")), "{up}");
        assert_eq!(
            up["detail"],
            format!("auth file `{empty}` holds no credentials: the Red Hat pull secret is missing"),
            "{up}"
        );
    }
    let disk = check(&report, "disk")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        disk.contains(&format!(
            "; release {} needs {} ({} unique blobs)",
            f.version,
            mirror_core::size::format_size(f.unique_bytes),
            f.unique_blobs
        )),
        "{disk}"
    );

    // With --to a mirror that already holds the release, nothing more is needed. (The target
    // is a second, plain-HTTP registry, as in the release mirror tests.)
    let mirror = TestRegistry::start();
    let target = format!("{}/mirror/ocp", mirror.host);
    let out = mirrorctl([
        "release",
        "mirror",
        "--from",
        &f.release,
        "--to",
        &target,
        "-a",
        &auth,
        "--ca-file",
        &ca,
        "--insecure-registry",
        &mirror.host,
        "--quiet",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let mut with_to = args.clone();
    with_to.extend(strings(&[
        "--to",
        &target,
        "--insecure-registry",
        &mirror.host,
    ]));
    let (code, report, _) = preflight_json(&with_to);
    let disk = check(&report, "disk")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(code, 0, "{report:#}");
    assert!(
        disk.ends_with(&format!(
            "; release {} needs 0B (0 blobs `{target}` does not hold yet)",
            f.version
        )),
        "{disk}"
    );
    // An empty target subtracts nothing.
    let empty = format!("{}/empty/ocp", mirror.host);
    let mut with_empty = args.clone();
    with_empty.extend(strings(&[
        "--to",
        &empty,
        "--insecure-registry",
        &mirror.host,
    ]));
    let (_, report, _) = preflight_json(&with_empty);
    let disk = check(&report, "disk")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        disk.ends_with(&format!(
            "; release {} needs {} ({} blobs `{empty}` does not hold yet)",
            f.version,
            mirror_core::size::format_size(f.unique_bytes),
            f.unique_blobs
        )),
        "{disk}"
    );

    // Wrong password: upstream fails with the entry in the hint.
    let auth = write_auth(dir.path(), &reg.host, "mirror", "wrong");
    let mut args = strings(&["--release", &f.release, "-a", &auth, "--ca-file", &ca]);
    args.extend(only(&["upstream"]));
    let (code, report, _) = preflight_json(&args);
    let up = check(&report, "upstream");
    assert_eq!((code, &up["status"]), (1, &Value::from("fail")), "{up}");
    assert!(
        up["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("entry `{}` of `{auth}`", reg.host)),
        "{up}"
    );

    // Offline: nothing is contacted.
    let mut args = strings(&["--release", &f.release, "--offline", "--min-free", "1B"]);
    args.extend(only(&["upstream", "disk"]));
    let (code, report, _) = preflight_json(&args);
    assert_eq!(code, 0);
    assert_eq!(check(&report, "upstream")["detail"], "`--offline`");
    assert!(
        check(&report, "disk")["detail"]
            .as_str()
            .unwrap()
            .ends_with("; release not sized (`--offline`)")
    );
}

#[test]
fn tools_hint_names_this_hosts_package_manager() {
    // podman is not installed on the test hosts (Debian): the hint must say `apt-get`, not
    // `dnf`.
    let os = std::fs::read_to_string("/etc/os-release").unwrap();
    assert!(
        os.lines().any(|l| l == "ID=debian"),
        "this test expects a Debian host:\n{os}"
    );
    let mut args = strings(&["--runtime", "podman"]);
    args.extend(only(&["tools"]));
    let (code, report, _) = preflight_json(&args);
    let tools = check(&report, "tools");
    assert_eq!(
        (code, &tools["status"]),
        (1, &Value::from("fail")),
        "{tools}"
    );
    let hint = tools["hint"].as_str().unwrap();
    assert!(
        hint.starts_with("install podman (`apt-get install podman`), or use `--runtime process`"),
        "{hint}"
    );
    assert!(!hint.contains("dnf"), "{hint}");
}
