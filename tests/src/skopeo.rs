//! skopeo, the independent client that checks what landed.

use std::process::Command;

use mirror_core::Digest;

use crate::registry::TestRegistry;
use crate::tools::require_tool;

fn base(reg: &TestRegistry, verb: &str) -> Command {
    let mut c = Command::new(require_tool("skopeo"));
    c.arg(verb);
    if reg.credentials.is_some() {
        c.arg("--authfile").arg(reg.auth_file());
    }
    if let Some(ca) = reg.ca_file() {
        let dir = reg.root().join("skopeo-certs");
        std::fs::create_dir_all(&dir).expect("cert dir");
        std::fs::copy(ca, dir.join("ca.crt")).expect("copy ca");
        c.arg("--cert-dir").arg(dir);
    } else {
        c.arg("--tls-verify=false");
    }
    c
}

/// `skopeo inspect --raw docker://<image>`: the manifest bytes exactly as served.
pub fn inspect_raw(reg: &TestRegistry, image: &str) -> Result<Vec<u8>, String> {
    let out = base(reg, "inspect")
        .arg("--raw")
        .arg(format!("docker://{image}"))
        .output()
        .expect("run skopeo");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(out.stdout)
}

/// The digest of the manifest skopeo reads for `image`.
pub fn manifest_digest(reg: &TestRegistry, image: &str) -> Result<Digest, String> {
    inspect_raw(reg, image).map(|b| Digest::of(&b))
}

/// `skopeo list-tags`: the tags of a repository, sorted. distribution answers 404 for the tag
/// list of a repository that holds only untagged manifests; that is an empty list here.
pub fn list_tags(reg: &TestRegistry, repo: &str) -> Result<Vec<String>, String> {
    let out = base(reg, "list-tags")
        .arg(format!("docker://{}/{repo}", reg.host))
        .output()
        .expect("run skopeo");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if err.contains("invalid status code from registry 404") {
            return Ok(Vec::new());
        }
        return Err(err);
    }
    #[derive(serde::Deserialize)]
    struct Tags {
        #[serde(rename = "Tags")]
        tags: Vec<String>,
    }
    let mut t: Tags = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    t.tags.sort();
    Ok(t.tags)
}

/// Asserts that `image` on `reg` has exactly `expected` as its manifest digest, read by skopeo.
pub fn assert_digest(reg: &TestRegistry, image: &str, expected: &Digest) {
    match manifest_digest(reg, image) {
        Ok(d) => assert_eq!(
            &d, expected,
            "skopeo reads a different manifest at `{image}`"
        ),
        Err(e) => panic!("skopeo cannot read `{image}`: {e}"),
    }
}

/// A docker-archive as the connected side writes it for a disconnected host (`skopeo copy
/// docker://... docker-archive:DIR/registry.tar:docker.io/library/registry:2`), of a fixture
/// image pushed to a registry started for it; with that image's config digest as the
/// registry serves it (the image ID podman gives it after `podman load`).
pub fn docker_archive(dir: &std::path::Path) -> (std::path::PathBuf, Digest) {
    let source = TestRegistry::start();
    let rt = crate::runtime();
    let client = mirror_core::RegistryClient::new(source.client_options()).expect("client");
    let f = rt.block_on(crate::fixture::push(
        &crate::fixture::FixtureSpec::tiny(),
        &client,
        &source.host,
    ));
    let c = f
        .components
        .iter()
        .find(|c| c.children.is_empty())
        .expect("a single-image component");
    let image = format!("{}@{}", f.component_repo, c.digest);
    let raw = inspect_raw(&source, &image).expect("skopeo inspect");
    let manifest: serde_json::Value = serde_json::from_slice(&raw).expect("manifest JSON");
    let config = Digest::parse(
        manifest["config"]["digest"]
            .as_str()
            .expect("config digest"),
    )
    .expect("config digest");
    let archive = dir.join("registry.tar");
    let out = Command::new(require_tool("skopeo"))
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{image}"))
        .arg(format!(
            "docker-archive:{}:docker.io/library/registry:2",
            archive.display()
        ))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (archive, config)
}

/// Every component tag (`<version>-x86_64-<name>`) and the release tag of `f` in `repo` of
/// `reg` carry the source digests, read by skopeo.
pub fn assert_release(reg: &TestRegistry, repo: &str, f: &crate::fixture::Fixture) {
    for c in &f.components {
        assert_digest(
            reg,
            &format!("{repo}:{}-x86_64-{}", f.version, c.name),
            &c.digest,
        );
    }
    assert_digest(
        reg,
        &format!("{repo}:{}-x86_64", f.version),
        &f.release_digest,
    );
}
