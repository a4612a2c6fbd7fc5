//! The merge of the program's values over the config file's, and every refusal, as a table.

use std::path::{Path, PathBuf};

use super::*;
use crate::install::config::S3ConfigFile;

/// What a CLI would answer: `--kebab-case` flags (`s3.bucket` -> `--s3-bucket`, and the
/// negative `--s3-no-redirect`), `registry password` for the password.
fn flags(key: &str) -> Option<String> {
    match key {
        "password" => return Some("registry password".into()),
        "s3.redirect" => return Some("--s3-no-redirect".into()),
        _ => {}
    }
    let mut flag = String::from("--");
    for c in key.chars() {
        if c.is_ascii_uppercase() || c == '.' {
            flag.push('-');
        }
        if c != '.' {
            flag.push(c.to_ascii_lowercase());
        }
    }
    Some(flag)
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "ps.json",
            r#"{"auths":{"quay.io":{"auth":"dTpw","email":"a@b.c"}}}"#,
        );
        write("empty.json", "{}");
        write(
            "certificate",
            "countrycode=US\nstate=NC\nlocality=Raleigh\norganization=Example\nunit=IT\n",
        );
        write("bad-cert", "countrycode=USA\n");
        write("pw", "from-file\n");
        write("two-lines", "a\nb\n");
        write("rh-pw", "rh-secret\n");
        write("ca.pem", "not a certificate\n");
        write("s3-key", "AKIAEXAMPLE\nnot-the-secret\n");
        write("http-secret", "shared\n");
        write("empty", "");
        // Image archives as `podman save` writes them (docker-archive): one image, and two
        // of which the default image name picks one.
        let registry = docker_archive(&[(b"{\"os\":\"linux\"}", "docker.io/library/registry:2")]);
        std::fs::write(dir.path().join("registry.tar"), registry).unwrap();
        let two = docker_archive(&[
            (b"{\"os\":\"linux\"}", "docker.io/library/registry:2"),
            (b"{\"os\":\"other\"}", "quay.io/x/registry:3"),
        ]);
        std::fs::write(dir.path().join("two.tar"), two).unwrap();
        Files { dir }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The program gives everything required.
    fn options(&self) -> InstallOptions {
        InstallOptions {
            given: InstallConfigFile {
                email: Some("admin@example.com".into()),
                username: Some("mirror".into()),
                version: Some("4.14.1".into()),
                pull_secret: Some(self.p("ps.json")),
                certificate_file: Some(self.p("certificate")),
                ..Default::default()
            },
            password: Some("from-prompt".into()),
            names: Some(flags),
            ..Default::default()
        }
    }
}

/// The settings that differ between cases, on one line.
fn summary(s: &InstallSettings) -> String {
    let skip: Vec<&str> = s.skip.iter().map(|s| s.name()).collect();
    let checks: Vec<&str> = s.preflight.skip.iter().copied().collect();
    let file_name = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or("-".into())
    };
    assert_eq!(
        s.preflight.storage, s.storage,
        "preflight checks the same storage"
    );
    format!(
        "{} {}/{} {} {}:{} bind={} root={} out={} repo={} skip={skip:?} checks={checks:?} runtime={:?} image={} max={} tries={} minFree={} sans={:?} insecure={:?} rh={} storage={} key={} secret={} archive={} firewall={}",
        s.email,
        s.credential.username,
        s.credential.password,
        s.release,
        s.hostname,
        s.port,
        s.bind.map(|b| b.to_string()).unwrap_or("*".into()),
        s.root.display(),
        s.output_dir.display(),
        s.repository,
        s.run.runtime,
        s.run.image,
        s.max_per_registry,
        s.retry.max_tries,
        crate::size::format_size(s.preflight.min_free),
        s.extra_sans,
        s.insecure_registries,
        s.rh_account
            .as_ref()
            .map(|c| format!("{}/{}", c.username, c.password))
            .unwrap_or("-".into()),
        s.storage.describe(),
        file_name(&s.storage.s3().map(|s3| s3.credentials.source.clone())),
        file_name(&s.http_secret_file),
        file_name(&s.run.image_archive),
        s.firewall,
    )
}

