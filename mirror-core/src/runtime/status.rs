//! `registry status`: running, its storage answers (the data directory, or the S3 bucket: it
//! answers, the key works, an object can be written and removed), reachable over TLS with our
//! CA, login works, `_catalog` answers.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{RegistryLayout, RuntimeState, is_running};
use crate::auth::{AuthFile, Credential};
use crate::error::{Error, ErrorChain};
use crate::reference::Repository;
use crate::registry::{ClientOptions, RegistryClient, RetryPolicy};
use crate::storage::StorageSettings;

/// Settings of [`registry_status`].
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// The registry root (its state file and `certs/ca.crt`).
    pub root: PathBuf,
    /// The address to check, `host:port`. Default: the address it was bound to
    /// ([`super::UpOptions::bind`]), else this host's FQDN (else its name), and the port from
    /// the state file (else 5000).
    pub registry: Option<String>,
    /// The user to log in as; without it `login` and `catalog` are skipped.
    pub credential: Option<Credential>,
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It could not run (no credentials given, or an earlier check failed).
    Skip,
}

/// One check of [`registry_status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusCheck {
    /// `running`, `tls`, `login` or `catalog`.
    pub name: &'static str,
    /// Its result.
    pub state: CheckState,
    /// What was found.
    pub detail: String,
    /// The likely fix, when it failed.
    pub hint: Option<String>,
}

/// The result of [`registry_status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// No check failed.
    pub ok: bool,
    /// The address checked.
    pub registry: String,
    /// How it runs, when recorded.
    pub runtime: Option<String>,
    /// Where it stores content, when recorded (`filesystem ...`, `s3 bucket ...`).
    pub storage: Option<String>,
    /// The checks, in order.
    pub checks: Vec<StatusCheck>,
}

fn check(name: &'static str, result: Result<String, Error>) -> StatusCheck {
    match result {
        Ok(detail) => StatusCheck {
            name,
            state: CheckState::Pass,
            detail,
            hint: None,
        },
        Err(e) => StatusCheck {
            name,
            state: CheckState::Fail,
            detail: ErrorChain(&e).to_string(),
            hint: e.hint().map(String::from),
        },
    }
}

fn skip(name: &'static str, why: &str) -> StatusCheck {
    StatusCheck {
        name,
        state: CheckState::Skip,
        detail: why.to_string(),
        hint: None,
    }
}

