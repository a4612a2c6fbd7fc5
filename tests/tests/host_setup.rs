//! Host setup end to end with real components: certificates checked by `openssl`, the Debian
//! distribution binary run by `mirrorctl registry up --runtime process` with those
//! certificates and an htpasswd user, our client and skopeo logging in and pushing/reading,
//! trust files in a temp root, and pull secret merges over good and malformed inputs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use mirror_core::{ClientOptions, RegistryClient, auth::AuthFile};
use mirror_testkit::cli::{generate_localhost_certs, mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::{free_port, require_tool};

const SUBJECT: &str = "# the script's certificate file\ncountrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n";

/// A fake Red Hat pull secret (the `auth` values decode to `user:password`).
const REDHAT: &str = r#"{"auths":{"cloud.openshift.com":{"auth":"b3BlbnNoaWZ0LXJlbGVhc2UtZGV2K29jbTpUT1BTRUNSRVQ=","email":"me@example.com"},"quay.io":{"auth":"b3BlbnNoaWZ0LXJlbGVhc2UtZGV2K29jbTpUT1BTRUNSRVQ=","email":"me@example.com"},"registry.redhat.io":{"auth":"dXNlcjpUT1BTRUNSRVQ=","email":"me@example.com","x-unknown":{"kept":true}}},"x-top":[1,"two"]}"#;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn write(path: &Path, text: &str) -> PathBuf {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// `mirrorctl tls generate` into `<root>/certs` for `localhost` and `127.0.0.1` (ECDSA: fast).
fn generate_certs(root: &Path) -> (String, String) {
    let subject = write(&root.join("certificate"), SUBJECT);
    generate_localhost_certs(&root.join("certs"), &subject)
}

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(require_tool("openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn generated_certificates_pass_openssl_and_reruns_keep_them() {
    require_tool("openssl");
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, _) = generate_certs(tmp.path());
    assert!(
        stdout.starts_with("created: a new CA and server certificate in "),
        "{stdout}"
    );
    assert!(
        stdout.contains("SANs:      DNS:localhost, IP:127.0.0.1\n"),
        "{stdout}"
    );
    let certs = tmp.path().join("certs");
    assert_eq!(mode(&certs.join("domain.key")), 0o600);
    assert_eq!(mode(&certs.join("ca.key")), 0o600);

    let out = openssl(
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-purpose",
            "sslserver",
            "-verify_hostname",
            "localhost",
            "-verify_ip",
            "127.0.0.1",
            "domain.crt",
        ],
        &certs,
    );
    assert!(
        out.status.success(),
        "openssl verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "domain.crt: OK"
    );

    let before = std::fs::read(certs.join("domain.crt")).unwrap();
    let (stdout, _) = generate_certs(tmp.path());
    assert!(stdout.starts_with("kept (already right): "), "{stdout}");
    assert_eq!(std::fs::read(certs.join("domain.crt")).unwrap(), before);

    let out = mirrorctl([
        "tls",
        "verify",
        "--output",
        "json",
        "--hostname",
        "localhost:5000",
    ])
    .arg("--cert")
    .arg(certs.join("domain.crt"))
    .arg("--key")
    .arg(certs.join("domain.key"))
    .arg("--ca")
    .arg(certs.join("ca.crt"))
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "CertificateVerification");
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["sans"],
        serde_json::json!(["DNS:localhost", "IP:127.0.0.1"])
    );
}

#[test]
fn a_cn_only_or_mismatched_certificate_fails_verify_with_exit_1() {
    require_tool("openssl");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "cn.key",
            "-out",
            "cn.crt",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.key",
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = mirrorctl(["tls", "verify", "--hostname", "localhost"])
        .arg("--cert")
        .arg(dir.join("cn.crt"))
        .arg("--key")
        .arg(dir.join("cn.key"))
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("legacy Common Name field"), "{stdout}");
    assert!(stdout.contains("FAIL  subject-alt-names"), "{stdout}");
    assert!(stdout.ends_with("result:    FAILED\n"), "{stdout}");

    let out = mirrorctl(["tls", "verify"])
        .arg("--cert")
        .arg(dir.join("cn.crt"))
        .arg("--key")
        .arg(dir.join("other.key"))
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  key-match"), "{stdout}");
}

