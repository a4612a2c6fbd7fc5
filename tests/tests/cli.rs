//! The CLI contract: command groups, usage errors, `release info`.

use mirror_core::RegistryClient;
use mirror_testkit::TestRegistry;
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};

/// A green `cargo test` means the code of this tree passed: the binary the tests run is the
/// one cargo built for this run, newer than every source file it is built from (the lists cargo
/// keeps beside its outputs, see [`sources_of`]; test-only modules are not in them, so editing
/// one does not count as a stale binary).
#[test]
fn the_binary_under_test_is_built_from_this_tree() {
    let built = std::path::PathBuf::from(env!("CARGO_BIN_EXE_mirrorctl"));
    assert_eq!(mirror_testkit::cli::mirrorctl_path(), built);
    let built_at = std::fs::metadata(&built).unwrap().modified().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let mut crates = std::collections::BTreeSet::new();
    let mut sources = 0;
    for p in sources_of(&built, root) {
        let Ok(rel) = p.strip_prefix(root) else {
            continue;
        };
        if p.extension().is_none_or(|x| x != "rs") || !p.is_file() {
            continue;
        }
        sources += 1;
        crates.insert(rel.iter().next().unwrap().to_string_lossy().to_string());
        let changed = std::fs::metadata(&p).unwrap().modified().unwrap();
        assert!(
            changed <= built_at,
            "`{}` changed after `{}` was built",
            p.display(),
            built.display()
        );
    }
    assert!(
        sources > 20,
        "{sources} source files under {}",
        root.display()
    );
    for c in ["mirror-core", "mirror-tls", "mirror-net", "mirror-cli"] {
        assert!(
            crates.contains(c),
            "{c} is not among the binary's sources: {crates:?}"
        );
    }
}

/// The source files cargo recorded for `built`: `cargo build` writes them all to `built`.d,
/// but `cargo test` does not (on a fresh target there is none, and a later `cargo test` leaves
/// it stale), so also each crate's own list from `deps/`: the binary's (`deps/mirrorctl-<hash>.d`
/// beside the file `built` is a hard link to) and every build of the workspace's libraries
/// (`<crate>-<hash>.d` beside `lib<crate>-<hash>.rlib`, not the unit-test builds). Relative
/// paths are under `root`, where cargo runs rustc.
fn sources_of(built: &std::path::Path, root: &std::path::Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt as _;
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let deps = built.parent().unwrap().join("deps");
    let mut lists = vec![built.with_extension("d")];
    for entry in std::fs::read_dir(&deps).unwrap().filter_map(Result::ok) {
        let (path, name) = (
            entry.path(),
            entry.file_name().to_string_lossy().into_owned(),
        );
        if name.starts_with("mirrorctl-") && path.extension().is_none() && id(&path) == id(built) {
            lists.push(path.with_extension("d"));
        }
        let lib = ["mirror_core-", "mirror_tls-", "mirror_net-"]
            .into_iter()
            .find(|c| name.starts_with(&format!("lib{c}")) && name.ends_with(".rlib"));
        if let Some(c) = lib {
            let hash = &name[3 + c.len()..name.len() - ".rlib".len()];
            lists.push(deps.join(format!("{c}{hash}.d")));
        }
    }
    let mut sources = Vec::new();
    for list in lists {
        let Ok(text) = std::fs::read_to_string(&list) else {
            continue;
        };
        // The first line: `target: source source ...`.
        let line = text.lines().next().unwrap_or_default();
        let (_, files) = line.split_once(": ").unwrap_or_default();
        sources.extend(files.split_whitespace().map(|f| root.join(f)));
    }
    sources
}

#[test]
fn help_lists_every_command_group() {
    let out = mirrorctl(["--help"]).output().unwrap();
    assert!(out.status.success());
    let help = text(&out).0;
    for group in [
        "preflight",
        "tls",
        "trust",
        "registry",
        "pull-secret",
        "release",
        "install",
        "uninstall",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(group)),
            "`{group}` missing from --help:\n{help}"
        );
    }
    let out = mirrorctl(["release", "--help"]).output().unwrap();
    let help = text(&out).0;
    for cmd in ["mirror", "info", "extract", "graph"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(cmd)),
            "`release {cmd}` missing:\n{help}"
        );
    }
}

