//! The distribution registry's `config.yml`: the settings `createMirrorRegistry.sh` passed as
//! `REGISTRY_*` environment variables, plus delete and a storage health check; with S3
//! storage, the bucket (keys for the registry's version), the redirect mode and the shared
//! `http.secret`.

use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;
use serde_saphyr::{DoubleQuoted, FlowSeq};

use super::version::RegistryVersion;
use crate::storage::{S3Storage, StorageSettings};

/// Where the registry finds its files: on the host (process runtime) or inside the container
/// (podman, with `<root>/{data,auth,certs}` mounted at the `registry:2` image's paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathStyle {
    /// `<root>/data`, `<root>/certs/domain.crt`, ...
    Host,
    /// `/var/lib/registry`, `/certs/domain.crt`, `/auth/htpasswd`.
    Container,
}

/// The htpasswd realm the script used (`REGISTRY_AUTH_HTPASSWD_REALM`).
pub(crate) const REALM: &str = "Registry Realm";

/// The `config.yml` text for a registry on `bind:port` (every interface without `bind`) with
/// its files under `root`, storing in `<root>/data`.
#[cfg(test)]
pub(crate) fn render_config(
    root: &Path,
    port: u16,
    bind: Option<IpAddr>,
    style: PathStyle,
) -> String {
    render(&ConfigSpec {
        root,
        port,
        bind,
        style,
        storage: &StorageSettings::Filesystem,
        version: RegistryVersion::DEFAULT,
        http_secret: None,
    })
}

/// What a `config.yml` is made from.
pub(crate) struct ConfigSpec<'a> {
    /// The registry root.
    pub root: &'a Path,
    /// The port.
    pub port: u16,
    /// The listen address; `None`: every interface.
    pub bind: Option<IpAddr>,
    /// Host or container paths.
    pub style: PathStyle,
    /// Where content is stored.
    pub storage: &'a StorageSettings,
    /// The registry's release (the S3 keys differ between 2.x and 3.x).
    pub version: RegistryVersion,
    /// `http.secret`, when set.
    pub http_secret: Option<&'a str>,
}

/// The `config.yml` text for `spec`.
///
/// Built from [`RegistryConfig`] and serialized by serde-saphyr. Paths, the address and the
/// realm are double-quoted (any path reads back exactly), the header list is a flow sequence:
/// with filesystem storage the bytes are those earlier releases wrote, so an upgrade does not
/// restart a registry whose configuration did not change.
pub(crate) fn render(spec: &ConfigSpec<'_>) -> String {
    let ConfigSpec {
        root,
        port,
        bind,
        style,
        ..
    } = *spec;
    let (data, cert, key, htpasswd) = match style {
        PathStyle::Host => (
            root.join("data").display().to_string(),
            root.join("certs/domain.crt").display().to_string(),
            root.join("certs/domain.key").display().to_string(),
            root.join("auth/htpasswd").display().to_string(),
        ),
        PathStyle::Container => (
            "/var/lib/registry".to_string(),
            "/certs/domain.crt".to_string(),
            "/certs/domain.key".to_string(),
            "/auth/htpasswd".to_string(),
        ),
    };
    let addr = match style {
        PathStyle::Host => super::listen_addr(bind, port),
        // Inside the container the registry listens on every interface of the container, on
        // 5000; podman publishes `[BIND:]PORT:5000` on the host.
        PathStyle::Container => ":5000".to_string(),
    };
    let config = RegistryConfig {
        version: 0.1,
        log: Log {
            level: "info",
            fields: LogFields {
                service: "registry",
            },
        },
        storage: Storage {
            filesystem: match spec.storage {
                StorageSettings::Filesystem => Some(Filesystem {
                    rootdirectory: DoubleQuoted(data),
                }),
                StorageSettings::S3(_) => None,
            },
            s3: spec.storage.s3().map(|s| s3_section(s, spec.version)),
            delete: Enabled { enabled: true },
            cache: Cache {
                blobdescriptor: "inmemory",
            },
            maintenance: Maintenance {
                uploadpurging: UploadPurging {
                    enabled: true,
                    age: "168h",
                    interval: "24h",
                    dryrun: false,
                },
            },
            redirect: spec.storage.s3().map(|s| Redirect {
                disable: !s.redirect,
            }),
        },
        http: Http {
            addr: DoubleQuoted(addr),
            secret: spec.http_secret.map(|s| DoubleQuoted(s.to_string())),
            headers: Headers {
                content_type_options: FlowSeq(["nosniff"]),
            },
            tls: Tls {
                certificate: DoubleQuoted(cert),
                key: DoubleQuoted(key),
            },
        },
        auth: Auth {
            htpasswd: HtpasswdAuth {
                realm: DoubleQuoted(REALM.to_string()),
                path: DoubleQuoted(htpasswd),
            },
        },
        health: Health {
            storagedriver: StorageHealth {
                enabled: true,
                interval: "10s",
                threshold: 3,
            },
        },
    };
    let yaml = serde_saphyr::to_string_with_options(
        &config,
        serde_saphyr::ser_options! { indent_step: 2 },
    )
    .expect("plain structs of strings always serialize");
    format!(
        "# Generated by mirrorctl (`mirrorctl registry up`); rerunning it rewrites this file.\n{yaml}"
    )
}