#[test]
fn trust_install_and_remove_in_a_temp_root() {
    let tmp = tempfile::tempdir().unwrap();
    generate_certs(tmp.path());
    let ca = tmp.path().join("certs/ca.crt");
    let root = tmp.path().join("root");
    write(
        &root.join("etc/os-release"),
        "ID=rocky\nID_LIKE=\"rhel centos fedora\"\n",
    );
    let run = |verb: &str, extra: &[&str]| {
        let out = mirrorctl(["trust", verb, "--registry", "mirror.example.com:5000"])
            .arg("--root")
            .arg(&root)
            .arg("--ca")
            .arg(&ca)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        text(&out).0
    };
    let anchor = root.join("etc/pki/ca-trust/source/anchors/mirrorctl-mirror.example.com_5000.crt");
    let containers = root.join("etc/containers/certs.d/mirror.example.com:5000/ca.crt");

    let dry = run("install", &["--dry-run"]);
    assert!(dry.contains("would be created: "), "{dry}");
    assert!(!anchor.exists() && !containers.exists());

    let first = run("install", &[]);
    assert_eq!(
        first,
        format!(
            "created: {}\ncreated: {}\nnot refreshed (not the real root): run `update-ca-trust extract` inside that root\n",
            anchor.display(),
            containers.display()
        )
    );
    let pem = std::fs::read(&ca).unwrap();
    assert_eq!(std::fs::read(&anchor).unwrap(), pem);
    assert_eq!(std::fs::read(&containers).unwrap(), pem);
    let again = run("install", &[]);
    assert_eq!(
        again,
        format!(
            "kept (already right): {}\nkept (already right): {}\n",
            anchor.display(),
            containers.display()
        )
    );
    let removed = run("remove", &[]);
    assert!(
        removed.starts_with(&format!(
            "removed: {}\nremoved: {}\n",
            anchor.display(),
            containers.display()
        )),
        "{removed}"
    );
    assert!(!anchor.exists() && !containers.exists());
    assert!(
        !containers.parent().unwrap().exists(),
        "the empty certs.d/HOST:PORT dir is removed"
    );
    let again = run("remove", &[]);
    assert!(again.starts_with("absent (already right): "), "{again}");
}

/// Runs `pull-secret merge` with the password `pw` from a file.
fn merge(
    dir: &Path,
    input: &Path,
    output: &Path,
    username: &str,
    extra: &[&str],
) -> std::process::Output {
    let pw = write(&dir.join("pw"), "mirror-pass\n");
    mirrorctl([
        "pull-secret",
        "merge",
        "--registry",
        "mirror.example.com:5000",
        "--email",
        "admin@example.com",
    ])
    .arg("--pull-secret")
    .arg(input)
    .arg("--output")
    .arg(output)
    .arg("--username")
    .arg(username)
    .arg("--password-file")
    .arg(pw)
    .args(extra)
    .output()
    .unwrap()
}

