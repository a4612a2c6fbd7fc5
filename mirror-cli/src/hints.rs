//! Words a library [`Hint`] for the command that prints it: every flag a hint names exists on
//! that command (or on the `mirrorctl ...` command the hint spells out).

use std::sync::OnceLock;

use mirror_core::Hint;

/// The long flag names of the command being run, set once by `main` after parsing.
static FLAGS: OnceLock<Vec<String>> = OnceLock::new();

/// Records the command being run (the leaf subcommand) so hints name only its flags.
pub fn set_command(cmd: &clap::Command) {
    let _ = FLAGS.set(long_flags(cmd));
}

/// The long flags of `cmd`, without the dashes.
pub fn long_flags(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .flat_map(|a| {
            a.get_long()
                .into_iter()
                .chain(a.get_all_aliases().unwrap_or_default())
        })
        .map(str::to_string)
        .collect()
}

/// `hint` worded for the command being run.
pub fn render(hint: &Hint) -> String {
    let flags = FLAGS.get().map(Vec::as_slice).unwrap_or_default();
    render_for(hint, &|f| flags.iter().any(|x| x == f))
}

/// `hint` worded for a command whose long flags `has` answers for.
pub fn render_for(hint: &Hint, has: &dyn Fn(&str) -> bool) -> String {
    let generic = hint.to_string();
    match hint {
        Hint::TrustCa { target } => {
            let trust = "trust it on this host with `mirrorctl trust install --ca PEM --registry HOST:PORT`";
            if has("ca-file") {
                format!(
                    "the registry of `{target}` presents a certificate signed by an unknown CA: pass that CA with `--ca-file PEM`, or {trust}"
                )
            } else {
                format!(
                    "the registry of `{target}` presents a certificate signed by an unknown CA: {trust}"
                )
            }
        }
        Hint::CertificateName { .. } => {
            "use a host name the certificate names (see `openssl s_client -connect HOST:PORT`), or reissue the registry's certificate with this name as a SAN (`mirrorctl tls generate --hostname H --san NAME_OR_IP --force`); trusting another CA does not help here"
                .to_string()
        }
        Hint::CertificateExpired => {
            "renew the registry's certificate (`mirrorctl tls generate` renews an expiring leaf from the same CA) and restart the registry; also check this host's clock; trusting another CA does not help here"
                .to_string()
        }
        Hint::CertificateUnusable => {
            "the registry's certificate is unusable for TLS: check it with `mirrorctl tls verify --cert FILE --hostname HOST:PORT`"
                .to_string()
        }
        Hint::CheckConnection if has("insecure-registry") => {
            "check the registry host and port, proxy settings (HTTPS_PROXY/NO_PROXY) and firewalls; plain-HTTP registries need `--insecure-registry HOST:PORT`"
                .to_string()
        }
        Hint::AddCredentials { target } if has("registry-config") => format!(
            "no credentials matched the registry of `{target}`: add them to the auth file given with `-a/--registry-config`"
        ),
        Hint::AddCredentials { target } if has("pull-secret") => format!(
            "no credentials matched the registry of `{target}`: add them to the file given with `--pull-secret`"
        ),
        Hint::CheckReference => {
            "check the repository and tag; `mirrorctl release info REF` lists what a release holds"
                .to_string()
        }
        Hint::RateLimited { tries } if has("max-per-registry") => format!(
            "the registry kept rate-limiting after {tries} tries: lower `--max-per-registry` or rerun later (a rerun copies only what is missing)"
        ),
        Hint::HtpasswdFormat => {
            "each line is `user:$2y$...` (bcrypt); rewrite the user with `mirrorctl registry user add`"
                .to_string()
        }
        Hint::WouldOverwrite { path } => {
            let elsewhere = ["to", "output-dir", "dir"]
                .into_iter()
                .find(|f| has(f))
                .map(|f| format!("choose another `--{f}`"));
            let force = has("force").then(|| "pass `--force` to replace it".to_string());
            match (force, elsewhere) {
                (Some(a), Some(b)) => format!("`{}` holds something else: {a}, or {b}", path.display()),
                (Some(a), None) | (None, Some(a)) => format!(
                    "`{}` holds something else: {a}, or move it away",
                    path.display()
                ),
                (None, None) => generic,
            }
        }
        Hint::RotatePassword if has("rotate-password") => {
            "give the current password to keep it; to change it on purpose, rerun with `--rotate-password`, which updates htpasswd, the pull secret and the install-config snippet together"
                .to_string()
        }
        Hint::PortInUse { port } if has("port") => format!(
            "stop what listens on port {port} (a registry started by the old script is a container named `mirror-registry`: `podman rm -f mirror-registry`), or pick another `--port`"
        ),
        Hint::RegenerateCertificate { certs_dir } => format!(
            "make a new one with `mirrorctl tls generate --dir {} --hostname HOST --force` (it has the SANs clients need; `mirrorctl tls verify` shows every check)",
            certs_dir.display()
        ),
        Hint::SignatureUnavailable if has("signature-store") => {
            "copy the signatures from a connected host (`<store>/sha256=<hex>/signature-N`) and pass `--signature-store file://DIR` or an internal `--signature-store https://...`; or drop `--require-signatures` to mirror it unsigned"
                .to_string()
        }
        Hint::SignatureRejected if has("signature-key") => {
            "nothing was copied: the release or its signatures were altered, or the keys are not the release keys; mirror from the official source, or check the files given with `--signature-key`"
                .to_string()
        }
        Hint::StorageCredentials { file } if has("s3-credentials-file") => format!(
            "check the access key in `{}` (`--s3-credentials-file`): an AWS credentials file (`[default]` with `aws_access_key_id = ...` and `aws_secret_access_key = ...`), or two lines: the access key ID, then the secret",
            file.display()
        ),
        Hint::StorageEndpoint { endpoint } if has("s3-endpoint") => format!(
            "check `--s3-endpoint {endpoint}` (scheme, host, port), proxy settings (HTTPS_PROXY/NO_PROXY) and firewalls between this host and the object store; a private CA for it goes in this host's trust store"
        ),
        Hint::CreateBucket { bucket } if has("s3-bucket") => format!(
            "create the bucket `{bucket}` first (the registry never creates it), or fix `--s3-bucket`"
        ),
        Hint::StorageRegion if has("s3-region") => {
            "the bucket is in another region: give it with `--s3-region` (the store's error names it)"
                .to_string()
        }
        Hint::ReadLog { log } => format!(
            "read the registry's log: `{}` (or `mirrorctl registry logs`)",
            log.display()
        ),
        Hint::GraphUrl if has("graph-url") => format!("check `--graph-url`: {generic}"),
        Hint::GraphUnavailable { url } if has("graph-url") => format!(
            "check the URL and the proxy settings (HTTPS_PROXY, NO_PROXY), or rerun later; or save the graph where it can be reached (`curl -H 'Accept: application/json' '{url}' -o graph.json`) and pass it with `--graph-url graph.json`"
        ),
        Hint::NoUpgradePath {
            conditional,
            reachable,
            one_channel,
        } if !conditional.is_empty() && has("include-conditional") => {
            let mut t = format!(
                "the path needs {}: read the risks, then rerun with `--include-conditional` to follow them",
                conditional.join(", ")
            );
            if let Some(r) = reachable {
                t.push_str(&format!(
                    "; the newest version reachable from the start is {r}"
                ));
            }
            if let Some(c) = one_channel {
                t.push_str(&format!(
                    "; or pick the whole path in one channel: `{c}` also lists the releases that upgrade into it"
                ));
            }
            t
        }
        Hint::ReplaceCa { .. } if has("force") => {
            "rerun with `--force` to replace the CA and every certificate; clients that trust the old CA must then trust the new one"
                .to_string()
        }
        Hint::ReplaceCa { certs_dir } => format!(
            "replace the CA and every certificate on purpose with `mirrorctl tls generate --dir {} --hostname HOST --force`, or move them away; clients that trust the old CA must then trust the new one",
            certs_dir.display()
        ),
        Hint::ForeignCertificate { .. } if has("force") => {
            "put its CA in `ca.crt` and `ca.key` beside it, or rerun with `--force` to replace it with a certificate from a new CA"
                .to_string()
        }
        Hint::ForeignCertificate { certs_dir } => format!(
            "put its CA in `ca.crt` and `ca.key` in `{dir}`, or replace it with a certificate from a new CA: `mirrorctl tls generate --dir {dir} --hostname HOST --force`",
            dir = certs_dir.display()
        ),
        Hint::RunPreflight if has("skip-check") => {
            "run `mirrorctl preflight` for details and hints; `--skip-check NAME` waives a check that does not apply"
                .to_string()
        }
        Hint::RunPreflight => "run `mirrorctl preflight` for details and hints".to_string(),
        Hint::BindAddress if has("port") && has("bind") => {
            "give one of this host's addresses, e.g. `127.0.0.1` or `::1` (no port: that is `--port`); leave `--bind` out to listen on every interface"
                .to_string()
        }
        Hint::BundleIncomplete => {
            "the run that wrote this bundle did not finish: run the same `mirrorctl release mirror --to-dir DIR` again on the connected side (it continues where it stopped) and carry the bundle once it says `Success`"
                .to_string()
        }
        Hint::BundleDamaged => {
            "the file was damaged, cut short or left behind in transfer: copy it again from the connected side (`sha256sum -c mirrorctl-bundle.sha256` checks volumes), then check it with `mirrorctl bundle verify DIR`"
                .to_string()
        }
        Hint::NotABundle => {
            "name the directory holding `mirrorctl-bundle.json` (and the volumes), as written by `mirrorctl release mirror --to-dir DIR`"
                .to_string()
        }
        Hint::BundleBaseMissing {
            base_id,
            base_created,
        } => format!(
            "this bundle builds on bundle {base_id} (made {base_created}): publish that one into the same repository first (`mirrorctl release mirror --from-dir EARLIER_DIR --to REPO`), or make a full bundle (`mirrorctl release mirror --to-dir DIR` without a baseline)"
        ),
        Hint::BundleNoSpace { needed, free } if has("archive-size") => format!(
            "the bundle needs {} and {} are free there: free space, or choose a `--to-dir` on a larger filesystem",
            mirror_core::size::format_size(*needed),
            mirror_core::size::format_size(*free)
        ),
        _ => generic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    /// One of each hint, with values.
    fn samples() -> Vec<Hint> {
        vec![
            Hint::TrustCa {
                target: "r.example:5000/a/b".into(),
            },
            Hint::CheckConnection,
            Hint::CertificateName {
                target: "r.example:5000/a/b".into(),
                expected: Some("r.example".into()),
                presented: vec!["other.example".into()],
            },
            Hint::CertificateExpired,
            Hint::CertificateUnusable,
            Hint::CheckCredentials {
                entry: "`auth.json` entry `r.example:5000`".into(),
            },
            Hint::AddCredentials {
                target: "r.example:5000/a/b".into(),
            },
            Hint::CheckPermissions,
            Hint::CheckReference,
            Hint::RateLimited { tries: 6 },
            Hint::ReadOnlyRegistry,
            Hint::BodyTooLarge,
            Hint::RegistryFailing,
            Hint::ConfigFields,
            Hint::AuthFileFormat,
            Hint::CorruptSource,
            Hint::HtpasswdFormat,
            Hint::RotatePassword,
            Hint::WouldOverwrite {
                path: "/tmp/out.json".into(),
            },
            Hint::PortInUse { port: 5000 },
            Hint::ReadLog {
                log: "/opt/registry/registry.log".into(),
            },
            Hint::RegenerateCertificate {
                certs_dir: "/opt/registry/certs".into(),
            },
            Hint::StorageCredentials {
                file: "/root/s3-credentials".into(),
            },
            Hint::StorageEndpoint {
                endpoint: "https://s3.example.com".into(),
            },
            Hint::CreateBucket {
                bucket: "mirror".into(),
            },
            Hint::StoragePermissions {
                bucket: "mirror".into(),
            },
            Hint::StorageRegion,
            Hint::CheckChannel {
                channel: "stable-4.99".into(),
                arch: "amd64".into(),
                known: vec!["stable-4.14".into()],
            },
            Hint::GraphUrl,
            Hint::GraphUnavailable {
                url: "https://g.example/graph?channel=stable-4.14&arch=amd64".into(),
            },
            Hint::GraphFormat,
            Hint::VersionsInChannel {
                oldest: "4.14.1".into(),
                newest: "4.14.30".into(),
                nearest: vec!["4.14.29".into()],
            },
            Hint::VersionOrder,
            Hint::VersionFormat,
            Hint::NoUpgradePath {
                conditional: vec!["the conditional edge 4.14.3 -> 4.14.5 (risks: `BugA`)".into()],
                reachable: Some("4.14.4".into()),
                one_channel: Some("stable-4.15".into()),
            },
            Hint::NotSupportedYet {
                field: "mirror.operators".into(),
            },
            Hint::ImageSetConfigFormat,
            Hint::Worded {
                advice: "did you mean `10.0.0.0/16`".into(),
            },
            Hint::SizeFormat,
            Hint::PortRange,
            Hint::KnownNames {
                kind: "check",
                known: vec!["os", "disk"],
            },
            Hint::InstallConfigFormat,
            Hint::ReplaceCa {
                certs_dir: "/opt/registry/certs".into(),
            },
            Hint::ForeignCertificate {
                certs_dir: "/opt/registry/certs".into(),
            },
            Hint::RunPreflight,
            Hint::BindAddress,
            Hint::SignatureRejected,
            Hint::SignatureUnavailable,
            Hint::SignatureKeyFormat,
            Hint::BundleIncomplete,
            Hint::BundleDamaged,
            Hint::BundleVersion {
                found: 2,
                supported: 1,
            },
            Hint::NotABundle,
            Hint::BundleDirNotEmpty,
            Hint::BundleNoSpace {
                needed: 5 << 30,
                free: 1 << 30,
            },
            Hint::BundleBaseMissing {
                base_id: "2e640ca3-a5cf-4186-bbda-103c629abd91".into(),
                base_created: "2026-12-06T04:22:25Z".into(),
            },
            Hint::BundleOtherContent,
        ]
    }

    /// Every leaf command, by its path under `mirrorctl`.
    fn leaves(
        cmd: &clap::Command,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, clap::Command)>,
    ) {
        if !cmd.has_subcommands() {
            out.push((path.clone(), cmd.clone()));
        }
        for sub in cmd.get_subcommands() {
            path.push(sub.get_name().to_string());
            leaves(sub, path, out);
            path.pop();
        }
    }

    /// The `--flags` a hint names, each with the command words it belongs to: inside a
    /// backticked `mirrorctl A B ...` they are that command's, elsewhere the printing command's.
    fn named_flags(text: &str) -> Vec<(Option<Vec<String>>, String)> {
        let mut out = Vec::new();
        for (i, part) in text.split('`').enumerate() {
            let quoted = i % 2 == 1;
            let words: Vec<&str> = part.split_whitespace().collect();
            let owner = (quoted && words.first() == Some(&"mirrorctl")).then(|| {
                words[1..]
                    .iter()
                    .take_while(|w| !w.starts_with('-'))
                    .map(|w| w.to_string())
                    .collect::<Vec<_>>()
            });
            for w in part.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '/')) {
                for piece in w.split('/') {
                    if let Some(flag) = piece.strip_prefix("--") {
                        out.push((owner.clone(), flag.to_string()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_hint_names_only_flags_of_the_command_printing_it() {
        let root = crate::cli::Cli::command();
        let mut all = Vec::new();
        leaves(&root, &mut Vec::new(), &mut all);
        assert!(all.len() > 10);
        let find = |words: &[String]| {
            let mut cmd = &root;
            for w in words {
                cmd = cmd
                    .find_subcommand(w)
                    .unwrap_or_else(|| panic!("no command `mirrorctl {}`", words.join(" ")));
            }
            long_flags(cmd)
        };
        let mut checked = 0;
        for (path, leaf) in &all {
            let flags = long_flags(leaf);
            for hint in samples() {
                let text = render_for(&hint, &|f| flags.iter().any(|x| x == f));
                for (owner, flag) in named_flags(&text) {
                    let (who, known) = match &owner {
                        Some(words) => (words.join(" "), find(words)),
                        None => (path.join(" "), flags.clone()),
                    };
                    assert!(
                        known.contains(&flag),
                        "`mirrorctl {}` prints a hint naming `--{flag}`, which `mirrorctl {who}` does not have: {text}",
                        path.join(" ")
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "{checked}");
    }

    #[test]
    fn hints_name_the_flags_the_command_has() {
        let path = Hint::WouldOverwrite {
            path: "/o/pull-secret.json".into(),
        };
        let with = |fl: &'static [&'static str]| move |f: &str| fl.contains(&f);
        for (flags, want) in [
            (
                &["force", "to"][..],
                "`/o/pull-secret.json` holds something else: pass `--force` to replace it, or choose another `--to`",
            ),
            (
                &["output-dir"][..],
                "`/o/pull-secret.json` holds something else: choose another `--output-dir`, or move it away",
            ),
            (
                &[][..],
                "move `/o/pull-secret.json` away or write somewhere else: it is never replaced unasked",
            ),
        ] {
            assert_eq!(render_for(&path, &with(flags)), want);
        }
        let auth = Hint::AddCredentials {
            target: "q.io/a".into(),
        };
        assert!(render_for(&auth, &with(&["registry-config"])).contains("`-a/--registry-config`"));
        assert!(render_for(&auth, &with(&["pull-secret"])).contains("`--pull-secret`"));
        assert!(!render_for(&auth, &with(&[])).contains("--"));
    }
}