/// A docker-archive tar of images given as (config, name).
fn docker_archive(images: &[(&[u8], &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, bytes).unwrap();
    };
    let mut manifest = Vec::new();
    for (config, name) in images {
        let file = format!("{}.json", crate::Digest::of(config).hex());
        add(&file, config);
        manifest.push(serde_json::json!({"Config": file, "RepoTags": [name], "Layers": []}));
    }
    add(
        "manifest.json",
        serde_json::to_string(&manifest).unwrap().as_bytes(),
    );
    b.into_inner().unwrap()
}

type Change = Box<dyn Fn(&Files, &mut InstallOptions)>;

fn change(f: impl Fn(&Files, &mut InstallOptions) + 'static) -> Change {
    Box::new(f)
}

fn yaml(text: &str) -> InstallConfigFile {
    InstallConfigFile::parse(text, Path::new("install.yaml")).unwrap()
}

#[test]
fn values_merge_program_over_file_with_defaults() {
    let defaults = "admin@example.com mirror/from-prompt quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64 mirror.example.com:5000 bind=* root=/opt/registry out=mirror-install repo=ocp4/openshift4 skip=[] checks=[] runtime=Auto image=docker.io/library/registry:2 max=8 tries=6 minFree=1000GiB sans=[\"mirror\"] insecure=[] rh=- storage=filesystem key=- secret=- archive=- firewall=true";
    let cases: Vec<(&str, Change, String)> = vec![
        ("defaults", change(|_, _| {}), defaults.to_string()),
        (
            "the config file fills what the program does not give",
            change(|_, o| {
                o.given = InstallConfigFile {
                    pull_secret: o.given.pull_secret.clone(),
                    certificate_file: o.given.certificate_file.clone(),
                    ..Default::default()
                };
                o.file = yaml(
                    "email: file@example.com\nusername: filer\nrelease: quay.io/a/b:1\nhostname: reg.example.com\nport: 8443\nbind: '::1'\nroot: /srv/Mirror\noutputDir: /srv/Out\nrepository: x/y\nskip: [trust]\nskipChecks: [cpu]\nruntime: process\nimage: reg.example.com/registry:2\nmaxPerRegistry: 2\nretryTimes: 2\nminFree: 10GiB\ninsecureRegistries: [127.0.0.1:5001]\n",
                );
            }),
            "file@example.com filer/from-prompt quay.io/a/b:1 reg.example.com:8443 bind=::1 root=/srv/Mirror out=/srv/Out repo=x/y skip=[\"trust\"] checks=[\"cpu\"] runtime=Process image=reg.example.com/registry:2 max=2 tries=3 minFree=10GiB sans=[\"reg\"] insecure=[\"127.0.0.1:5001\"] rh=- storage=filesystem key=- secret=- archive=- firewall=true".to_string(),
        ),
        (
            "the program wins; lists add up",
            change(|_, o| {
                o.file = yaml(
                    "email: file@example.com\nport: 8443\nversion: '4.13.0'\narchitecture: aarch64\nskip: [trust]\ninsecureRegistries: [a:1]\nretryTimes: 9\n",
                );
                o.given.port = Some(5001);
                o.given.retry_times = Some(0);
                o.given.skip = vec!["check".into()];
                o.given.insecure_registries = vec!["b:2".into()];
            }),
            defaults
                .replace(":5000", ":5001")
                .replace("tries=6", "tries=1")
                .replace("4.14.1-x86_64", "4.14.1-aarch64")
                .replace("skip=[]", "skip=[\"trust\", \"check\"]")
                .replace("insecure=[]", "insecure=[\"b:2\", \"a:1\"]"),
        ),
        (
            "a release wins over a version",
            change(|_, o| o.given.release = Some("quay.io/x/y@sha256:8c7d0b7c3f1f1cbd6f2b4d2bd6a0bd0ed6b2a1e3c1e8a6f5f2c3d4e5f6a7b8c9".into())),
            defaults.replace(
                "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64",
                "quay.io/x/y@sha256:8c7d0b7c3f1f1cbd6f2b4d2bd6a0bd0ed6b2a1e3c1e8a6f5f2c3d4e5f6a7b8c9",
            ),
        ),
        (
            "the program's password file wins over the password it read",
            change(|f, o| o.given.password_file = Some(f.p("pw"))),
            defaults.replace("from-prompt", "from-file"),
        ),
        (
            "the config's password file when the program read none",
            change(|f, o| {
                o.password = None;
                o.file.password_file = Some(f.p("pw"));
            }),
            defaults.replace("from-prompt", "from-file"),
        ),
        (
            "a Red Hat account from the config file",
            change(|f, o| {
                o.file.rh_username = Some("rh-admin".into());
                o.file.rh_password_file = Some(f.p("rh-pw"));
            }),
            defaults.replace("rh=-", "rh=rh-admin/rh-secret"),
        ),
        (
            "a short host name gets no extra SAN; IPv6 in brackets",
            change(|_, o| {
                o.given.hostname = Some("mirror".into());
                o.given.bind = Some("[fd00::1]".into());
            }),
            defaults
                .replace("mirror.example.com:5000", "mirror:5000")
                .replace("sans=[\"mirror\"]", "sans=[]")
                .replace("bind=*", "bind=fd00::1"),
        ),
        (
            "S3 storage from the config file",
            change(|f, o| {
                o.file = yaml(&format!(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n  region: eu-west-1\n  root: ocp//4\n  credentialsFile: {}\n  redirect: false\nhttpSecretFile: {}\n",
                    f.p("s3-key").display(),
                    f.p("http-secret").display()
                ));
            }),
            defaults.replace(
                "storage=filesystem key=- secret=-",
                "storage=s3 bucket `mirror` at https://rgw.example.com (region eu-west-1, root /ocp/4, blob downloads proxied by the registry) key=s3-key secret=http-secret",
            ),
        ),
        (
            "the program's s3 values win key by key; a missing http secret file is made later",
            change(|f, o| {
                o.file = yaml(&format!(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n  credentialsFile: {}\n",
                    f.p("nope").display()
                ));
                o.given.s3 = Some(S3ConfigFile {
                    bucket: Some("other".into()),
                    credentials_file: Some(f.p("s3-key")),
                    ..Default::default()
                });
                o.given.http_secret_file = Some(f.p("not-yet"));
            }),
            defaults.replace(
                "storage=filesystem key=- secret=-",
                "storage=s3 bucket `other` at https://rgw.example.com (region us-east-1, root /, blob downloads redirected to the store) key=s3-key secret=not-yet",
            ),
        ),
        (
            "a carried image and firewalld left alone, from the config file",
            change(|f, o| {
                o.file = yaml(&format!(
                    "imageArchive: {}\nfirewall: false\n",
                    f.p("registry.tar").display()
                ));
            }),
            defaults.replace("archive=- firewall=true", "archive=registry.tar firewall=false"),
        ),
        (
            "the program's archive and firewall over the file's; the default image picks one of two",
            change(|f, o| {
                o.file = yaml(&format!(
                    "imageArchive: {}\nfirewall: true\n",
                    f.p("nope.tar").display()
                ));
                o.given.image_archive = Some(f.p("two.tar"));
                o.given.firewall = Some(false);
            }),
            defaults.replace("archive=- firewall=true", "archive=two.tar firewall=false"),
        ),
        (
            "the program's filesystem storage over the file's S3",
            change(|_, o| {
                o.file = yaml("storage: s3\ns3:\n  bucket: mirror\n");
                o.given.storage = Some("filesystem".into());
            }),
            defaults.to_string(),
        ),
    ];
    let mut got = Vec::new();
    let mut want = Vec::new();
    for (name, f, expected) in cases {
        let files = Files::new();
        let mut opts = files.options();
        f(&files, &mut opts);
        let settings = build_for_test(opts, Some("mirror.example.com"))
            .unwrap_or_else(|e| panic!("{name}: {}", crate::ErrorChain(&e)));
        got.push(format!("{name}: {}", summary(&settings)));
        want.push(format!("{name}: {expected}"));
    }
    assert_eq!(got, want);
}

