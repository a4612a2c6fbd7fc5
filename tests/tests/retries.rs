//! One retry layer with honest counts, `Retry-After` honoured on streamed uploads, upload
//! sessions opened only when the source is ready and cancelled when abandoned, and no checks
//! an empty target cannot answer.

use std::time::{Duration, Instant};

use mirror_core::RegistryClient;
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fault_proxy::{Fault, FaultPlan, FaultProxy, Logged};
use mirror_testkit::fixture::{self, Fixture, FixtureSpec};
use mirror_testkit::runtime as rt;
use mirror_testkit::{TestRegistry, free_port};

/// A plain-HTTP source with the tiny fixture.
fn source_with_fixture(rt: &tokio::runtime::Runtime) -> (TestRegistry, Fixture) {
    let source = TestRegistry::start();
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    (source, f)
}

fn mirror_args(from: &str, to: &str, insecure: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["release", "mirror", "--from", from, "--to", to]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for h in insecure {
        a.push("--insecure-registry".into());
        a.push(h.to_string());
    }
    a
}

fn log_of(p: &FaultProxy) -> Vec<Logged> {
    p.log.lock().unwrap().clone()
}

#[test]
fn a_registry_that_is_down_fails_within_seconds_and_counts_the_attempts_made() {
    // Nothing listens: every connection is refused.
    let port = free_port();
    let image = format!("127.0.0.1:{port}/x/y:1");
    for (extra, tries) in [(vec![], 6), (vec!["--retry-times", "1"], 2)] {
        let start = Instant::now();
        let mut args = vec!["release", "info", &image, "--insecure-registry"];
        let host = format!("127.0.0.1:{port}");
        args.push(&host);
        args.extend(extra.iter().copied());
        let out = mirrorctl(&args).output().unwrap();
        let elapsed = start.elapsed();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stdout, "");
        assert!(
            stderr.contains(&format!("connection failed after {tries} tries")),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint: check the registry host and port"),
            "{stderr}"
        );
        assert_eq!(
            stderr.matches("warning: get manifest").count(),
            tries - 1,
            "one warning per retry: {stderr}"
        );
        // 6 attempts with backoff from 250 ms, doubling, jittered: 4 to 8 s of waiting.
        assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
    }
}

#[test]
fn every_attempt_reaches_the_registry_once_and_the_error_says_how_many() {
    let rt = rt();
    let upstream = TestRegistry::start();
    let proxy = rt.block_on(FaultProxy::start(
        &upstream.host,
        FaultPlan {
            every: 1,
            cycle: vec![Fault::ServerError],
            ..Default::default()
        },
    ));
    let image = format!("{}/x/y:1", proxy.host);
    let out = mirrorctl([
        "release",
        "info",
        &image,
        "--insecure-registry",
        &proxy.host,
        "--retry-times",
        "3",
    ])
    .output()
    .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("registry answered 500 UNKNOWN: injected by fault proxy (after 4 tries)"),
        "{stderr}"
    );
    // No loop inside another: exactly the attempts the error counts.
    assert_eq!(proxy.lines().len(), 4, "{:?}", proxy.lines());
}

