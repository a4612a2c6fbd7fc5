//! Mirroring into a registry that uses bearer tokens (distribution's `auth: token` mode, as
//! Quay and Harbor): tokens per repository scope, two-scope tokens for cross-repository
//! mounts, and a clear error for a wrong password.

use mirror_core::{
    ClientOptions, RegistryClient,
    auth::{AuthFile, Credential},
};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::token_server::TokenServer;
use mirror_testkit::{RegistryOptions, TestRegistry, skopeo};

#[test]
fn mirror_into_a_token_auth_registry() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tokens = rt.block_on(TokenServer::start("mirror", "token-pw"));
    let source = TestRegistry::start();
    let mut target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        token: Some((tokens.realm.clone(), tokens.cert_pem.clone())),
        ..Default::default()
    });
    // The harness writes auth files from `credentials`; here they go to the token issuer.
    target.credentials = Some(("mirror".into(), "token-pw".into()));
    let f = rt.block_on(fixture::push(
        &FixtureSpec::tiny(),
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));

    // Anonymous callers get a token without access: the registry refuses them.
    let anon = RegistryClient::new(ClientOptions {
        ca_pems: target.ca_pem.iter().cloned().collect(),
        ..Default::default()
    })
    .unwrap();
    let err = rt
        .block_on(anon.get_manifest(&target.repo("ocp4/openshift4"), "x"))
        .unwrap_err();
    assert!(
        matches!(err, mirror_core::Error::Registry { status: 401, .. }),
        "{err}"
    );

    let to = format!("{}/ocp4/openshift4", target.host);
    let release_to = format!("{}/ocp4/release:4.14.1-x86_64", target.host);
    let auth = target.auth_file();
    let args = |auth: &std::path::Path| {
        let mut a: Vec<String> = [
            "release",
            "mirror",
            "--from",
            &f.release,
            "--to",
            &to,
            "--to-release-image",
            &release_to,
            "--insecure-registry",
            &source.host,
            "--output",
            "json",
            "--ca-file",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(target.ca_file().unwrap().display().to_string());
        a.push("-a".into());
        a.push(auth.display().to_string());
        a
    };
    let before = tokens.requests.lock().unwrap().len();
    let out = mirrorctl(args(&auth)).output().unwrap();
    let ours: Vec<Vec<String>> = tokens.requests.lock().unwrap()[before..].to_vec();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["blobsMounted"].as_u64().unwrap() >= 2, "{report}");
    // Concurrent requests that need the same token wait for one fetch: each scope once.
    let mut seen = std::collections::BTreeSet::new();
    for scopes in &ours {
        let mut key = scopes.clone();
        key.sort();
        assert!(seen.insert(key), "a token was fetched twice: {ours:?}");
    }
    for c in &f.components {
        skopeo::assert_digest(
            &target,
            &format!("{to}:4.14.1-x86_64-{}", c.name),
            &c.digest,
        );
    }
    skopeo::assert_digest(&target, &release_to, &f.release_digest);
    let requests = tokens.requests.lock().unwrap().clone();
    assert!(
        requests.iter().any(|scopes| scopes.len() == 2
            && scopes.contains(&"repository:ocp4/release:pull,push".to_string())
            && scopes.contains(&"repository:ocp4/openshift4:pull".to_string())),
        "no two-scope token was asked for the mount: {requests:?}"
    );

    // A wrong password: the token issuer refuses, and the error names the auth entry.
    let wrong = target.root().join("wrong.json");
    let cred = Credential {
        username: "mirror".into(),
        password: "nope".into(),
    };
    std::fs::write(
        &wrong,
        serde_json::json!({"auths": {target.host.clone(): {"auth": cred.to_auth_value()}}})
            .to_string(),
    )
    .unwrap();
    let out = mirrorctl(args(&wrong)).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("get token") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "hint: the credentials from entry `{}` of `{}` were refused",
            target.host,
            wrong.display()
        )),
        "{stderr}"
    );
    assert!(tokens.refused.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(AuthFile::load(&wrong).is_ok());
}