#[test]
fn every_bad_value_is_refused_naming_it_where_it_came_from() {
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "no email",
            change(|_, o| o.given.email = None),
            "missing `--email` | give `--email` or `email:` in the config file",
        ),
        (
            "a blank user",
            change(|_, o| o.given.username = Some("  ".into())),
            "missing `--username` | give `--username` or `username:` in the config file",
        ),
        (
            "a user with a colon, from the file",
            change(|_, o| {
                o.given.username = None;
                o.file.username = Some("a:b".into());
            }),
            "username: invalid setting `username`: `a:b` contains `:`, which separates the user from the password | -",
        ),
        (
            "no password anywhere",
            change(|_, o| o.password = None),
            "missing `--password-file` | give `--password-file FILE`, or `passwordFile:` in the config file",
        ),
        (
            "a config password file of two lines",
            change(|f, o| {
                o.password = None;
                o.file.password_file = Some(f.p("two-lines"));
            }),
            "passwordFile: password file `{dir}/two-lines` has more than one line: a password is one line (a final newline is dropped) | -",
        ),
        (
            "an empty password",
            change(|_, o| o.password = Some(String::new())),
            "registry password: invalid setting `password`: the password is empty | -",
        ),
        (
            "a Red Hat password without a user",
            change(|f, o| o.given.rh_password_file = Some(f.p("rh-pw"))),
            "a Red Hat account password was given without `--rh-username` | give `--rh-username USER` (or `rhUsername:`) with it, or leave both out",
        ),
        (
            "a Red Hat user without a password",
            change(|_, o| o.given.rh_username = Some("rh-admin".into())),
            "no password for the Red Hat account `rh-admin` | give `--rh-password-file FILE` (or `rhPasswordFile:` in the config file)",
        ),
        (
            "an unreadable Red Hat password file",
            change(|f, o| {
                o.given.rh_username = Some("rh-admin".into());
                o.given.rh_password_file = Some(f.p("nope"));
            }),
            "--rh-password-file: read password file `{dir}/nope`: No such file or directory (os error 2) | -",
        ),
        (
            "no release",
            change(|_, o| o.given.version = None),
            "missing `--version` or `--release` | give `--version 4.14.1`, or `version:` in the config file",
        ),
        (
            "a bad release reference",
            change(|_, o| o.given.release = Some("quay.io/UPPER/x:1".into())),
            "--release: invalid image reference `quay.io/UPPER/x:1`: ",
        ),
        (
            "no pull secret",
            change(|_, o| o.given.pull_secret = None),
            "missing `--pull-secret` | download it from console.redhat.com/openshift/install/pull-secret and give `--pull-secret FILE`, or `pullSecret:` in the config file",
        ),
        (
            "a pull secret that is not one",
            change(|f, o| o.given.pull_secret = Some(f.p("empty.json"))),
            "--pull-secret: auth file `{dir}/empty.json`: ",
        ),
        (
            "a bad certificate subject",
            change(|f, o| o.given.certificate_file = Some(f.p("bad-cert"))),
            "--certificate-file: `{dir}/bad-cert` line 1: country code `USA` is not two ASCII letters | use a two-letter ISO 3166 country code such as `US` or `DE`",
        ),
        ("the host has no name", change(|_, _| {}), "NONAME"),
        (
            "port 0 from the file",
            change(|_, o| o.file.port = Some(0)),
            "port: `0` is not a port | pass a port from 1 to 65535",
        ),
        (
            "a bind with a port",
            change(|_, o| o.given.bind = Some("10.0.0.1:5000".into())),
            "--bind: `10.0.0.1:5000` is not an IP address | give one of this host's addresses, e.g. `127.0.0.1` or `::1`, without a port; leave it out to listen on every interface",
        ),
        (
            "a bind host name in the file",
            change(|_, o| o.file.bind = Some("mirror.example.com".into())),
            "bind: `mirror.example.com` is not an IP address | give one of this host's addresses",
        ),
        (
            "a bad repository",
            change(|_, o| o.given.repository = Some("UPPER/x".into())),
            "--hostname/--port/--repository: invalid image reference `mirror.example.com:5000/UPPER/x`: ",
        ),
        (
            "an unknown step",
            change(|_, o| o.given.skip = vec!["everything".into()]),
            "--skip: unknown step `everything` | known steps: preflight, packages, directories, certificates, user, registry, trust, check, pull-secret, mirror, extract, outputs",
        ),
        (
            "skipping the mirror but not what needs it",
            change(|_, o| o.file.skip = vec!["mirror".into(), "outputs".into()]),
            "skip: invalid setting `skip`: `extract` needs the `mirror` step: skip it too | -",
        ),
        (
            "an unknown runtime",
            change(|_, o| o.given.runtime = Some("docker".into())),
            "--runtime: unknown runtime `docker` | known runtimes: podman, process, auto",
        ),
        (
            "a missing CA file",
            change(|f, o| o.given.ca_files = vec![f.p("nope.pem")]),
            "--ca-files: read CA file `{dir}/nope.pem`: No such file or directory (os error 2) | -",
        ),
        (
            "a CA file that is not PEM",
            change(|f, o| o.file.ca_files = vec![f.p("ca.pem")]),
            "caFiles: tls setup: ",
        ),
        (
            "a bad size",
            change(|_, o| o.file.min_free = Some("lots".into())),
            "minFree: invalid size `lots`: expected a number first | write a number and a unit",
        ),
        (
            "an unknown check",
            change(|_, o| o.given.skip_checks = vec!["nosuch".into()]),
            "--skip-checks: unknown check `nosuch` | known checks: os, disk,",
        ),
        (
            "no transfers at once",
            change(|_, o| o.given.max_per_registry = Some(0)),
            "--max-per-registry: invalid setting `max-per-registry`: must be at least 1 | -",
        ),
        (
            "a bcrypt cost bcrypt does not have",
            change(|_, o| o.file.bcrypt_cost = Some(3)),
            "bcryptCost: invalid setting `bcrypt-cost`: `3` is not a bcrypt cost (4 to 31) | -",
        ),
        (
            "a storage nobody knows, from the file",
            change(|_, o| o.file.storage = Some("nfs".into())),
            "storage: unknown storage `nfs` | known storages: filesystem, s3",
        ),
        (
            "an s3 flag without S3 storage",
            change(|_, o| {
                o.given.s3 = Some(S3ConfigFile {
                    region: Some("eu-west-1".into()),
                    ..Default::default()
                })
            }),
            "`--s3-region` needs `--storage s3` | add `--storage s3` to store in a bucket, or leave the s3 settings out to store in <root>/data",
        ),
        (
            "an s3 section in a file that does not say `storage: s3`",
            change(|_, o| o.file = yaml("s3:\n  redirect: false\n")),
            "`s3.redirect` needs `storage: s3` | add `storage: s3` to store in a bucket",
        ),
        (
            "S3 storage without an endpoint",
            change(|_, o| o.file = yaml("storage: s3\ns3:\n  bucket: mirror\n")),
            "missing `--s3-endpoint` (needed with `storage: s3`) | give `--s3-endpoint URL`, or `endpoint:` in the config file's `s3:` section",
        ),
        (
            "S3 storage without a bucket",
            change(|_, o| {
                o.given.storage = Some("s3".into());
                o.file = yaml("s3:\n  endpoint: https://rgw.example.com\n");
            }),
            "missing `--s3-bucket` (needed with `--storage s3`) | give `--s3-bucket NAME`, or `bucket:` in the config file's `s3:` section",
        ),
        (
            "S3 storage without a credentials file",
            change(|_, o| {
                o.file = yaml(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n",
                )
            }),
            "missing `--s3-credentials-file` (needed with `storage: s3`) | put the access key in a file (0600), an AWS credentials file",
        ),
        (
            "an endpoint with a path, from a flag",
            change(|f, o| {
                o.file = yaml(&format!(
                    "storage: s3\ns3:\n  bucket: mirror\n  credentialsFile: {}\n",
                    f.p("s3-key").display()
                ));
                o.given.s3 = Some(S3ConfigFile {
                    endpoint: Some("https://rgw.example.com/mirror".into()),
                    ..Default::default()
                });
            }),
            "--s3-endpoint: invalid setting `s3 endpoint`: `https://rgw.example.com/mirror` has a path or query",
        ),
        (
            "a bucket name S3 refuses, from the file",
            change(|f, o| {
                o.file = yaml(&format!(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: My_Bucket\n  credentialsFile: {}\n",
                    f.p("s3-key").display()
                ))
            }),
            "s3.bucket: invalid setting `s3 bucket`: `My_Bucket` is not a bucket name",
        ),
        (
            "a region that is not one, from the file",
            change(|f, o| {
                o.file = yaml(&format!(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n  region: US East\n  credentialsFile: {}\n",
                    f.p("s3-key").display()
                ))
            }),
            "s3.region: invalid setting `s3 region`: `US East` is not a region name",
        ),
        (
            "a root that climbs out, from a flag",
            change(|f, o| {
                o.given.storage = Some("s3".into());
                o.given.s3 = Some(S3ConfigFile {
                    endpoint: Some("https://rgw.example.com".into()),
                    bucket: Some("mirror".into()),
                    root: Some("/a/../b".into()),
                    credentials_file: Some(f.p("s3-key")),
                    ..Default::default()
                });
            }),
            "--s3-root: invalid setting `s3 root`: `/a/../b` holds `.` or `..`",
        ),
        (
            "a credentials file of one line (never quoted)",
            change(|f, o| {
                o.file = yaml(&format!(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n  credentialsFile: {}\n",
                    f.p("pw").display()
                ))
            }),
            "s3.credentialsFile: S3 credentials file `{dir}/pw`: 1 non-empty lines and no `[profile]` section; expected an AWS credentials file",
        ),
        (
            "a missing credentials file, from a flag",
            change(|f, o| {
                o.file = yaml(
                    "storage: s3\ns3:\n  endpoint: https://rgw.example.com\n  bucket: mirror\n",
                );
                o.given.s3 = Some(S3ConfigFile {
                    credentials_file: Some(f.p("nope")),
                    ..Default::default()
                });
            }),
            "--s3-credentials-file: read S3 credentials file `{dir}/nope`: No such file or directory (os error 2) | -",
        ),
        (
            "a file that is no image archive, from the file",
            change(|f, o| o.file.image_archive = Some(f.p("pw"))),
            "imageArchive: image archive `{dir}/pw`: not a readable tar file: ",
        ),
        (
            "a missing image archive, from a flag",
            change(|f, o| o.given.image_archive = Some(f.p("nope.tar"))),
            "--image-archive: image archive `{dir}/nope.tar`: cannot open it: No such file or directory (os error 2) | on a host with network access save the image with `podman save -o registry.tar docker.io/library/registry:2`",
        ),
        (
            "an archive of two images, neither the one named",
            change(|f, o| {
                o.given.image_archive = Some(f.p("two.tar"));
                o.file.image = Some("quay.io/x/registry:9".into());
            }),
            "--image-archive: image archive `{dir}/two.tar`: it holds 2 images and none is named `quay.io/x/registry:9` (it holds `docker.io/library/registry:2`, `quay.io/x/registry:3`): name the one to run | on a host",
        ),
        (
            "an image archive with the process runtime",
            change(|f, o| {
                o.file.image_archive = Some(f.p("registry.tar"));
                o.given.runtime = Some("process".into());
            }),
            "imageArchive: invalid setting `image-archive`: an image archive is run by podman; the process runtime runs a distribution binary of this host | -",
        ),
        (
            "an empty http secret file, from the file",
            change(|f, o| o.file.http_secret_file = Some(f.p("empty"))),
            "httpSecretFile: invalid setting `http secret file {dir}/empty`: its first line is empty",
        ),
    ];
    for (name, f, want) in cases {
        let files = Files::new();
        let mut opts = files.options();
        f(&files, &mut opts);
        let host = (want != "NONAME").then_some("mirror.example.com");
        let e = build_for_test(opts, host).expect_err(name);
        let got = format!(
            "{} | {}",
            crate::ErrorChain(&e),
            e.hint().map(|h| h.to_string()).unwrap_or("-".into())
        );
        assert!(e.is_usage(), "{name}: {got}");
        assert!(!got.contains("not-the-secret"), "{name}: {got}");
        if want == "NONAME" {
            assert_eq!(
                got, "cannot tell this host's name (read the host name) | give `--hostname FQDN`",
                "{name}"
            );
            continue;
        }
        let want = want.replace("{dir}", &files.dir.path().display().to_string());
        assert!(got.starts_with(&want), "{name}:\n got: {got}\nwant: {want}");
    }
}