#[test]
fn every_group_is_built_and_unknown_commands_exit_2() {
    let help = text(&mirrorctl(["--help"]).output().unwrap()).0;
    assert!(!help.contains("not built yet"), "{help}");
    for group in [
        "preflight",
        "tls",
        "trust",
        "registry",
        "pull-secret",
        "release",
        "install",
        "uninstall",
    ] {
        let out = mirrorctl([group, "--help"]).output().unwrap();
        assert!(
            out.status.success(),
            "`mirrorctl {group} --help` failed: {}",
            text(&out).1
        );
        assert!(text(&out).0.contains("Usage: mirrorctl"), "{group}");
    }
    let out = mirrorctl(["no-such-command"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("unrecognized subcommand"));
}

#[test]
fn release_info_reports_components_and_deduplicated_size() {
    let reg = TestRegistry::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture::push(
        &FixtureSpec::tiny(),
        &RegistryClient::new(reg.client_options()).unwrap(),
        &reg.host,
    ));
    let out = mirrorctl([
        "release",
        "info",
        &f.release,
        "--insecure-registry",
        &reg.host,
        "--output",
        "json",
    ])
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let info: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(info["kind"], "ReleaseInfo");
    assert_eq!(info["version"], "4.14.1");
    assert_eq!(info["architecture"], "x86_64");
    assert_eq!(info["digest"], f.release_digest.to_string());
    assert_eq!(info["uniqueBlobs"], f.unique_blobs);
    assert_eq!(info["uniqueBytes"], f.unique_bytes);
    let comps = info["components"].as_array().unwrap();
    assert_eq!(comps.len(), f.components.len());
    for (got, want) in comps.iter().zip(&f.components) {
        assert_eq!(
            (got["name"].as_str(), got["digest"].as_str()),
            (Some(want.name.as_str()), Some(want.digest.as_str()))
        );
        assert_eq!(got["mediaType"], want.media_type);
    }
    let out = mirrorctl([
        "release",
        "info",
        &f.release,
        "--insecure-registry",
        &reg.host,
    ])
    .output()
    .unwrap();
    let stdout = text(&out).0;
    assert!(stdout.starts_with("Name:          4.14.1\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("Components:    {}\n", f.components.len())),
        "{stdout}"
    );
}

/// The leaf commands, from `--help` (`Commands:` sections), as words after `mirrorctl`.
fn leaf_commands(path: &[String]) -> Vec<Vec<String>> {
    let mut args = path.to_vec();
    args.push("--help".into());
    let help = text(&mirrorctl(&args).output().unwrap()).0;
    let subs: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    if subs.is_empty() {
        return vec![path.to_vec()];
    }
    subs.iter()
        .flat_map(|name| {
            let mut p = path.to_vec();
            p.push(name.clone());
            leaf_commands(&p)
        })
        .collect()
}

/// Every command, run by the real binary with only its required arguments, gets past its
/// argument parsing: every default (`--key-type rsa-4096`, `--output text`, the paths) is one
/// clap and the command accept. A command that would change this host at a default path
/// (`/opt/registry`, the trust store) also gets that one path in a temp dir, so the test is
/// safe anywhere; every other default stays. Failing for a reason after parsing (no password
/// on a closed stdin, no certificate in the temp dir) is fine; a usage error from clap, or a
/// panic, is not.
#[test]
fn every_command_runs_with_only_its_required_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let required: Vec<(&str, Vec<String>)> = vec![
        ("preflight", vec![]),
        ("tls generate", vec!["--dir".into(), t("certs")]),
        ("tls verify", vec![]),
        (
            "trust install",
            vec![
                "--registry".into(),
                "mirror.example.com:5000".into(),
                "--root".into(),
                t("trust"),
            ],
        ),
        (
            "trust remove",
            vec![
                "--registry".into(),
                "mirror.example.com:5000".into(),
                "--root".into(),
                t("trust"),
            ],
        ),
        (
            "registry user add",
            vec![
                "--username".into(),
                "mirror".into(),
                "--htpasswd".into(),
                t("htpasswd"),
            ],
        ),
        ("registry up", vec!["--root".into(), t("registry")]),
        ("registry status", vec!["--root".into(), t("registry")]),
        ("registry down", vec!["--root".into(), t("registry")]),
        ("registry logs", vec!["--root".into(), t("registry")]),
        (
            "pull-secret merge",
            vec![
                "--registry".into(),
                "mirror.example.com:5000".into(),
                "--username".into(),
                "mirror".into(),
            ],
        ),
        ("pull-secret check", vec![t("no-such-pull-secret")]),
        // Required references the library refuses before any network: the defaults of
        // every other flag are still parsed and used.
        (
            "release mirror",
            vec![
                "--from".into(),
                "NO/SUCH".into(),
                "--to".into(),
                "NO/SUCH".into(),
            ],
        ),
        ("release info", vec!["NO/SUCH".into()]),
        (
            "release extract",
            vec![
                "--command".into(),
                "openshift-install".into(),
                "--from".into(),
                "NO/SUCH".into(),
            ],
        ),
        // No channel and no config: refused before the default graph URL is asked.
        ("release graph", vec![]),
        ("install", vec![]),
        (
            "uninstall",
            vec![
                "--root".into(),
                t("registry"),
                "--trust-root".into(),
                t("trust"),
            ],
        ),
        (
            "mirror",
            vec![
                "--config".into(),
                t("no-such-imageset.yaml"),
                "--to".into(),
                "NO/SUCH".into(),
            ],
        ),
        ("bundle verify", vec![t("no-such-bundle")]),
        ("bundle info", vec![t("no-such-bundle")]),
        ("completions", vec!["bash".into()]),
        ("man", vec!["--dir".into(), t("man")]),
    ];
    let leaves: Vec<String> = leaf_commands(&[])
        .into_iter()
        .map(|l| l.join(" "))
        .collect();
    let listed: Vec<&str> = required.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        leaves, listed,
        "a command was added or removed: list it here"
    );
    for (command, args) in &required {
        let mut argv: Vec<String> = command.split(' ').map(str::to_string).collect();
        argv.extend(args.iter().cloned());
        let out = mirrorctl(&argv)
            .current_dir(tmp.path())
            .env("MIRRORCTL_SUPERVISOR", "process")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = text(&out).1;
        assert!(
            !stderr.contains("For more information, try '--help'") && !stderr.contains("panicked"),
            "`mirrorctl {}`: {stderr}",
            argv.join(" ")
        );
        assert!(
            out.status.code().is_some(),
            "`mirrorctl {}` was killed",
            argv.join(" ")
        );
    }
}

