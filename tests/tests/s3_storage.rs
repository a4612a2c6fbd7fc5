//! The registry on S3 object storage (issue 15), against a real S3 API server (moto) and the
//! Debian `docker-registry` 2.8: the storage check, several replicas on one bucket, refusals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mirror_core::{
    Digest, RegistryClient,
    storage::{S3Storage, check_s3},
};
use mirror_testkit::cli::{generate_localhost_certs, mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::moto::{BUCKET, Moto};
use mirror_testkit::{RegistryOptions, TestRegistry, free_port, require_tool};

fn storage(m: &Moto, bucket: &str, creds: &std::path::Path) -> S3Storage {
    S3Storage::new(&m.endpoint, bucket, None, Some("/mirror"), creds, true).unwrap()
}

#[test]
fn the_storage_check_passes_on_a_good_bucket_and_names_each_problem() {
    let m = Moto::start_with_auth();
    let tmp = tempfile::tempdir().unwrap();
    let good = m.credentials_file(tmp.path());
    let rt = mirror_testkit::runtime();
    let r = rt.block_on(check_s3(&storage(&m, BUCKET, &good))).unwrap();
    assert!(r.probe_key.starts_with("mirror/mirrorctl-check-"), "{r:?}");
    let wrong_secret = tmp.path().join("wrong");
    std::fs::write(
        &wrong_secret,
        format!("{}\nnot-the-secret\n", m.access_key_id),
    )
    .unwrap();
    let unknown = tmp.path().join("unknown");
    std::fs::write(&unknown, "AKIANOTKNOWN\nx\n").unwrap();
    let dead = format!("http://127.0.0.1:{}", mirror_testkit::free_port());
    let cases = [
        (
            storage(&m, BUCKET, &wrong_secret),
            "answered 403 SignatureDoesNotMatch",
            format!("check the access key in `{}`", wrong_secret.display()),
        ),
        (
            storage(&m, BUCKET, &unknown),
            "answered 403 InvalidAccessKeyId",
            format!("check the access key in `{}`", unknown.display()),
        ),
        (
            storage(&m, "no-such-bucket", &good),
            "answered 404 NoSuchBucket",
            "create the bucket `no-such-bucket` first".to_string(),
        ),
        (
            S3Storage::new(&dead, BUCKET, None, None, &good, true).unwrap(),
            "list the bucket: cannot connect: ",
            format!("check the endpoint URL `{dead}`"),
        ),
    ];
    for (s, want, hint) in cases {
        let err = rt.block_on(check_s3(&s)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "object storage `{}`, bucket `{}`: list the bucket: ",
                s.endpoint_str(),
                s.bucket
            )),
            "{msg}"
        );
        assert!(msg.contains(want), "{msg}");
        let h = err.hint().unwrap().to_string();
        assert!(h.starts_with(&hint), "{h}");
        assert!(!msg.contains("not-the-secret") && !h.contains("not-the-secret"));
    }
}

const SUBJECT: &str =
    "countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n";
const USER: &str = "admin";
const PASSWORD: &str = "s3-replica-pass";
/// A secret key no output may show (moto without auth accepts any key).
const SECRET_KEY: &str = "Zq9-never-print-this-S3-secret";

/// A registry root with certificates for `localhost`/`127.0.0.1` and the user [`USER`];
/// returns the password file. Replicas get copies (they share certificates and htpasswd).
fn first_root(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root).unwrap();
    let subject = root.with_file_name("certificate");
    std::fs::write(&subject, SUBJECT).unwrap();
    generate_localhost_certs(&root.join("certs"), &subject);
    let pw = root.with_file_name("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let out = mirrorctl([
        "registry",
        "user",
        "add",
        "--username",
        USER,
        "--password-file",
    ])
    .arg(&pw)
    .arg("--htpasswd")
    .arg(root.join("auth/htpasswd"))
    .output()
    .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    pw
}