#[test]
fn without_names_messages_use_the_config_keys_and_secrets_never_show() {
    let files = Files::new();
    let mut opts = files.options();
    opts.names = None;
    opts.given.email = None;
    let e = build_for_test(opts.clone(), Some("h.example.com")).unwrap_err();
    assert_eq!(e.to_string(), "missing `email`");
    opts.given.email = Some("a@b.c".into());
    opts.rh_password = Some("hunter2".into());
    let debug = format!("{opts:?}");
    assert!(
        !debug.contains("from-prompt") && !debug.contains("hunter2"),
        "{debug}"
    );
    let e = build_for_test(opts, Some("h.example.com")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a Red Hat account password was given without `rhUsername`"
    );
}

#[test]
fn what_still_needs_asking() {
    let files = Files::new();
    let mut opts = files.options();
    assert!(!opts.needs_password());
    opts.password = None;
    assert!(opts.needs_password());
    opts.file.password_file = Some(files.p("pw"));
    assert!(!opts.needs_password());
    assert!(!opts.needs_rh_password());
    opts.file.rh_username = Some("rh".into());
    assert_eq!(opts.rh_username().as_deref(), Some("rh"));
    assert!(opts.needs_rh_password());
    opts.rh_password = Some("x".into());
    assert!(!opts.needs_rh_password());
}