/// Checks the registry under `opts.root`: its process (or unit, or container) runs; it answers
/// `/v2/` over TLS with a certificate `certs/ca.crt` verifies; the user logs in; `_catalog`
/// answers. Never fails: problems are failed checks.
pub async fn registry_status(opts: &StatusOptions) -> StatusReport {
    let layout = RegistryLayout::new(&opts.root);
    let mut checks = Vec::new();
    let state = RuntimeState::load(&layout);
    let recorded = state.as_ref().ok().and_then(|s| s.as_ref());
    let port = recorded.map_or(super::DEFAULT_REGISTRY_PORT, |s| s.port);
    // A registry bound to one address answers only there.
    let bound = recorded
        .and_then(|s| s.bind)
        .filter(|ip| !ip.is_unspecified());
    let registry = opts.registry.clone().unwrap_or_else(|| match bound {
        Some(ip) => std::net::SocketAddr::new(ip, port).to_string(),
        None => {
            let host = mirror_net::fqdn()
                .or_else(|| mirror_net::hostname().ok())
                .unwrap_or_else(|| "localhost".into());
            format!("{host}:{port}")
        }
    });
    let mut runtime = None;
    checks.push(match &state {
        Err(e) => check(
            "running",
            Err(Error::Runtime {
                reason: ErrorChain(e).to_string(),
                log: None,
            }),
        ),
        Ok(None) => StatusCheck {
            name: "running",
            state: CheckState::Fail,
            detail: format!(
                "no registry was started under `{}` (no {})",
                layout.root.display(),
                layout.state_file().display()
            ),
            hint: Some(format!(
                "start it with `mirrorctl registry up --root {}`",
                layout.root.display()
            )),
        },
        Ok(Some(s)) => {
            let how = format!(
                "{}, listening on {}",
                s.run.describe(&layout),
                super::describe_listen(s.bind, s.port)
            );
            runtime = Some(how.clone());
            if is_running(&layout, s) {
                check("running", Ok(how))
            } else {
                StatusCheck {
                    name: "running",
                    state: CheckState::Fail,
                    detail: format!("not running: {how}"),
                    hint: Some(
                        "read `mirrorctl registry logs`, then `mirrorctl registry up`".into(),
                    ),
                }
            }
        }
    });

    let (storage, storage_check) = match recorded {
        None => (
            None,
            skip(
                "storage",
                "no registry was started: no recorded configuration",
            ),
        ),
        Some(s) => storage_status(&layout, s).await,
    };
    checks.push(storage_check);

    let repo = Repository {
        registry: registry.clone(),
        path: "mirrorctl/status".into(),
    };
    let retry = RetryPolicy {
        max_tries: 2,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let ca = match std::fs::read(layout.ca_cert()) {
        Ok(pem) => Some(pem),
        Err(e) => {
            checks.push(check("tls", Err(Error::io("read CA", layout.ca_cert(), e))));
            None
        }
    };
    let mut tls_ok = false;
    if let Some(ca) = &ca {
        let anonymous = RegistryClient::new(ClientOptions {
            ca_pems: vec![ca.clone()],
            retry: retry.clone(),
            ..Default::default()
        });
        let result = match anonymous {
            Err(e) => Err(e),
            Ok(client) => match client.ping(&repo).await {
                Ok(()) => Ok(format!(
                    "https://{registry}/v2/ answers with a certificate our CA verifies (no login required)"
                )),
                Err(Error::Registry { status: 401, .. }) => Ok(format!(
                    "https://{registry}/v2/ answers with a certificate our CA verifies, and asks for a login"
                )),
                Err(e) => Err(e),
            },
        };
        tls_ok = result.is_ok();
        checks.push(check("tls", result));
    }

    match (&opts.credential, tls_ok) {
        (None, _) => {
            checks.push(skip("login", "no user given (`--username`)"));
            checks.push(skip("catalog", "no user given (`--username`)"));
        }
        (Some(_), false) => {
            checks.push(skip("login", "TLS failed"));
            checks.push(skip("catalog", "TLS failed"));
        }
        (Some(cred), true) => {
            let auth_json = serde_json::json!({
                "auths": { registry.clone(): { "auth": cred.to_auth_value() } }
            })
            .to_string();
            let client =
                AuthFile::parse(&auth_json, std::path::Path::new("--username")).and_then(|auth| {
                    RegistryClient::new(ClientOptions {
                        auth: Some(auth),
                        ca_pems: ca.iter().cloned().collect(),
                        retry,
                        ..Default::default()
                    })
                });
            match client {
                Err(e) => {
                    checks.push(check("login", Err(e)));
                    checks.push(skip("catalog", "login failed"));
                }
                Ok(client) => {
                    let login = client
                        .ping(&repo)
                        .await
                        .map(|()| format!("user `{}` logs in", cred.username));
                    let logged_in = login.is_ok();
                    let mut c = check("login", login);
                    if c.state == CheckState::Fail && c.detail.contains("401") {
                        c.hint = Some(format!(
                            "the registry refused user `{}`: set its password with `mirrorctl registry user add --htpasswd {} --username {}`",
                            cred.username,
                            layout.htpasswd().display(),
                            cred.username
                        ));
                    }
                    checks.push(c);
                    if logged_in {
                        let catalog = client
                            .catalog(&repo, 1000)
                            .await
                            .map(|repos| format!("`_catalog` lists {} repositories", repos.len()));
                        checks.push(check("catalog", catalog));
                    } else {
                        checks.push(skip("catalog", "login failed"));
                    }
                }
            }
        }
    }
    StatusReport {
        ok: checks.iter().all(|c| c.state != CheckState::Fail),
        registry,
        runtime,
        storage,
        checks,
    }
}

/// The `storage` check on the recorded configuration: the data directory exists (and how much
/// room is left), or the S3 bucket passes [`crate::storage::check_s3`] with the recorded key.
async fn storage_status(
    layout: &RegistryLayout,
    state: &RuntimeState,
) -> (Option<String>, StatusCheck) {
    let config = layout.config();
    match super::config::recorded_storage(&state.config, &config) {
        Err(e) => (
            None,
            check(
                "storage",
                Err(Error::Runtime {
                    reason: format!("the recorded configuration cannot be read: {e}"),
                    log: None,
                }),
            ),
        ),
        Ok((StorageSettings::Filesystem, dir)) => {
            // The container sees `/var/lib/registry`: that is `<root>/data` on the host.
            let dir = match state.run.runtime() {
                super::RuntimeChoice::Podman => layout.data(),
                _ => dir.map_or_else(|| layout.data(), PathBuf::from),
            };
            let what = format!("filesystem `{}`", dir.display());
            let result = if dir.is_dir() {
                Ok(match crate::preflight::disk_space(&dir) {
                    Ok(d) => format!("{what}: {} free", crate::size::format_size(d.free_bytes)),
                    Err(_) => format!("{what} exists"),
                })
            } else {
                Err(Error::Runtime {
                    reason: format!("{what} is missing"),
                    log: None,
                })
            };
            (Some(what), check("storage", result))
        }
        Ok((StorageSettings::S3(s3), _)) => {
            let what = s3.describe();
            let result = crate::storage::check_s3(&s3)
                .await
                .map(|r| format!("{what}: {}", r.describe()));
            let mut c = check("storage", result);
            // The key checked is the one recorded in config.yml, not a file to edit.
            if c.hint
                .as_deref()
                .is_some_and(|h| h.starts_with("check the access key"))
            {
                c.hint = Some(format!(
                    "the key recorded in `{}` was refused: start the registry again with a working key (`mirrorctl registry up` with the same storage settings and the right credentials file)",
                    config.display()
                ));
            }
            (Some(what), c)
        }
    }
}
