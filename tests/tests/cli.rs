//! The CLI contract: command groups, usage errors, `release info`.

use mirror_core::RegistryClient;
use mirror_testkit::TestRegistry;
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};

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
    for cmd in ["mirror", "info", "extract"] {
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