/// [`InstallOptions::build`] against a made-up host: its name (or none), one address.
fn build_for_test(opts: InstallOptions, name: Option<&str>) -> Result<InstallSettings, Error> {
    opts.build_on(HostIdentity {
        name: name.map(str::to_string).ok_or(Error::HostFact {
            what: "read the host name".into(),
            source: None,
        }),
        addresses: vec!["192.0.2.10".parse().unwrap()],
    })
}

/// `fromDir`: the bundle's first release, by its original name; no `upstream` check (the
/// source is never reached); `version` or `release` beside it refused, naming both.
#[test]
fn a_bundle_decides_the_release_and_keeps_the_source_out_of_reach() {
    let files = Files::new();
    let bundle = files.p("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    std::fs::write(
        bundle.join("mirrorctl-bundle.json"),
        format!(
            r#"{{"schemaVersion":1,"kind":"MirrorctlBundle","bundleId":"x","createdAt":"2026-01-01T00:00:00Z",
            "tool":{{"name":"mirrorctl","version":"0.1.0"}},"layout":"directory",
            "releases":[{{"version":"4.14.1","architecture":"x86_64","source":"quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64","digest":"{digest}","mediaType":"m","components":1}}],
            "images":[],"mirrorSources":[],"blobs":{{"count":0,"bytes":0,"list":[]}},"requires":{{"count":0,"bytes":0,"list":[]}}}}"#
        ),
    )
    .unwrap();
    let mut opts = files.options();
    opts.given.version = None;
    opts.given.from_dir = Some(bundle.clone());
    let s = build_for_test(opts.clone(), Some("mirror.example.com")).unwrap();
    assert_eq!(
        (
            s.release.to_string(),
            s.from_dir.as_deref(),
            s.preflight.release.is_none()
        ),
        (
            "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64".to_string(),
            Some(bundle.as_path()),
            true
        )
    );
    opts.file.version = Some("4.15.0".into());
    let e = build_for_test(opts.clone(), Some("mirror.example.com")).unwrap_err();
    assert_eq!(
        crate::ErrorChain(&e).to_string(),
        "version: invalid setting `version`: the bundle given as `--from-dir` decides the release: leave `version` out"
    );
    opts.file.version = None;
    opts.given.from_dir = Some(files.p("nowhere"));
    let e = build_for_test(opts, Some("mirror.example.com")).unwrap_err();
    let e = crate::ErrorChain(&e).to_string();
    assert!(e.starts_with("--from-dir: "), "{e}");
    assert!(e.contains("mirrorctl-bundle.json"), "{e}");
}