#[test]
fn retry_after_is_honoured_on_a_streamed_upload_and_the_abandoned_session_is_cancelled() {
    let rt = rt();
    let (source, f) = source_with_fixture(&rt);
    let target = TestRegistry::start();
    // The first streamed blob upload (its PUT) is answered 429 with Retry-After: 2.
    let proxy = rt.block_on(FaultProxy::start(
        &target.host,
        FaultPlan {
            every: 1,
            cycle: vec![Fault::TooManyRequests],
            matching: Some("digest=sha256".into()),
            limit: Some(1),
            retry_after_secs: Some(2),
            ..Default::default()
        },
    ));
    let to = format!("{}/ocp4/openshift4", proxy.host);
    let mut args = mirror_args(&f.release, &to, &[&source.host, &proxy.host]);
    args.extend(["--max-per-registry".into(), "1".into()]);
    let out = mirrorctl(&args).output().unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: copy blob `") && stderr.contains("retrying in 2.0s"),
        "{stderr}"
    );
    let log = log_of(&proxy);
    let refused = log
        .iter()
        .position(|l| l.status == 429)
        .expect("the proxy answered 429 once");
    // The session the refused PUT was for is cancelled at once...
    assert!(
        log[refused + 1].line.starts_with("DELETE ")
            && log[refused + 1].line.contains("/blobs/uploads/"),
        "{log:#?}"
    );
    // ...and the next attempt waits for Retry-After.
    let next = log[refused + 2..]
        .iter()
        .find(|l| l.line.starts_with("POST ") || l.line.starts_with("PUT "))
        .expect("the upload was attempted again");
    let waited = next.at - log[refused].at;
    assert!(waited >= Duration::from_millis(1900), "waited {waited:?}");
    assert_eq!(proxy.faults.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_failed_put_cancels_its_session_and_a_failed_source_read_opens_none() {
    let rt = rt();
    let upstream_source = TestRegistry::start();
    let target = TestRegistry::start();
    // The source fails every 3rd blob read, the target every 4th blob PUT (a few each).
    let src_proxy = rt.block_on(FaultProxy::start(
        &upstream_source.host,
        FaultPlan::default(),
    ));
    let spec = FixtureSpec {
        reference_host: Some(src_proxy.host.clone()),
        ..FixtureSpec::tiny()
    };
    let f = rt.block_on(fixture::push(
        &spec,
        &RegistryClient::new(upstream_source.client_options()).unwrap(),
        &upstream_source.host,
    ));
    src_proxy.set_plan(FaultPlan {
        every: 3,
        cycle: vec![Fault::ServerError],
        limit: Some(4),
        matching: Some("GET /v2/openshift-release-dev/ocp-v4.0-art-dev/blobs/".into()),
        ..Default::default()
    });
    let dst_proxy = rt.block_on(FaultProxy::start(
        &target.host,
        FaultPlan {
            every: 4,
            cycle: vec![Fault::ServerError],
            limit: Some(3),
            matching: Some("PUT /v2/ocp4/openshift4/blobs/uploads/".into()),
            ..Default::default()
        },
    ));
    let from = f.release.replace(&upstream_source.host, &src_proxy.host);
    let to = format!("{}/ocp4/openshift4", dst_proxy.host);
    let mut args = mirror_args(&from, &to, &[&src_proxy.host, &dst_proxy.host]);
    args.extend(["--output".into(), "json".into()]);
    let out = mirrorctl(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let lines = dst_proxy.lines();
    let sessions = lines
        .iter()
        .filter(|l| {
            l.starts_with("POST ") && l.contains("/blobs/uploads/") && !l.contains("mount=")
        })
        .count();
    let puts = lines
        .iter()
        .filter(|l| l.starts_with("PUT ") && l.contains("/blobs/uploads/"))
        .count();
    let deletes = lines
        .iter()
        .filter(|l| l.starts_with("DELETE ") && l.contains("/blobs/uploads/"))
        .count();
    let failed_puts = dst_proxy.faults.load(std::sync::atomic::Ordering::SeqCst);
    assert!(failed_puts >= 2, "{failed_puts} faults");
    // Each session was either completed or cancelled; none was opened for a source read
    // that failed (those fail before any session is asked for).
    assert_eq!(sessions, puts, "{lines:#?}");
    assert_eq!(deletes, failed_puts, "{lines:#?}");
    assert_eq!(
        report["blobsCopied"].as_u64().unwrap() as usize,
        puts - failed_puts,
        "{report}"
    );
    assert!(src_proxy.faults.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    mirror_testkit::skopeo::assert_digest(
        &target,
        &format!("{}/ocp4/openshift4:{}-x86_64", target.host, f.version),
        &f.release_digest,
    );
}

#[test]
fn an_empty_target_gets_no_checks_it_cannot_answer_and_a_rerun_checks_each_tag_once() {
    let rt = rt();
    let (source, f) = source_with_fixture(&rt);
    let target = TestRegistry::start();
    let proxy = rt.block_on(FaultProxy::start(&target.host, FaultPlan::default()));
    let to = format!("{}/ocp4/openshift4", proxy.host);
    let args = mirror_args(&f.release, &to, &[&source.host, &proxy.host]);
    let out = mirrorctl(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let lines = proxy.lines();
    let heads: Vec<&String> = lines.iter().filter(|l| l.starts_with("HEAD ")).collect();
    // The tag list said the repository does not exist: no HEAD of a blob or manifest there.
    assert!(heads.is_empty(), "{heads:#?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("GET ") && l.contains("/tags/list"))
            .count(),
        1,
        "{lines:#?}"
    );

    let before = proxy.lines().len();
    let out = mirrorctl(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let rerun: Vec<String> = proxy.lines()[before..].to_vec();
    let images = f.components.len() + 1;
    // One tag list, one HEAD per image, nothing else written or read at the target.
    assert_eq!(
        rerun.iter().filter(|l| l.starts_with("HEAD ")).count(),
        images,
        "{rerun:#?}"
    );
    assert!(
        rerun
            .iter()
            .all(|l| l.starts_with("HEAD ") || l.contains("/tags/list")),
        "{rerun:#?}"
    );
}