/// The `storage.s3` section. 2.x forces path-style addressing whenever `regionendpoint` is
/// set and has no `forcepathstyle` key; 3.x needs `forcepathstyle: true` with an endpoint.
fn s3_section(s: &S3Storage, version: RegistryVersion) -> S3Section {
    S3Section {
        accesskey: DoubleQuoted(s.credentials.access_key_id.clone()),
        secretkey: DoubleQuoted(s.credentials.secret_access_key.clone()),
        region: DoubleQuoted(s.region.clone()),
        regionendpoint: DoubleQuoted(s.endpoint_str()),
        forcepathstyle: version.needs_forcepathstyle().then_some(true),
        bucket: DoubleQuoted(s.bucket.clone()),
        secure: s.secure(),
        v4auth: true,
        rootdirectory: s.root_directory.clone().map(DoubleQuoted),
    }
}

/// Whether a `config.yml` holds secrets (an S3 secret key or `http.secret`): it and the state
/// file recording it are then written 0600.
pub(crate) fn holds_secrets(config: &str) -> bool {
    let Ok(v) = serde_saphyr::from_str::<serde_json::Value>(config) else {
        // Unreadable: assume the worst.
        return true;
    };
    !v["storage"]["s3"]["secretkey"].is_null() || !v["http"]["secret"].is_null()
}

/// The storage a recorded `config.yml` uses: the filesystem directory, or the S3 settings
/// (with the key read back from the configuration, `config_path` naming where it is).
pub(crate) fn recorded_storage(
    config: &str,
    config_path: &Path,
) -> Result<(StorageSettings, Option<String>), String> {
    let v: serde_json::Value = serde_saphyr::from_str(config).map_err(|e| e.to_string())?;
    let st = &v["storage"];
    if let Some(dir) = st["filesystem"]["rootdirectory"].as_str() {
        return Ok((StorageSettings::Filesystem, Some(dir.to_string())));
    }
    let s3 = &st["s3"];
    if s3.is_null() {
        return Err("it names neither filesystem nor s3 storage".into());
    }
    let text = |k: &str| s3[k].as_str().map(str::to_string);
    let endpoint = text("regionendpoint").ok_or("`storage.s3.regionendpoint` is missing")?;
    let bucket = text("bucket").ok_or("`storage.s3.bucket` is missing")?;
    let storage = S3Storage {
        endpoint: url::Url::parse(&endpoint).map_err(|e| format!("`{endpoint}`: {e}"))?,
        bucket,
        region: text("region").unwrap_or_else(|| crate::storage::DEFAULT_S3_REGION.into()),
        root_directory: text("rootdirectory"),
        credentials: crate::storage::S3Credentials {
            access_key_id: text("accesskey").unwrap_or_default(),
            secret_access_key: text("secretkey").unwrap_or_default(),
            source: config_path.to_path_buf(),
        },
        redirect: !st["redirect"]["disable"].as_bool().unwrap_or(false),
    };
    Ok((StorageSettings::S3(Box::new(storage)), None))
}

/// The distribution registry's configuration, as far as mirrorctl sets it (field names are
/// the registry's own).
#[derive(Serialize)]
struct RegistryConfig {
    version: f64,
    log: Log,
    storage: Storage,
    http: Http,
    auth: Auth,
    health: Health,
}

#[derive(Serialize)]
struct Log {
    level: &'static str,
    fields: LogFields,
}

#[derive(Serialize)]
struct LogFields {
    service: &'static str,
}

#[derive(Serialize)]
struct Storage {
    #[serde(skip_serializing_if = "Option::is_none")]
    filesystem: Option<Filesystem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3: Option<S3Section>,
    delete: Enabled,
    cache: Cache,
    maintenance: Maintenance,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect: Option<Redirect>,
}

#[derive(Serialize)]
struct S3Section {
    accesskey: DoubleQuoted<String>,
    secretkey: DoubleQuoted<String>,
    region: DoubleQuoted<String>,
    regionendpoint: DoubleQuoted<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forcepathstyle: Option<bool>,
    bucket: DoubleQuoted<String>,
    secure: bool,
    v4auth: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rootdirectory: Option<DoubleQuoted<String>>,
}

