//! `upstream`: the release source answers and accepts the auth file's credentials.

use super::{HostFacts, Outcome, PreflightOptions};

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let Some(image) = &opts.release else {
        return Outcome::skipped("no `--release` given");
    };
    if opts.offline {
        return Outcome::skipped("`--offline`");
    }
    match &facts.upstream {
        None => Outcome::skipped(format!("`{}` not contacted", image.repo.registry)),
        // Not a failure to look: an unreachable or refusing source is what this check finds.
        Some(Err(e)) => Outcome::fail(e.message.clone()).hint(e.hint.clone()),
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
            Outcome::pass(format!(
                "`{}` answers for `{}`; {who}",
                u.registry, u.repository
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::test_support::{healthy, run_one};
    use super::super::{PreflightOptions, ProbeError, UpstreamFacts};
    use crate::{AuthFile, ClientOptions, ImageRef};

    #[test]
    fn upstream_table() {
        let image =
            ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64").unwrap();
        let auth = AuthFile::parse(
            r#"{"auths":{"registry.redhat.io":{"auth":"dTpw"}}}"#,
            Path::new("/root/pull-secret.json"),
        )
        .unwrap();
        let up = |credential: Option<&str>| UpstreamFacts {
            registry: "quay.io".into(),
            repository: "quay.io/openshift-release-dev/ocp-release".into(),
            credential: credential.map(str::to_string),
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
            (None, opts(false, false, None), "skipped | no `--release` given"),
            (None, opts(true, true, None), "skipped | `--offline`"),
            (Some(Ok(up(Some("entry `quay.io` of `/root/pull-secret.json`")))), opts(true, false, None),
             "pass | `quay.io` answers for `quay.io/openshift-release-dev/ocp-release`; credentials from entry `quay.io` of `/root/pull-secret.json` accepted"),
            (Some(Ok(up(None))), opts(true, false, Some(auth.clone())),
             "pass | `quay.io` answers for `quay.io/openshift-release-dev/ocp-release`; anonymous: no entry for `quay.io` in `/root/pull-secret.json`"),
            (Some(Ok(up(None))), opts(true, false, None),
             "pass | `quay.io` answers for `quay.io/openshift-release-dev/ocp-release`; anonymous: no auth file"),
            (Some(Err(ProbeError {
                message: "ping registry `quay.io`: registry answered 401 UNAUTHORIZED (after 1 try)".into(),
                hint: Some("the credentials from entry `quay.io` of `/root/pull-secret.json` were refused: check that entry's `auth` (base64 of `user:password`)".into()),
            })), opts(true, false, None),
             "fail | ping registry `quay.io`: registry answered 401 UNAUTHORIZED (after 1 try) | hint: the credentials from entry `quay.io` of `/root/pull-secret.json` were refused: check that entry's `auth` (base64 of `user:password`)"),
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