/// Copies what replicas share from `first`: certificates and `auth/` (htpasswd, and the
/// http secret when there is one).
fn replica_root(first: &Path, root: &Path) {
    for f in [
        "certs/ca.crt",
        "certs/domain.crt",
        "certs/domain.key",
        "auth/htpasswd",
        "auth/http-secret",
    ] {
        if first.join(f).exists() {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::copy(first.join(f), root.join(f)).unwrap();
        }
    }
}

/// Runs `registry down` on drop so a failed test leaves no registry behind.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = mirrorctl(["registry", "down", "--root"])
            .arg(&self.0)
            .output();
    }
}

/// The required `--storage s3` flags for `bucket` at `endpoint`.
fn s3_flags(endpoint: &str, bucket: &str, creds: &Path) -> Vec<String> {
    vec![
        "--storage".into(),
        "s3".into(),
        "--s3-endpoint".into(),
        endpoint.into(),
        "--s3-bucket".into(),
        bucket.into(),
        "--s3-credentials-file".into(),
        creds.display().to_string(),
    ]
}

fn up(root: &Path, port: u16, extra: &[String]) -> Output {
    mirrorctl([
        "registry",
        "up",
        "--runtime",
        "process",
        "--supervisor",
        "process",
    ])
    .arg("--port")
    .arg(port.to_string())
    .arg("--root")
    .arg(root)
    .args(extra)
    .env("MIRRORCTL_SUPERVISOR", "process")
    // Distribution 2.8 panics at start with this set; `up` must start it without.
    .env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    .output()
    .unwrap()
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn pid_of(root: &Path) -> u32 {
    std::fs::read_to_string(root.join("registry.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A client that speaks to the replicas directly (TLS with our CA), for the upload protocol
/// steps no command exposes.
fn http(ca: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_merge([ca])
        .build()
        .unwrap()
}

/// The same upload location on another replica.
fn on(location: &str, port: u16) -> String {
    let mut u = reqwest::Url::parse(location).unwrap();
    u.set_port(Some(port)).unwrap();
    u.to_string()
}

/// Opens an upload on replica `port` and sends `chunk` to it; returns the next location.
async fn begin_upload(c: &reqwest::Client, port: u16, repo: &str, chunk: Vec<u8>) -> String {
    let r = c
        .post(format!("https://127.0.0.1:{port}/v2/{repo}/blobs/uploads/"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let loc = location(&r, port);
    patch(c, &loc, chunk, 0).await
}

fn location(r: &reqwest::Response, port: u16) -> String {
    let loc = r.headers()["location"].to_str().unwrap();
    reqwest::Url::parse(&format!("https://127.0.0.1:{port}/"))
        .unwrap()
        .join(loc)
        .unwrap()
        .to_string()
}

/// PATCHes `chunk` at `offset` to `loc`; returns the next location (on the same replica).
async fn patch(c: &reqwest::Client, loc: &str, chunk: Vec<u8>, offset: usize) -> String {
    let port = reqwest::Url::parse(loc).unwrap().port().unwrap();
    let end = offset + chunk.len() - 1;
    let r = c
        .patch(loc)
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", format!("{offset}-{end}"))
        .body(chunk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    location(&r, port)
}

/// PUTs the end of an upload; returns the status and body.
async fn finish(c: &reqwest::Client, loc: &str, digest: &Digest) -> (u16, String) {
    let mut u = reqwest::Url::parse(loc).unwrap();
    u.query_pairs_mut().append_pair("digest", digest.as_str());
    let r = c
        .put(u)
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// `skopeo SUBCOMMAND` reading through a replica with our CA and the auth file.
fn skopeo_from(verb: &str, certs: &Path, auth: &Path) -> Command {
    let mut c = Command::new(require_tool("skopeo"));
    c.arg(verb);
    match verb {
        "copy" => {
            c.arg("--src-cert-dir")
                .arg(certs)
                .arg("--src-authfile")
                .arg(auth);
        }
        _ => {
            c.arg("--cert-dir").arg(certs).arg("--authfile").arg(auth);
        }
    }
    c
}

/// Presigned GETs moto served (the clients that followed a redirect to the store).
fn presigned_gets(m: &Moto) -> usize {
    m.log()
        .lines()
        .filter(|l| l.contains("\"GET ") && l.contains("X-Amz-Signature="))
        .count()
}

#[test]
fn two_replicas_on_one_bucket_serve_one_mirror_and_finish_each_others_uploads() {
    require_tool("docker-registry");
    let m = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let creds = tmp.path().join("s3-credentials");
    std::fs::write(&creds, format!("{}\n{SECRET_KEY}\n", m.access_key_id)).unwrap();
    let flags = s3_flags(&m.endpoint, BUCKET, &creds);
    let (a, b, c, d) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
        tmp.path().join("d"),
    );
    let pw = first_root(&a);
    let (pa, pb, pc, pd) = (free_port(), free_port(), free_port(), free_port());
    let mut outputs = Vec::new();

    // Replica A with only the required flags: the secret is made in <root>/auth/http-secret.
    let out = up(&a, pa, &flags);
    let _down_a = Down(a.clone());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("storage: s3 bucket `mirror` at {} (region us-east-1, root /, blob downloads redirected to the store) (config for registry 2.8, from `", m.endpoint)),
        "{stdout}"
    );
    let secret_file = a.join("auth/http-secret");
    assert!(
        stdout.contains(&format!(
            "http secret: {} (created; give every replica this file)",
            secret_file.display()
        )),
        "{stdout}"
    );
    outputs.push(stdout + &stderr);
    let http_secret = std::fs::read_to_string(&secret_file)
        .unwrap()
        .trim()
        .to_string();
    for f in [
        secret_file.clone(),
        a.join("config.yml"),
        a.join("registry-state.json"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let config = std::fs::read_to_string(a.join("config.yml")).unwrap();
    assert!(
        config.contains(&format!("    regionendpoint: \"{}\"\n", m.endpoint)),
        "{config}"
    );
    assert!(
        !config.contains("forcepathstyle"),
        "2.8 has no such key: {config}"
    );
    assert!(
        config.contains("  redirect:\n    disable: false\n"),
        "{config}"
    );

    // B shares A's auth/ (htpasswd and secret): the recipe for replicas. C has another secret.
    replica_root(&a, &b);
    let out = up(&b, pb, &flags);
    let _down_b = Down(b.clone());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("(kept)"), "{stdout}");
    outputs.push(stdout + &stderr);
    replica_root(&a, &c);
    let other = tmp.path().join("other-secret");
    let mut c_flags = flags.clone();
    c_flags.extend(["--http-secret-file".into(), other.display().to_string()]);
    let out = up(&c, pc, &c_flags);
    let _down_c = Down(c.clone());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    outputs.push(format!("{:?}", text(&out)));
    let other_secret = std::fs::read_to_string(&other).unwrap().trim().to_string();
    assert_ne!(other_secret, http_secret);
    // D proxies blob downloads instead of redirecting.
    replica_root(&a, &d);
    let mut d_flags = flags.clone();
    d_flags.push("--s3-no-redirect".into());
    let out = up(&d, pd, &d_flags);
    let _down_d = Down(d.clone());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    outputs.push(format!("{:?}", text(&out)));
    assert!(
        std::fs::read_to_string(d.join("config.yml"))
            .unwrap()
            .contains("  redirect:\n    disable: true\n")
    );

    // No secret on any registry's command line; AWS_CA_BUNDLE kept out of its environment.
    for root in [&a, &b, &c, &d] {
        let pid = pid_of(root);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        for s in [SECRET_KEY, &http_secret, &other_secret] {
            assert!(!cmdline.contains(s), "pid {pid}: {cmdline}");
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(!String::from_utf8_lossy(&environ).contains("AWS_CA_BUNDLE="));
    }

    // Mirror the release into A.
    let rt = mirror_testkit::runtime();
    let source = TestRegistry::start_with(RegistryOptions {
        tls: true,
        ..Default::default()
    });
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let cred = mirror_core::auth::Credential {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let mut auths = serde_json::Map::new();
    for p in [pa, pb, pc, pd] {
        auths.insert(
            format!("127.0.0.1:{p}"),
            serde_json::json!({ "auth": cred.to_auth_value() }),
        );
    }
    let auth = tmp.path().join("auth.json");
    std::fs::write(&auth, serde_json::json!({ "auths": auths }).to_string()).unwrap();
    let to = format!("127.0.0.1:{pa}/ocp4/openshift4");
    let out = mirrorctl(["release", "mirror", "--from", &f.release, "--to", &to, "-a"])
        .arg(&auth)
        .arg("--ca-file")
        .arg(a.join("certs/ca.crt"))
        .arg("--ca-file")
        .arg(source.ca_file().unwrap())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    outputs.push(stdout + &stderr);
    // The registry's tree, at the bucket's root (no --s3-root).
    let keys = m.keys(BUCKET);
    assert!(
        keys.iter()
            .any(|k| k.starts_with("docker/registry/v2/blobs/sha256/")),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| k.starts_with("docker/registry/v2/")),
        "{keys:?}"
    );

    // Every image through B, read by skopeo: manifests by digest, and blobs copied (they come
    // from the store by redirect).
    let certs = tmp.path().join("skopeo-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(a.join("certs/ca.crt"), certs.join("ca.crt")).unwrap();
    let before = presigned_gets(&m);
    let at_b = format!("127.0.0.1:{pb}/ocp4/openshift4");
    let mut images: Vec<(String, Digest)> = f
        .components
        .iter()
        .map(|c| {
            (
                format!("{at_b}:{}-x86_64-{}", f.version, c.name),
                c.digest.clone(),
            )
        })
        .collect();
    images.push((
        format!("{at_b}:{}-x86_64", f.version),
        f.release_digest.clone(),
    ));
    for (i, (image, digest)) in images.iter().enumerate() {
        let out = skopeo_from("inspect", &certs, &auth)
            .arg("--raw")
            .arg(format!("docker://{image}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(&Digest::of(&out.stdout), digest, "{image}");
        let dir = tmp.path().join(format!("copy-{i}"));
        let out = skopeo_from("copy", &certs, &auth)
            .args(["--all", "--preserve-digests"])
            .arg(format!("docker://{image}"))
            .arg(format!("dir:{}", dir.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        presigned_gets(&m) > before,
        "no blob was fetched from the store by redirect"
    );
    // Through D the registry serves the bytes itself: no new presigned GET.
    let before = presigned_gets(&m);
    let (image, _) = &images[images.len() - 1];
    let image = image.replace(&format!(":{pb}/"), &format!(":{pd}/"));
    let out = skopeo_from("copy", &certs, &auth)
        .args(["--all", "--preserve-digests"])
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", tmp.path().join("copy-d").display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(presigned_gets(&m), before, "D redirected a download");

    // An upload begun on A finishes on B (12 MiB: S3 multipart parts on both sides).
    let c_http = http(&a.join("certs/ca.crt"));
    let blob: Vec<u8> = (0..12u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let digest = Digest::of(&blob);
    let half = blob.len() / 2;
    let repo = "ocp4/upload-test";
    let (status, body) = rt.block_on(async {
        let loc = begin_upload(&c_http, pa, repo, blob[..half].to_vec()).await;
        let loc = patch(&c_http, &on(&loc, pb), blob[half..].to_vec(), half).await;
        finish(&c_http, &loc, &digest).await
    });
    assert_eq!(status, 201, "{body}");
    let got = rt.block_on(async {
        let r = c_http
            .get(format!("https://127.0.0.1:{pa}/v2/{repo}/blobs/{digest}"))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap()
    });
    assert_eq!(Digest::of(&got), digest);
    // With another secret, C cannot take it over.
    let (status, body) = rt.block_on(async {
        let loc = begin_upload(&c_http, pa, repo, b"hello".to_vec()).await;
        finish(&c_http, &on(&loc, pc), &Digest::of(b"hello")).await
    });
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("BLOB_UPLOAD_INVALID"), "{body}");

    // status shows and checks the storage.
    let out = mirrorctl(["registry", "status", "--username", USER, "--password-file"])
        .arg(&pw)
        .arg("--registry")
        .arg(format!("127.0.0.1:{pb}"))
        .arg("--root")
        .arg(&b)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("\nstorage:   s3 bucket `mirror` at "),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    storage  s3 bucket `mirror` at ")
            && stdout.contains("a test object was written and removed"),
        "{stdout}"
    );
    outputs.push(stdout + &stderr);

    // No secret in any output or log.
    for root in [&a, &b, &c, &d] {
        outputs.push(std::fs::read_to_string(root.join("registry.log")).unwrap());
    }
    for o in &outputs {
        for s in [SECRET_KEY, &http_secret, &other_secret] {
            assert!(!o.contains(s), "a secret was printed: {o}");
        }
    }
}

#[test]
fn wrong_credentials_a_missing_bucket_and_an_unreachable_endpoint_are_refused_before_anything_starts()
 {
    require_tool("docker-registry");
    let m = Moto::start_with_auth();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    first_root(&root);
    let good = m.credentials_file(tmp.path());
    let wrong = tmp.path().join("wrong-credentials");
    std::fs::write(
        &wrong,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {SECRET_KEY}\n",
            m.access_key_id
        ),
    )
    .unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let others: Vec<String> = [
        "os", "disk", "memory", "cpu", "cidr", "port", "hostname", "tools", "upstream",
    ]
    .iter()
    .flat_map(|c| ["--skip".to_string(), c.to_string()])
    .collect();
    let preflight = |flags: &[String]| {
        mirrorctl(["preflight", "--output", "json", "--root"])
            .arg(&root)
            .args(&others)
            .args(flags)
            .output()
            .unwrap()
    };
    // The right key passes, so each refusal below is about its one fault.
    let out = preflight(&s3_flags(&m.endpoint, BUCKET, &good));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let cases = [
        (
            s3_flags(&m.endpoint, BUCKET, &wrong),
            format!("object storage `{}`, bucket `mirror`: list the bucket: answered 403 SignatureDoesNotMatch: ", m.endpoint),
            format!("check the access key in `{}` (`--s3-credentials-file`)", wrong.display()),
        ),
        (
            s3_flags(&m.endpoint, "no-such-bucket", &good),
            format!("object storage `{}`, bucket `no-such-bucket`: list the bucket: answered 404 NoSuchBucket: ", m.endpoint),
            "create the bucket `no-such-bucket` first (the registry never creates it), or fix `--s3-bucket`".to_string(),
        ),
        (
            s3_flags(&dead, BUCKET, &good),
            format!("object storage `{dead}`, bucket `mirror`: list the bucket: cannot connect: "),
            format!("check `--s3-endpoint {dead}`"),
        ),
    ];
    for (flags, message, hint) in cases {
        let out = preflight(&flags);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "storage")
            .unwrap()
            .clone();
        assert_eq!(check["status"], "fail", "{check}");
        assert!(
            check["detail"].as_str().unwrap().starts_with(&message),
            "{check}"
        );

        let port = free_port();
        let out = up(&root, port, &flags);
        let _down = Down(root.clone());
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert_eq!(stdout, "");
        let mut lines = stderr.lines();
        let first = lines.next().unwrap();
        assert!(first.starts_with(&format!("error: {message}")), "{stderr}");
        assert!(
            lines.next().unwrap().starts_with(&format!("hint: {hint}")),
            "{stderr}"
        );
        for f in [
            "config.yml",
            "registry.pid",
            "registry-state.json",
            "auth/http-secret",
        ] {
            assert!(!root.join(f).exists(), "{f} was written");
        }
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(!stderr.contains(SECRET_KEY) && !stdout.contains(SECRET_KEY));
    }
}

/// An install directory: the script's certificate file, a password, a pull secret and a
/// trust root; returns the install arguments (without storage) for `release` from `source`.
fn install_env(dir: &Path, release: &str, source: &str, port: u16) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(dir.join("certificate"), SUBJECT).unwrap();
    std::fs::write(dir.join("password"), "s3cret-Mirror-pw\n").unwrap();
    std::fs::set_permissions(dir.join("password"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let quay = mirror_core::auth::Credential {
        username: "rh-user".into(),
        password: "rh-token".into(),
    };
    std::fs::write(
        dir.join("pull-secret"),
        serde_json::json!({"auths": {"quay.io": {"auth": quay.to_auth_value(), "email": "me@example.com"}}}).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("trust/etc")).unwrap();
    std::fs::copy("/etc/os-release", dir.join("trust/etc/os-release")).unwrap();
    let mut v: Vec<String> = [
        "install",
        "--email",
        "admin@example.com",
        "--username",
        "mirror",
        "--release",
        release,
        "--hostname",
        "localhost",
        "--runtime",
        "process",
        "--insecure-registry",
        source,
        "--min-free",
        "1MiB",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(["--port".into(), port.to_string()]);
    for (flag, path) in [
        ("--password-file", "password"),
        ("--pull-secret", "pull-secret"),
        ("--root", "registry"),
        ("--certificate-file", "certificate"),
        ("--output-dir", "out"),
        ("--trust-root", "trust"),
        ("--config", "install.yaml"),
    ] {
        v.push(flag.into());
        v.push(dir.join(path).display().to_string());
    }
    v
}

/// `install.yaml` with the storage settings.
fn install_config(dir: &Path, endpoint: &str, bucket: &str, creds: &Path) {
    std::fs::write(
        dir.join("install.yaml"),
        format!(
            "storage: s3\ns3:\n  endpoint: {endpoint}\n  bucket: {bucket}\n  root: /ocp\n  credentialsFile: {}\n",
            creds.display()
        ),
    )
    .unwrap();
}

#[test]
fn install_takes_the_storage_from_its_config_file_and_checks_it_before_any_change() {
    require_tool("docker-registry");
    let m = Moto::start();
    let rt = mirror_testkit::runtime();
    let source = TestRegistry::start();
    let f = rt.block_on(fixture::push(
        &FixtureSpec::tiny(),
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    let tmp = tempfile::tempdir().unwrap();
    let creds = tmp.path().join("s3-credentials");
    std::fs::write(
        &creds,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {SECRET_KEY}\n",
            m.access_key_id
        ),
    )
    .unwrap();

    // A bucket that does not exist stops the install at preflight, before anything is made.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let args = install_env(&bad, &f.release, &source.host, free_port());
    install_config(&bad, &m.endpoint, "missing-bucket", &creds);
    let out = mirrorctl(&args)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("storage: object storage `{}`, bucket `missing-bucket`: list the bucket: answered 404 NoSuchBucket", m.endpoint)),
        "{stderr}"
    );
    assert!(
        !bad.join("registry").exists() && !bad.join("out").exists(),
        "{stderr}"
    );

    // The right bucket: the whole install, the mirror in the bucket under `root`.
    let good = tmp.path().join("good");
    std::fs::create_dir_all(&good).unwrap();
    let port = free_port();
    let args = install_env(&good, &f.release, &source.host, port);
    install_config(&good, &m.endpoint, BUCKET, &creds);
    let out = mirrorctl(&args)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .output()
        .unwrap();
    let _down = Down(good.join("registry"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "Registry:   localhost:{port} (data in bucket `mirror` at {})",
            m.endpoint
        )),
        "{stdout}"
    );
    for f in [
        "registry/config.yml",
        "registry/registry-state.json",
        "registry/auth/http-secret",
    ] {
        assert_eq!(mode(&good.join(f)), 0o600, "{f}");
    }
    let keys = m.keys(BUCKET);
    assert!(
        keys.iter()
            .any(|k| k.starts_with("ocp/docker/registry/v2/blobs/sha256/")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .all(|k| k.starts_with("ocp/docker/registry/v2/")),
        "{keys:?}"
    );
    assert!(!stdout.contains(SECRET_KEY) && !stderr.contains(SECRET_KEY));
    let log = std::fs::read_to_string(good.join("registry/registry.log")).unwrap();
    assert!(!log.contains(SECRET_KEY));
}