#[derive(Serialize)]
struct Redirect {
    disable: bool,
}

#[derive(Serialize)]
struct Filesystem {
    rootdirectory: DoubleQuoted<String>,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Serialize)]
struct Cache {
    blobdescriptor: &'static str,
}

#[derive(Serialize)]
struct Maintenance {
    uploadpurging: UploadPurging,
}

#[derive(Serialize)]
struct UploadPurging {
    enabled: bool,
    age: &'static str,
    interval: &'static str,
    dryrun: bool,
}

#[derive(Serialize)]
struct Http {
    addr: DoubleQuoted<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<DoubleQuoted<String>>,
    headers: Headers,
    tls: Tls,
}

#[derive(Serialize)]
struct Headers {
    #[serde(rename = "X-Content-Type-Options")]
    content_type_options: FlowSeq<[&'static str; 1]>,
}

#[derive(Serialize)]
struct Tls {
    certificate: DoubleQuoted<String>,
    key: DoubleQuoted<String>,
}

#[derive(Serialize)]
struct Auth {
    htpasswd: HtpasswdAuth,
}

#[derive(Serialize)]
struct HtpasswdAuth {
    realm: DoubleQuoted<String>,
    path: DoubleQuoted<String>,
}

#[derive(Serialize)]
struct Health {
    storagedriver: StorageHealth,
}

#[derive(Serialize)]
struct StorageHealth {
    enabled: bool,
    interval: &'static str,
    threshold: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_config_golden() {
        assert_eq!(
            render_config(Path::new("/opt/registry"), 5000, None, PathStyle::Host),
            r#"# Generated by mirrorctl (`mirrorctl registry up`); rerunning it rewrites this file.
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: "/opt/registry/data"
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
http:
  addr: ":5000"
  headers:
    X-Content-Type-Options: [nosniff]
  tls:
    certificate: "/opt/registry/certs/domain.crt"
    key: "/opt/registry/certs/domain.key"
auth:
  htpasswd:
    realm: "Registry Realm"
    path: "/opt/registry/auth/htpasswd"
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"#
        );
    }

    #[test]
    fn container_config_uses_the_image_paths_and_port_5000() {
        let c = render_config(
            Path::new("/srv/reg"),
            8443,
            Some("127.0.0.1".parse().unwrap()),
            PathStyle::Container,
        );
        for want in [
            "rootdirectory: \"/var/lib/registry\"",
            "addr: \":5000\"",
            "certificate: \"/certs/domain.crt\"",
            "path: \"/auth/htpasswd\"",
        ] {
            assert!(c.contains(want), "{want} missing from\n{c}");
        }
        assert!(!c.contains("/srv/reg") && !c.contains("8443") && !c.contains("127.0.0.1"));
    }

    #[test]
    fn odd_paths_are_quoted() {
        let c = render_config(
            Path::new("/srv/my registry: #1"),
            5000,
            None,
            PathStyle::Host,
        );
        assert!(
            c.contains("rootdirectory: \"/srv/my registry: #1/data\""),
            "{c}"
        );
    }

    /// A root holding `: `, `#`, quotes and a backslash reads back exactly, in every path.
    #[test]
    fn hostile_paths_read_back_exactly() {
        #[derive(serde::Deserialize)]
        struct Back {
            version: f64,
            storage: BackStorage,
            http: BackHttp,
            auth: BackAuth,
        }
        #[derive(serde::Deserialize)]
        struct BackStorage {
            filesystem: std::collections::BTreeMap<String, String>,
        }
        #[derive(serde::Deserialize)]
        struct BackHttp {
            addr: String,
            headers: std::collections::BTreeMap<String, Vec<String>>,
            tls: std::collections::BTreeMap<String, String>,
        }
        #[derive(serde::Deserialize)]
        struct BackAuth {
            htpasswd: std::collections::BTreeMap<String, String>,
        }
        let root = r#"/srv/a: b # c/'q' "d" \e"#;
        let c = render_config(
            Path::new(root),
            5000,
            Some("::1".parse().unwrap()),
            PathStyle::Host,
        );
        let back: Back = serde_saphyr::from_str(&c).unwrap();
        assert_eq!(back.version, 0.1);
        assert_eq!(
            back.storage.filesystem["rootdirectory"],
            format!("{root}/data")
        );
        assert_eq!(back.http.addr, "[::1]:5000");
        assert_eq!(back.http.headers["X-Content-Type-Options"], ["nosniff"]);
        assert_eq!(
            back.http.tls["certificate"],
            format!("{root}/certs/domain.crt")
        );
        assert_eq!(back.http.tls["key"], format!("{root}/certs/domain.key"));
        assert_eq!(back.auth.htpasswd["realm"], REALM);
        assert_eq!(back.auth.htpasswd["path"], format!("{root}/auth/htpasswd"));
    }