const SUBJECT: &str =
    "countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n";

/// `tls generate` with nothing but `--dir`: every default (`--key-type rsa-4096`, the
/// `./certificate` subject file) is accepted.
#[test]
fn tls_generate_runs_with_its_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("certificate"), SUBJECT).unwrap();
    let out = mirrorctl(["tls", "generate", "--dir", "./certs"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("created: "), "{stdout}");
    for f in ["ca.crt", "ca.key", "domain.crt", "domain.key"] {
        assert!(tmp.path().join("certs").join(f).is_file(), "{f}");
    }
}

/// A reader that goes away (`mirrorctl ... | head -1`) ends mirrorctl quietly, without a panic.
#[test]
fn closed_stdout_ends_quietly() {
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("certificate"), SUBJECT).unwrap();
    let cases: [&[&str]; 3] = [
        &["--help"],
        &["install", "--help"],
        &[
            "tls",
            "generate",
            "--dir",
            "./certs",
            "--hostname",
            "mirror.example.com",
            "--key-type",
            "ecdsa-p256",
            "--output",
            "json",
        ],
    ];
    for args in cases {
        let mut child = mirrorctl(args)
            .current_dir(tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// `pull-secret merge` writes to `--to FILE`; `--output FILE`, its old spelling, still works.
#[test]
fn pull_secret_merge_writes_to() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("pull-secret");
    std::fs::write(&input, r#"{"auths":{"quay.io":{"auth":"dXNlcjpwdw=="}}}"#).unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "mirror-pass\n").unwrap();
    for (flag, name) in [("--to", "a.json"), ("--output", "b.json")] {
        let dest = tmp.path().join(name);
        let out = mirrorctl([
            "pull-secret",
            "merge",
            "--registry",
            "mirror.example.com:5000",
            "--username",
            "admin",
        ])
        .arg("--pull-secret")
        .arg(&input)
        .arg("--password-file")
        .arg(&pw)
        .arg(flag)
        .arg(&dest)
        .output()
        .unwrap();
        assert!(out.status.success(), "{flag}: {}", text(&out).1);
        // No warning about the pull secret (it holds quay.io); the old spelling says what to use.
        let stderr = text(&out).1;
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("warning"))
            .collect();
        if flag == "--to" {
            assert!(warnings.is_empty(), "{stderr}");
        } else {
            assert_eq!(warnings.len(), 1, "{stderr}");
            assert!(
                warnings[0].contains("use") || warnings[0].contains("`--to FILE`"),
                "{stderr}"
            );
        }
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
        assert!(
            v["auths"]["mirror.example.com:5000"]["auth"].is_string(),
            "{v}"
        );
    }
    let help = text(
        &mirrorctl(["pull-secret", "merge", "--help"])
            .output()
            .unwrap(),
    )
    .0;
    assert!(help.contains("--to <FILE>"), "{help}");
    assert!(help.contains("--output <FORMAT>"), "{help}");
}

/// Every `--output json` report is versioned (`apiVersion`, `kind`), the commands that change
/// state included; each is one JSON document on stdout.
#[test]
fn every_json_report_has_api_version_and_kind() {
    let reg = TestRegistry::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture::push(
        &FixtureSpec::tiny(),
        &RegistryClient::new(reg.client_options()).unwrap(),
        &reg.host,
    ));
    let tmp = tempfile::tempdir().unwrap();
    let p = |rel: &str| tmp.path().join(rel).display().to_string();
    std::fs::write(p("certificate"), SUBJECT).unwrap();
    std::fs::write(p("pw"), "mirror-pass\n").unwrap();
    let graph =
        mirror_testkit::graph_server::graph(&[("4.14.1", &f.release, "stable-4.14")], &[], &[]);
    std::fs::write(p("graph.json"), graph.to_string()).unwrap();
    std::fs::write(
        p("pull-secret"),
        r#"{"auths":{"quay.io":{"auth":"dXNlcjpwdw=="}}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(p("trust/etc")).unwrap();
    std::fs::copy("/etc/os-release", p("trust/etc/os-release")).unwrap();
    let port = mirror_testkit::free_port().to_string();
    let root = p("registry");
    let certs = p("registry/certs");
    let htpasswd = p("registry/auth/htpasswd");
    let ca = p("registry/certs/ca.crt");
    let mirror_to = format!("{}/ocp4/openshift4", reg.host);
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("PreflightCheckList", v(&["preflight", "--list"])),
        (
            "CertificateOutcome",
            v(&[
                "tls",
                "generate",
                "--dir",
                &certs,
                "--hostname",
                "localhost",
                "--san",
                "127.0.0.1",
                "--certificate-file",
                &p("certificate"),
                "--key-type",
                "ecdsa-p256",
            ]),
        ),
        (
            "RegistryUser",
            v(&[
                "registry",
                "user",
                "add",
                "--username",
                "admin",
                "--password-file",
                &p("pw"),
                "--htpasswd",
                &htpasswd,
            ]),
        ),
        (
            "RegistryUp",
            v(&[
                "registry",
                "up",
                "--runtime",
                "process",
                "--supervisor",
                "process",
                "--root",
                &root,
                "--port",
                &port,
            ]),
        ),
        (
            "RegistryStatus",
            v(&[
                "registry",
                "status",
                "--root",
                &root,
                "--registry",
                &format!("localhost:{port}"),
            ]),
        ),
        (
            "TrustReport",
            v(&[
                "trust",
                "install",
                "--registry",
                "localhost:5000",
                "--ca",
                &ca,
                "--root",
                &p("trust"),
            ]),
        ),
        (
            "PullSecretMerge",
            v(&[
                "pull-secret",
                "merge",
                "--pull-secret",
                &p("pull-secret"),
                "--registry",
                "localhost:5000",
                "--username",
                "admin",
                "--password-file",
                &p("pw"),
                "--to",
                &p("merged.json"),
            ]),
        ),
        (
            "PullSecretCheck",
            v(&["pull-secret", "check", &p("merged.json")]),
        ),
        (
            "ReleaseInfo",
            v(&[
                "release",
                "info",
                &f.release,
                "--insecure-registry",
                &reg.host,
            ]),
        ),
        (
            "ReleaseMirrorReport",
            v(&[
                "release",
                "mirror",
                "--from",
                &f.release,
                "--to",
                &mirror_to,
                "--insecure-registry",
                &reg.host,
            ]),
        ),
        (
            "ReleaseExtractReport",
            v(&[
                "release",
                "extract",
                "--command",
                "openshift-install",
                "--from",
                &f.release,
                "--insecure-registry",
                &reg.host,
                "--to",
                &p("bin"),
            ]),
        ),
        (
            "ReleaseGraphReport",
            v(&[
                "release",
                "graph",
                "--channel",
                "stable-4.14",
                "--graph-url",
                &p("graph.json"),
            ]),
        ),
        (
            "ReleaseBundleReport",
            v(&[
                "release",
                "mirror",
                "--from",
                &f.release,
                "--to-dir",
                &p("bundle"),
                "--insecure-registry",
                &reg.host,
            ]),
        ),
        ("BundleVerifyReport", v(&["bundle", "verify", &p("bundle")])),
        ("BundleInfo", v(&["bundle", "info", &p("bundle")])),
        ("RegistryDown", v(&["registry", "down", "--root", &root])),
    ];
    let mut kinds = Vec::new();
    for (kind, args) in &cases {
        let out = mirrorctl(args)
            .args(["--output", "json"])
            .env("MIRRORCTL_SUPERVISOR", "process")
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "`{}`: not one JSON document ({e}): {stdout}{stderr}",
                args.join(" ")
            )
        });
        assert_eq!(
            v["apiVersion"],
            "mirrorctl.openshift.io/v1alpha1",
            "`{}`: {stdout}",
            args.join(" ")
        );
        assert_eq!(v["kind"], *kind, "`{}`: {stdout}", args.join(" "));
        kinds.push(*kind);
    }
    let _ = mirrorctl(["registry", "down", "--root", &root]).output();
    assert_eq!(kinds.len(), cases.len());
}

/// A pull secret with nothing in it (`{"auths":{}}`) is merged, with a warning naming the file:
/// the user's Red Hat pull secret is missing.
#[test]
fn pull_secret_merge_warns_about_an_empty_pull_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("pull-secret");
    std::fs::write(&input, r#"{"auths":{}}"#).unwrap();
    let dest = tmp.path().join("out.json");
    let out = mirrorctl([
        "pull-secret",
        "merge",
        "--registry",
        "mirror.example.com:5000",
        "--username",
        "admin",
    ])
    .arg("--pull-secret")
    .arg(&input)
    .arg("--to")
    .arg(&dest)
    .env("MIRROR_REGISTRY_PASSWORD", "mirror-pass")
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "warning: pull secret `{}` has no entries: the Red Hat pull secret is missing\nhint: download your pull secret from console.redhat.com/openshift/install/pull-secret and use that file\n",
            input.display()
        )
    );
    assert!(!stdout.contains("warning"), "{stdout}");
    assert!(dest.is_file());
}