#[test]
fn pull_secret_merge_over_good_and_malformed_inputs() {
    // (name, input, exit code, what stderr or the result must show)
    let mirror_entry = r#""mirror.example.com:5000":{"auth":"YWRtaW46bWlycm9yLXBhc3M=","email":"admin@example.com"}"#;
    let table: Vec<(&str, String, i32, String)> = vec![
        (
            "red hat pull secret: entry appended, unknown fields kept",
            REDHAT.to_string(),
            0,
            REDHAT.replace(r#"}}},"x-top""#, &format!(r#"}}}},{mirror_entry}}},"x-top""#)),
        ),
        (
            "existing entry replaced in place",
            r#"{"auths":{"mirror.example.com:5000":{"auth":"b2xkOm9sZA==","email":"old@example.com","x":1},"quay.io":{"auth":"dTpw"}}}"#.into(),
            0,
            r#"{"auths":{"mirror.example.com:5000":{"auth":"YWRtaW46bWlycm9yLXBhc3M=","email":"admin@example.com","x":1},"quay.io":{"auth":"dTpw"}}}"#.into(),
        ),
        (
            "bad base64",
            r#"{"auths":{"quay.io":{"auth":"dTpw"},"registry.redhat.io":{"auth":"%%TOPSECRET%%"}}}"#.into(),
            1,
            "entry `registry.redhat.io`: `auth` is not valid base64".into(),
        ),
        (
            "missing auths",
            r#"{"quay.io":{"auth":"dTpw"}}"#.into(),
            1,
            "no `auths` object".into(),
        ),
        (
            "auth without a colon",
            r#"{"auths":{"quay.io":{"auth":"VE9QU0VDUkVU"}}}"#.into(),
            1,
            "entry `quay.io`: `auth` does not decode to `user:password` (no `:`)".into(),
        ),
        (
            "entry that is not an object",
            r#"{"auths":{"quay.io":"VE9QU0VDUkVU"}}"#.into(),
            1,
            "entry `quay.io` is not an object".into(),
        ),
        ("not JSON", "{\"auths\":".into(), 1, "not valid JSON".into()),
    ];
    for (name, input_text, code, want) in table {
        let tmp = tempfile::tempdir().unwrap();
        let input = write(&tmp.path().join("pull-secret"), &input_text);
        let output = tmp.path().join("out/pull-secret.json");
        std::fs::create_dir_all(output.parent().unwrap()).unwrap();
        let out = merge(tmp.path(), &input, &output, "admin", &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{name}: {stdout} {stderr}");
        assert_eq!(
            std::fs::read_to_string(&input).unwrap(),
            input_text,
            "{name}: input changed"
        );
        assert!(
            !stderr.contains("TOPSECRET") && !stderr.contains("VE9QU0VDUkVU"),
            "{name}: {stderr}"
        );
        if code == 0 {
            let written = std::fs::read_to_string(&output).unwrap();
            assert_eq!(written, format!("{want}\n"), "{name}");
            assert_eq!(written.lines().count(), 1, "{name}: one line");
            assert_eq!(mode(&output), 0o600, "{name}");
            assert!(stdout.contains(": written ("), "{name}: {stdout}");
        } else {
            assert!(stderr.contains(&want), "{name}: {stderr}");
            assert!(!output.exists(), "{name}: output written for a bad input");
        }
    }
}

#[test]
fn pull_secret_merge_reruns_refuses_to_clobber_and_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write(&tmp.path().join("pull-secret"), REDHAT);
    let output = tmp.path().join("pull-secret.json");

    assert_eq!(
        merge(tmp.path(), &input, &output, "admin", &[])
            .status
            .code(),
        Some(0)
    );
    let first = std::fs::read(&output).unwrap();
    let out = merge(tmp.path(), &input, &output, "admin", &[]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("unchanged (already right)"), "{stdout}");

    // Another user: refused without --force, the output untouched.
    let out = merge(tmp.path(), &input, &output, "other", &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exists with other content"), "{stderr}");
    assert!(
        stderr.contains(
            "holds something else: pass `--force` to replace it, or choose another `--to`"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&output).unwrap(), first);
    let out = merge(
        tmp.path(),
        &input,
        &output,
        "other",
        &["--force", "--pretty"],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(std::fs::read_to_string(&output).unwrap().lines().count() > 1);

    // A `:` in the user name and the input as output are refused.
    let out = merge(
        tmp.path(),
        &input,
        &tmp.path().join("x.json"),
        "ad:min",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    let out = merge(tmp.path(), &input, &input, "admin", &["--force"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert_eq!(std::fs::read_to_string(&input).unwrap(), REDHAT);

    // check: valid file lists entries; a malformed one exits 1 naming the entry.
    let out = mirrorctl(["pull-secret", "check"])
        .arg(&output)
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("mirror.example.com:5000  user `other`"),
        "{stdout}"
    );
    assert!(stdout.ends_with("valid, 4 entries\n"), "{stdout}");
    let bad = write(
        &tmp.path().join("bad"),
        r#"{"auths":{"quay.io":{"auth":"VE9QU0VDUkVU"}}}"#,
    );
    let out = mirrorctl(["pull-secret", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("entry `quay.io`"), "{stderr}");
}

#[test]
fn htpasswd_users_are_added_kept_and_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth/htpasswd");
    let add = |user: &str, pw: &str| {
        let pwf = write(&tmp.path().join("pw"), pw);
        mirrorctl([
            "registry",
            "user",
            "add",
            "--username",
            user,
            "--password-file",
        ])
        .arg(pwf)
        .arg("--htpasswd")
        .arg(&file)
        .output()
        .unwrap()
    };
    let out = add("admin", "one\n");
    assert_eq!(
        text(&out).0,
        format!("user `admin` in {}: added\n", file.display())
    );
    assert_eq!(mode(&file), 0o600);
    // The default cost is 5 (the registry checks the hash on every request).
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("admin:$2y$05$")
    );
    assert_eq!(
        text(&add("bob", "two")).0,
        format!("user `bob` in {}: added\n", file.display())
    );
    let before = std::fs::read(&file).unwrap();
    assert_eq!(
        text(&add("admin", "one")).0,
        format!("user `admin` in {}: kept (already right)\n", file.display())
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // Another cost keeps the password and hashes it again.
    let pwf = write(&tmp.path().join("pw"), "one");
    let out = mirrorctl(["registry", "user", "add", "--username", "admin"])
        .arg("--password-file")
        .arg(&pwf)
        .arg("--htpasswd")
        .arg(&file)
        .args(["--bcrypt-cost", "6"])
        .output()
        .unwrap();
    assert_eq!(
        text(&out).0,
        format!(
            "user `admin` in {}: kept its password, hashed again at the bcrypt cost asked for\n",
            file.display()
        )
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("admin:$2y$06$")
    );
    assert_eq!(
        text(&add("admin", "three")).0,
        format!("user `admin` in {}: password replaced\n", file.display())
    );
    let users: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(users, ["admin", "bob"]);

    let pw_file = tmp.path().join("pw").display().to_string();
    let two_lines = format!("password file `{pw_file}` has more than one line");
    let before = std::fs::read(&file).unwrap();
    for (user, pw, want) in [
        ("ad:min", "x", "contains `:`"),
        ("admin", &"x".repeat(73), "bcrypt uses only the first 72"),
        // Never the first line of a file of the wrong kind.
        ("admin", "one\ntwo\n", &two_lines),
        ("admin", "one\n\n", &two_lines),
    ] {
        let out = add(user, pw);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), before, "{user} {pw:?}");
    }
    // The same rule on stdin: one line, exactly one newline dropped.
    for (stdin, want) in [
        (
            "one\ntwo\n",
            Err("the password on stdin has more than one line"),
        ),
        ("stdin-pw\n", Ok(())),
    ] {
        let mut child = mirrorctl(["registry", "user", "add", "--username", "carol"])
            .arg("--htpasswd")
            .arg(&file)
            .arg("--password-stdin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out).1;
        match want {
            Err(message) => {
                assert_eq!(out.status.code(), Some(2), "{stderr}");
                assert!(stderr.contains(message), "{stderr}");
            }
            Ok(()) => assert!(out.status.success(), "{stderr}"),
        }
    }
    let carol =
        mirror_core::htpasswd::Htpasswd::parse(&std::fs::read_to_string(&file).unwrap(), &file)
            .unwrap();
    assert!(carol.verify("carol", "stdin-pw"));
    // No password source and no terminal: refused, saying where a password comes from.
    let out = mirrorctl(["registry", "user", "add", "--username", "x", "--htpasswd"])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("MIRROR_REGISTRY_PASSWORD"),
        "{:?}",
        text(&out)
    );
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

fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().next().unwrap_or("").to_string())
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

#[test]
fn registry_up_with_the_debian_binary_serves_tls_and_htpasswd_to_our_client_and_skopeo() {
    require_tool("docker-registry");
    let skopeo = require_tool("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    generate_certs(&root);
    let pw = write(&tmp.path().join("pw"), "s3cret-pass\n");
    let out = mirrorctl([
        "registry",
        "user",
        "add",
        "--username",
        "admin",
        "--password-file",
    ])
    .arg(&pw)
    .arg("--htpasswd")
    .arg(root.join("auth/htpasswd"))
    .output()
    .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));

    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let up = || {
        mirrorctl([
            "registry",
            "up",
            "--runtime",
            "process",
            "--supervisor",
            "process",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .output()
        .unwrap()
    };
    let out = up();
    let _down = Down(root.clone());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("started: process `"), "{stdout}");
    let pid: u32 = std::fs::read_to_string(root.join("registry.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(is_alive(pid));
    let config = std::fs::read_to_string(root.join("config.yml")).unwrap();
    assert!(config.contains(&format!("addr: \":{port}\"")), "{config}");

    let out = up();
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("already running (already right): "),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("pid {pid}")), "{stdout}");

    // A second registry on the same port: refused, naming the holder.
    let other = tmp.path().join("other");
    for f in ["certs/domain.crt", "certs/domain.key", "auth/htpasswd"] {
        std::fs::create_dir_all(other.join(f).parent().unwrap()).unwrap();
        std::fs::copy(root.join(f), other.join(f)).unwrap();
    }
    let out = mirrorctl([
        "registry",
        "up",
        "--runtime",
        "process",
        "--supervisor",
        "process",
        "--port",
    ])
    .arg(port.to_string())
    .arg("--root")
    .arg(&other)
    .output()
    .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: port {port} is already in use by `docker-registry` (pid {pid})"
        )),
        "{stderr}"
    );

    // status: all four checks pass with the right password, login fails with a wrong one.
    let status = |pwfile: &Path| {
        mirrorctl([
            "registry",
            "status",
            "--username",
            "admin",
            "--registry",
            &host,
            "--password-file",
        ])
        .arg(pwfile)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap()
    };
    let out = status(&pw);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for check in ["running", "tls", "login", "catalog"] {
        assert!(
            stdout.contains(&format!("ok    {check:8} ")),
            "{check}: {stdout}"
        );
    }
    let wrong = write(&tmp.path().join("wrong"), "nope");
    let out = status(&wrong);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  login"), "{stdout}");
    assert!(stderr.contains("mirrorctl registry user add"), "{stderr}");

    // The merged pull secret is the auth file for our client and for skopeo.
    let input = write(&tmp.path().join("pull-secret"), r#"{"auths":{}}"#);
    let auth = tmp.path().join("pull-secret.json");
    let out = mirrorctl([
        "pull-secret",
        "merge",
        "--username",
        "admin",
        "--registry",
        &host,
        "--password-file",
    ])
    .arg(&pw)
    .arg("--pull-secret")
    .arg(&input)
    .arg("--output")
    .arg(&auth)
    .output()
    .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let out = mirrorctl(["pull-secret", "check", "--login", "--ca-file"])
        .arg(root.join("certs/ca.crt"))
        .arg(&auth)
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("{host}  user `admin`  login ok")),
        "{stdout}"
    );

    let client = RegistryClient::new(ClientOptions {
        auth: Some(AuthFile::load(&auth).unwrap()),
        ca_pems: vec![std::fs::read(root.join("certs/ca.crt")).unwrap()],
        ..Default::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &host));

    let cert_dir = tmp.path().join("skopeo-certs");
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::copy(root.join("certs/ca.crt"), cert_dir.join("ca.crt")).unwrap();
    let out = Command::new(&skopeo)
        .args(["inspect", "--raw"])
        .arg("--cert-dir")
        .arg(&cert_dir)
        .arg("--authfile")
        .arg(&auth)
        .arg(format!("docker://{}", f.release))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mirror_core::Digest::of(&out.stdout), f.release_digest);
    // Without the CA skopeo refuses the certificate: the TLS is real.
    let out = Command::new(&skopeo)
        .args(["inspect", "--raw", "--authfile"])
        .arg(&auth)
        .arg(format!("docker://{}", f.release))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = mirrorctl(["registry", "logs", "--tail", "5", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out).0.lines().count(), 5);

    let out = mirrorctl(["registry", "down", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("stopped: process `"), "{stdout}");
    assert!(!is_alive(pid), "the registry (pid {pid}) still runs");
    assert!(!root.join("registry.pid").exists());
    let out = mirrorctl(["registry", "down", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(text(&out).0, "not running (already right)\n");
    let out = status(&pw);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
}

const JAVA_KEYSTORE: &str = "/etc/ssl/certs/java/cacerts";

/// The aliases in the Java keystore Debian keeps beside the system store.
fn java_keystore_aliases() -> Vec<String> {
    let out = Command::new(require_tool("keytool"))
        .args([
            "-list",
            "-storepass",
            "changeit",
            "-keystore",
            JAVA_KEYSTORE,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("trustedCertEntry"))
        .map(|l| format!("{JAVA_KEYSTORE}: {}", l.split(',').next().unwrap_or(l)))
        .collect()
}

/// Every entry under each of `dirs`: directories end in `/`, symlinks show their target, files
/// their size; a missing directory is listed as such.
fn trust_store_listing(dirs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for dir in dirs {
        let mut stack = vec![PathBuf::from(dir)];
        if !Path::new(dir).exists() {
            out.push(format!("{dir} (missing)"));
            continue;
        }
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_symlink() {
                    let target = std::fs::read_link(&path).unwrap();
                    out.push(format!("{} -> {}", path.display(), target.display()));
                } else if meta.is_dir() {
                    out.push(format!("{}/", path.display()));
                    stack.push(path);
                } else if path == Path::new(JAVA_KEYSTORE) {
                    // Rewritten in place by its hook: compared by its entries instead.
                    out.extend(java_keystore_aliases());
                } else {
                    out.push(format!("{} ({} bytes)", path.display(), meta.len()));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn trust_remove_on_the_real_debian_root_leaves_the_store_as_before_install() {
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    assert!(
        is_root,
        "this test changes the host's trust store: run the tests as root (CI does)"
    );
    require_tool("update-ca-certificates");
    let tmp = tempfile::tempdir().unwrap();
    generate_certs(tmp.path());
    let ca = tmp.path().join("certs/ca.crt");
    let dirs = [
        "/etc/ssl/certs",
        "/usr/local/share/ca-certificates",
        "/etc/containers/certs.d",
    ];
    // A machine image may ship CAs in /usr/local/share/ca-certificates that were never
    // linked into /etc/ssl/certs; `trust install` refreshes the store, which links them too.
    // Refresh once first, so that "before" is the store as the refresh tool leaves it and the
    // comparison sees only what mirrorctl adds and removes.
    let refresh = Command::new("update-ca-certificates").output().unwrap();
    assert!(refresh.status.success(), "{refresh:?}");
    let before = trust_store_listing(&dirs);
    let run = |verb: &str| {
        let out = mirrorctl(["trust", verb, "--registry", "mirrorctl-test.invalid:5999"])
            .arg("--os-family")
            .arg("debian")
            .arg("--ca")
            .arg(&ca)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        text(&out).0
    };
    let installed = run("install");
    assert!(
        installed.contains("refreshed: `update-ca-certificates`"),
        "{installed}"
    );
    let pem = "/etc/ssl/certs/mirrorctl-mirrorctl-test.invalid_5999.pem";
    assert!(Path::new(pem).exists(), "{installed}");
    if Path::new(JAVA_KEYSTORE).exists() {
        assert!(
            java_keystore_aliases()
                .iter()
                .any(|a| a.ends_with("debian:mirrorctl-mirrorctl-test.invalid_5999.pem")),
            "the Java keystore did not take the CA: {installed}"
        );
    }
    let removed = run("remove");
    assert!(removed.contains(&format!("removed: {pem}")), "{removed}");
    assert_eq!(trust_store_listing(&dirs), before, "{removed}");
}

/// A registry root with `mirrorctl tls generate` certificates and the user `admin`; returns
/// the password file.
fn registry_root(root: &Path) -> PathBuf {
    generate_certs(root);
    let pw = write(&root.join("../pw"), "s3cret-pass\n");
    let out = mirrorctl(["registry", "user", "add", "--username", "admin"])
        .arg("--password-file")
        .arg(&pw)
        .arg("--htpasswd")
        .arg(root.join("auth/htpasswd"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    pw
}

#[test]
fn registry_up_refuses_a_cn_only_certificate_and_writes_nothing() {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    registry_root(&root);
    // Replace the server certificate with a self-signed one that has no SAN.
    let certs = root.join("certs");
    let out = openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "domain.key",
            "-out",
            "domain.crt",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
        ],
        &certs,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(certs.join("domain.crt"), certs.join("ca.crt")).unwrap();
    let port = free_port();
    let out = mirrorctl(["registry", "up", "--runtime", "process", "--port"])
        .arg(port.to_string())
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .output()
        .unwrap();
    let _down = Down(root.clone());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "error: certificate `{}` would be refused by registry clients: subject-alt-names: no subjectAltName extension",
            certs.join("domain.crt").display()
        )),
        "{stderr}"
    );
    assert!(
        first.contains(mirror_core::tls::GO_LEGACY_CN_ERROR),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().nth(1).unwrap(),
        format!(
            "hint: make a new one with `mirrorctl tls generate --dir {} --hostname HOST --force` (it has the SANs clients need; `mirrorctl tls verify` shows every check)",
            certs.display()
        )
    );
    for f in ["config.yml", "registry.pid", "registry-state.json"] {
        assert!(!root.join(f).exists(), "{f} was written");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn registry_up_bind_listens_on_that_address_only_and_bad_addresses_are_usage_errors() {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    let pw = registry_root(&root);
    let port = free_port();
    let up = |bind: &str| {
        mirrorctl([
            "registry",
            "up",
            "--runtime",
            "process",
            "--bind",
            bind,
            "--port",
        ])
        .arg(port.to_string())
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .output()
        .unwrap()
    };
    for (bad, shown) in [
        ("localhost", "localhost"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("", ""),
    ] {
        let out = up(bad);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert_eq!(stdout, "");
        assert_eq!(
            stderr,
            format!(
                "error: --bind: `{shown}` is not an IP address\nhint: give one of this host's addresses, e.g. `127.0.0.1` or `::1` (no port: that is `--port`); leave `--bind` out to listen on every interface\n"
            )
        );
        assert!(!root.join("config.yml").exists());
    }

    let out = up("127.0.0.1");
    let _down = Down(root.clone());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("listening on 127.0.0.1:{port}, pid ")),
        "{stdout}"
    );
    let config = std::fs::read_to_string(root.join("config.yml")).unwrap();
    assert!(
        config.contains(&format!("  addr: \"127.0.0.1:{port}\"\n")),
        "{config}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // Not on another loopback address: it listens on 127.0.0.1 only.
    assert!(std::net::TcpStream::connect(("127.0.0.2", port)).is_err());
    let state = std::fs::read_to_string(root.join("registry-state.json")).unwrap();
    assert!(state.contains("\"bind\": \"127.0.0.1\""), "{state}");

    // status checks the bound address by default.
    let out = mirrorctl([
        "registry",
        "status",
        "--username",
        "admin",
        "--password-file",
    ])
    .arg(&pw)
    .arg("--root")
    .arg(&root)
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("registry:  127.0.0.1:{port}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(", listening on 127.0.0.1:{port}\n")),
        "{stdout}"
    );

    // The same bind again is already right; every interface is a restart.
    let out = up("127.0.0.1");
    assert!(
        text(&out)
            .0
            .starts_with("already running (already right): "),
        "{:?}",
        text(&out)
    );
    let out = mirrorctl(["registry", "up", "--runtime", "process", "--port"])
        .arg(port.to_string())
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.starts_with("restarted (the configuration changed): "),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains(&format!("listening on every interface, port {port}")),
        "{stdout}"
    );
    let config = std::fs::read_to_string(root.join("config.yml")).unwrap();
    assert!(
        config.contains(&format!("  addr: \":{port}\"\n")),
        "{config}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.2", port)).is_ok());
}

/// A fake `podman` in `dir` for a host where podman is installed but cannot run the registry
/// (no network to pull, no cgroups): `version` answers, `image exists` says no, `pull` fails
/// offline, `run` creates the container (a `created` file) and fails to start it, as podman
/// does (with `$FAKE_PODMAN_HAS_IMAGE` the image is there and `run --rm` works, only the
/// registry's `run -d` fails); `container exists|inspect` and `rm` follow the `created` file. Every call is
/// appended to `calls`. Returns `dir`, to put first on `PATH`.
fn fake_podman(dir: &Path) -> PathBuf {
    let script = r#"#!/bin/sh
d="$(dirname "$0")"
echo "$*" >> "$d/calls"
case "$1" in
  version) echo 4.9.3 ;;
  image) test -n "$FAKE_PODMAN_HAS_IMAGE" ;;
  pull) echo "Error: initializing source docker://$2: pinging container registry registry-1.docker.io: dial tcp: lookup registry-1.docker.io: no such host" >&2; exit 125 ;;
  run)
    if test "$2" = --rm && test -n "$FAKE_PODMAN_HAS_IMAGE"; then echo "registry github.com/distribution/distribution v2.8.3"; exit 0; fi
    touch "$d/created"; echo "Error: crun: creating cgroup directory: Operation not permitted: OCI runtime error" >&2; exit 126 ;;
  container)
    case "$2" in
      exists) test -e "$d/created" ;;
      inspect) if test -e "$d/created"; then echo false; else echo "Error: no such container" >&2; exit 125; fi ;;
    esac ;;
  rm) rm -f "$d/created" ;;
