//! `upstream`: the release source answers, accepts the auth file's credentials and holds the
//! release; the auth file is not empty.

use super::{HostFacts, Outcome, PreflightOptions};

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let Some(image) = &opts.release else {
        return Outcome::skipped("no `--release` given");
    };
    if opts.offline {
        return Outcome::skipped("`--offline`");
    }
    // `{"auths":{}}` is a pull secret with nothing in it: the Red Hat part is missing, and the
    // cluster could pull nothing from Red Hat's registries with it.
    if let Some(a) = opts.auth().filter(|a| a.keys().next().is_none()) {
        return Outcome::fail(format!(
            "auth file `{}` holds no credentials: the Red Hat pull secret is missing",
            a.path().display()
        ))
        .hint(crate::pull_secret::GET_PULL_SECRET.to_string());
    }
    match &facts.upstream {
        None => Outcome::skipped(format!("`{}` not contacted", image.repo.registry)),
        // Not a failure to look: an unreachable or refusing source is what this check finds.
        Some(Err(e)) => Outcome::fail(crate::error::ErrorChain(&**e).to_string())
            .hint(e.hint().map(|h| h.to_string())),
        Some(Ok(u)) => {
            let who = match &u.credential {
                Some(entry) => format!("credentials from {entry} accepted"),
                None => match opts.auth() {
                    Some(a) => format!(
                        "anonymous: no entry for `{}` in `{}`",
                        u.registry,
                        a.path().display()
                    ),
                    None => "anonymous: no auth file".to_string(),
                },
            };
            match &u.release_digest {
                Some(digest) => Outcome::pass(format!(
                    "`{}` answers for `{}` and holds `{image}` (`{digest}`); {who}",
                    u.registry, u.repository
                )),
                None => Outcome::fail(format!(
                    "release `{image}` not found: `{}` answered 404 for its manifest; {who}",
                    u.registry
                ))
                .hint(format!(
                    "check the version and architecture in the reference (`{}` has no `{}`)",
                    u.repository,
                    image.target.as_str()
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::test_support::{healthy, run_one};
    use super::super::{PreflightOptions, UpstreamFacts};
    use crate::auth::AuthFile;
    use crate::{ClientOptions, ImageRef};

    #[test]
    fn upstream_table() {
        let image =
            ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64").unwrap();
        let auth = AuthFile::parse(
            r#"{"auths":{"registry.redhat.io":{"auth":"dTpw"}}}"#,
            Path::new("/root/pull-secret.json"),
        )
        .unwrap();
        let empty = AuthFile::parse(r#"{"auths":{}}"#, Path::new("/root/empty.json")).unwrap();
        let digest = "sha256:8c7d0b7c3f1f1cbd6f2b4d2bd6a0bd0ed6b2a1e3c1e8a6f5f2c3d4e5f6a7b8c9";
        let up = |credential: Option<&str>| UpstreamFacts {
            registry: "quay.io".into(),
            repository: "quay.io/openshift-release-dev/ocp-release".into(),
            credential: credential.map(str::to_string),
            release_digest: Some(digest.into()),
        };
        let missing = UpstreamFacts {
            release_digest: None,
            ..up(None)
        };
        let opts = |release: bool, offline: bool, auth: Option<AuthFile>| PreflightOptions {
            release: release.then(|| image.clone()),
            offline,
            client: ClientOptions {
                auth,
                ..Default::default()
            },
            ..Default::default()
        };
        let cases = [
            (
                None,
                opts(false, false, None),
                "skipped | no `--release` given",
            ),
            (None, opts(true, true, None), "skipped | `--offline`"),
            (
                Some(Ok(up(Some("entry `quay.io` of `/root/pull-secret.json`")))),
                opts(true, false, None),
                "pass | `quay.io` answers for `quay.io/openshift-release-dev/ocp-release` and holds `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64` (`sha256:8c7d0b7c3f1f1cbd6f2b4d2bd6a0bd0ed6b2a1e3c1e8a6f5f2c3d4e5f6a7b8c9`); credentials from entry `quay.io` of `/root/pull-secret.json` accepted",
            ),
            (
                Some(Ok(up(None))),
                opts(true, false, Some(auth.clone())),
                "pass | `quay.io` answers for `quay.io/openshift-release-dev/ocp-release` and holds `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64` (`sha256:8c7d0b7c3f1f1cbd6f2b4d2bd6a0bd0ed6b2a1e3c1e8a6f5f2c3d4e5f6a7b8c9`); anonymous: no entry for `quay.io` in `/root/pull-secret.json`",
            ),
            (
                Some(Ok(up(None))),
                opts(true, false, None),
                "pass | `quay.io` answers for `quay.io/openshift-release-dev/ocp-release` and holds `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64` (`sha256:8c7d0b7c3f1f1cbd6f2b4d2bd6a0bd0ed6b2a1e3c1e8a6f5f2c3d4e5f6a7b8c9`); anonymous: no auth file",
            ),
            // The registry answers, but not for this release.
            (
                Some(Ok(missing)),
                opts(true, false, None),
                "fail | release `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64` not found: `quay.io` answered 404 for its manifest; anonymous: no auth file | hint: check the version and architecture in the reference (`quay.io/openshift-release-dev/ocp-release` has no `4.14.1-x86_64`)",
            ),
            // `{"auths":{}}`: the Red Hat pull secret is missing, whatever the registry says.
            (
                Some(Ok(up(None))),
                opts(true, false, Some(empty)),
                "fail | auth file `/root/empty.json` holds no credentials: the Red Hat pull secret is missing | hint: download your pull secret from console.redhat.com/openshift/install/pull-secret and use that file",
            ),
            (
                Some(Err(std::sync::Arc::new(crate::Error::Registry {
                    op: "ping registry",
                    target: "quay.io".into(),
                    status: 401,
                    code: Some("UNAUTHORIZED".into()),
                    message: None,
                    tries: 1,
                    auth_entry: Some("entry `quay.io` of `/root/pull-secret.json`".into()),
                    retry_after: None,
                }))),
                opts(true, false, None),
                "fail | ping registry `quay.io`: registry answered 401 UNAUTHORIZED (after 1 try) | hint: the credentials from entry `quay.io` of `/root/pull-secret.json` were refused: check that entry's `auth` (base64 of `user:password`)",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(u, o, _)| {
                let mut f = healthy();
                f.upstream = u.clone();
                run_one("upstream", &f, o)
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.2).collect::<Vec<_>>());
    }
}