    #[test]
    fn the_config_is_yaml_with_the_expected_values() {
        let c = render_config(Path::new("/opt/registry"), 5001, None, PathStyle::Host);
        let v: serde_json::Value = serde_saphyr::from_str(&c).unwrap();
        assert_eq!(v["http"]["addr"], ":5001");
        for (bind, addr) in [
            ("127.0.0.1", "127.0.0.1:5001"),
            ("::1", "[::1]:5001"),
            ("0.0.0.0", "0.0.0.0:5001"),
            ("fe80::1", "[fe80::1]:5001"),
        ] {
            let c = render_config(
                Path::new("/opt/registry"),
                5001,
                Some(bind.parse().unwrap()),
                PathStyle::Host,
            );
            let v: serde_json::Value = serde_saphyr::from_str(&c).unwrap();
            assert_eq!(v["http"]["addr"], addr, "{bind}");
        }
        assert_eq!(v["storage"]["delete"]["enabled"], true);
        assert_eq!(v["auth"]["htpasswd"]["path"], "/opt/registry/auth/htpasswd");
        assert_eq!(v["health"]["storagedriver"]["enabled"], true);
    }

    fn s3(redirect: bool) -> StorageSettings {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("c");
        std::fs::write(&creds, "AKIAEXAMPLE\nwJalr/K7+MDENG=\n").unwrap();
        StorageSettings::S3(Box::new(
            S3Storage::new(
                "https://rgw.example.com:8443",
                "mirror",
                None,
                Some("/ocp"),
                &creds,
                redirect,
            )
            .unwrap(),
        ))
    }

    #[test]
    fn s3_config_for_2_8_and_3_x() {
        let storage = s3(true);
        let spec = |version, secret| ConfigSpec {
            root: Path::new("/opt/registry"),
            port: 5000,
            bind: None,
            style: PathStyle::Host,
            storage: &storage,
            version,
            http_secret: secret,
        };
        let c = render(&spec(RegistryVersion::DEFAULT, Some("shared-secret")));
        let storage_part = &c[c.find("storage:").unwrap()..c.find("http:").unwrap()];
        assert_eq!(
            storage_part,
            r#"storage:
  s3:
    accesskey: "AKIAEXAMPLE"
    secretkey: "wJalr/K7+MDENG="
    region: "us-east-1"
    regionendpoint: "https://rgw.example.com:8443"
    bucket: "mirror"
    secure: true
    v4auth: true
    rootdirectory: "/ocp"
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
  redirect:
    disable: false
"#
        );
        assert!(
            c.contains("  addr: \":5000\"\n  secret: \"shared-secret\"\n"),
            "{c}"
        );
        assert!(holds_secrets(&c));
        let v3 = render(&spec(RegistryVersion { major: 3, minor: 0 }, None));
        assert!(
            v3.contains("    regionendpoint: \"https://rgw.example.com:8443\"\n    forcepathstyle: true\n    bucket: \"mirror\"\n"),
            "{v3}"
        );
        assert!(!v3.contains("secret: \"shared"), "{v3}");
        let proxied = s3(false);
        let c = render(&ConfigSpec {
            storage: &proxied,
            ..spec(RegistryVersion::DEFAULT, None)
        });
        assert!(c.contains("  redirect:\n    disable: true\n"), "{c}");
        let (recorded, _) = recorded_storage(&c, Path::new("/opt/registry/config.yml")).unwrap();
        let mut want = proxied.s3().unwrap().clone();
        want.credentials.source = "/opt/registry/config.yml".into();
        assert_eq!(recorded, StorageSettings::S3(Box::new(want)));
        let back: serde_json::Value = serde_saphyr::from_str(&c).unwrap();
        assert_eq!(back["storage"]["s3"]["secretkey"], "wJalr/K7+MDENG=");
        assert_eq!(back["storage"]["s3"]["secure"], true);
        assert!(back["storage"]["filesystem"].is_null());
        let fs = render_config(Path::new("/opt/registry"), 5000, None, PathStyle::Host);
        assert!(!holds_secrets(&fs));
        assert_eq!(
            recorded_storage(&fs, Path::new("c")).unwrap(),
            (
                StorageSettings::Filesystem,
                Some("/opt/registry/data".to_string())
            )
        );
        assert!(holds_secrets(&render(&ConfigSpec {
            storage: &StorageSettings::Filesystem,
            ..spec(RegistryVersion::DEFAULT, Some("x"))
        })));
    }
}