esac
"#;
    let p = write(&dir.join("podman"), script);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.to_path_buf()
}

/// `PATH` with `dir` first.
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[test]
fn a_rerun_keeps_the_running_process_registry_when_podman_appears_and_a_failed_switch_changes_nothing()
 {
    require_tool("docker-registry");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    registry_root(&root);
    let bin = fake_podman(&tmp.path().join("bin"));
    let port = free_port();
    let up = |runtime: Option<&str>| {
        let mut c = mirrorctl(["registry", "up", "--port"]);
        c.arg(port.to_string()).arg("--root").arg(&root);
        if let Some(r) = runtime {
            c.args(["--runtime", r]);
        }
        c.env("MIRRORCTL_SUPERVISOR", "process")
            .env("PATH", path_with(&bin))
            .output()
            .unwrap()
    };
    let out = up(Some("process"));
    let _down = Down(root.clone());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let pid = std::fs::read_to_string(root.join("registry.pid")).unwrap();
    let config = std::fs::read(root.join("config.yml")).unwrap();
    let state = std::fs::read(root.join("registry-state.json")).unwrap();
    let serving = || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    let unchanged = |what: &str| {
        assert_eq!(
            std::fs::read(root.join("config.yml")).unwrap(),
            config,
            "{what}: config.yml changed"
        );
        assert_eq!(
            std::fs::read(root.join("registry-state.json")).unwrap(),
            state,
            "{what}: state changed"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("registry.pid")).unwrap(),
            pid,
            "{what}: restarted"
        );
        assert!(
            is_alive(pid.trim().parse().unwrap()) && serving(),
            "{what}: not serving"
        );
        assert!(
            !bin.join("created").exists(),
            "{what}: a container was left"
        );
    };

    // podman "installed later": `up` with the default runtime keeps the process registry.
    let out = up(None);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("already running (already right): process `"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "note: kept the runtime that runs (process) although podman is installed now; pass `--runtime podman` to switch (it is tried before the running registry is stopped)\n"
    );
    unchanged("auto");
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert!(
        !calls.contains("run ") && !calls.contains("pull"),
        "{calls}"
    );

    // An explicit switch to a podman that cannot pull: refused before anything is stopped.
    let out = up(Some("podman"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    let mut lines = stderr.lines();
    let error = lines.next().unwrap();
    assert!(
        error.starts_with("error: cannot restart the registry as podman container `mirror-registry` from docker.io/library/registry:2: `"),
        "{stderr}"
    );
    assert!(error.contains("pull docker.io/library/registry:2` failed: exit status: 125: Error: initializing source"), "{stderr}");
    assert!(
        error.contains("; the registry that runs was left alone (process `"),
        "{stderr}"
    );
    let hint = lines.next().unwrap();
    assert!(hint.starts_with("hint: the registry that runs still serves; to switch, make `docker.io/library/registry:2` available to podman"), "{stderr}");
    unchanged("switch");
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert!(!calls.contains("run -d"), "{calls}");

    // The image is there and a container runs, but the registry's container does not start:
    // the process registry is stopped, then started again as it was.
    let out = mirrorctl(["registry", "up", "--runtime", "podman", "--port"])
        .arg(port.to_string())
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .env("FAKE_PODMAN_HAS_IMAGE", "1")
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let error = stderr.lines().next().unwrap();
    assert!(
        error.starts_with("error: the registry did not start as podman container `mirror-registry` from docker.io/library/registry:2: `"),
        "{stderr}"
    );
    assert!(
        error.contains(
            "OCI runtime error; the registry that ran before was started again (process `"
        ),
        "{stderr}"
    );
    assert!(
        stderr.lines().nth(1).unwrap().starts_with("hint: "),
        "{stderr}"
    );
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    let after_run = &calls[calls.find("run -d").unwrap()..];
    assert!(
        after_run.contains("\nrm -f --ignore mirror-registry\n"),
        "{calls}"
    );
    assert_eq!(std::fs::read(root.join("config.yml")).unwrap(), config);
    assert_eq!(
        std::fs::read(root.join("registry-state.json")).unwrap(),
        state
    );
    assert!(!bin.join("created").exists(), "a container was left");
    let new_pid: u32 = std::fs::read_to_string(root.join("registry.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        is_alive(new_pid) && serving(),
        "the process registry is not back"
    );
    let out = up(None);
    assert!(
        text(&out)
            .0
            .starts_with("already running (already right): process `"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn a_failed_podman_start_leaves_no_container_and_down_removes_a_created_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    registry_root(&root);
    let bin = fake_podman(&tmp.path().join("bin"));
    let port = free_port();
    let out = mirrorctl(["registry", "up", "--runtime", "podman", "--port"])
        .arg(port.to_string())
        .arg("--root")
        .arg(&root)
        .env("MIRRORCTL_SUPERVISOR", "process")
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.starts_with("error: `"), "{stderr}");
    assert!(
        stderr.contains(" run -d --name mirror-registry "),
        "{stderr}"
    );
    assert!(stderr.contains("OCI runtime error"), "{stderr}");
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    let after_run = &calls[calls.find("run -d").unwrap()..];
    assert!(
        after_run.contains("\nrm -f --ignore mirror-registry\n"),
        "{calls}"
    );
    assert!(
        !bin.join("created").exists(),
        "the created container was left"
    );
    for f in ["config.yml", "registry-state.json"] {
        assert!(!root.join(f).exists(), "{f} was left");
    }

    // A created container recorded in the state (it never started, or exited): down removes it.
    std::fs::write(bin.join("created"), "").unwrap();
    let state = serde_json::json!({
        "run": {"mode": "container", "podman": bin.join("podman"), "image": "docker.io/library/registry:2"},
        "port": port,
        "config": "x",
    });
    std::fs::write(root.join("registry-state.json"), state.to_string()).unwrap();
    let down = || {
        mirrorctl(["registry", "down", "--root"])
            .arg(&root)
            .env("PATH", path_with(&bin))
            .output()
            .unwrap()
    };
    let out = down();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "removed (it was not running): podman container `mirror-registry` from docker.io/library/registry:2\n"
    );
    assert!(!bin.join("created").exists() && !root.join("registry-state.json").exists());
    // Without a state file too (a failed start of an older mirrorctl).
    std::fs::write(bin.join("created"), "").unwrap();
    let out = down();
    assert_eq!(
        text(&out).0,
        "removed (it was not running): podman container `mirror-registry`\n"
    );
    assert!(!bin.join("created").exists());
    let out = down();
    assert_eq!(text(&out).0, "not running (already right)\n");
}
