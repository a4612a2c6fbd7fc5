//! The steps that set up the host and the registry: preflight to pull-secret.

use std::path::{Path, PathBuf};

use super::{Ctx, changed, kebab, planned};
use crate::auth::AuthFile;
use crate::error::Error;
use crate::install::{Step, StepReport, packages, rhsm};
use crate::preflight::Status;
use crate::registry::{ClientOptions, RegistryClient};
use crate::runtime::{UpAction, UpOptions};
use mirror_tls::OsFamily;
use mirror_tls::fsutil;

pub(super) async fn preflight(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let report = crate::preflight::run_preflight(&s.preflight).await;
    let failures = blocking_failures(
        &report,
        s.preflight.strict,
        !s.skip.contains(&Step::Packages),
    );
    if !failures.is_empty() {
        return Err(Error::PreflightFailed { failures });
    }
    let sum = report.summary;
    Ok(changed(
        Step::Preflight,
        false,
        format!(
            "{} passed, {} warned, {} skipped",
            sum.pass, sum.warn, sum.skipped
        ),
    ))
}

pub(super) fn install_packages(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let family = mirror_tls::read_os_family(&s.trust_root)?;
    let host = rhsm::Host::system();
    let (pkgs, cmd) = packages::plan(
        family,
        s.run.runtime,
        packages::HostTools::probe(&host, family),
    );
    if pkgs.is_empty() {
        return Ok(changed(
            Step::Packages,
            false,
            "the registry runtime and the trust-store tool are installed",
        ));
    }
    if s.dry_run {
        let mut what = format!("{} {}", cmd.join(" "), pkgs.join(" "));
        if let (OsFamily::Rhel, Some(a)) = (family, &s.rh_account) {
            what.push_str(&format!(
                " (registering with Red Hat as `{}` first if the install needs it)",
                a.username
            ));
        }
        return Ok(planned(Step::Packages, what));
    }
    let what = packages::install(&host, family, &cmd, &pkgs, s.rh_account.as_ref())?;
    Ok(changed(Step::Packages, true, what))
}

pub(super) fn directories(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let dirs = ["auth", "certs", "data"].map(|d| s.root.join(d));
    let missing: Vec<&PathBuf> = dirs.iter().filter(|d| !d.is_dir()).collect();
    if s.dry_run {
        return Ok(planned(
            Step::Directories,
            format!(
                "create {} of {}/{{auth,certs,data}}",
                missing.len(),
                s.root.display()
            ),
        ));
    }
    for d in &missing {
        fsutil::create_dirs(d)?;
    }
    Ok(changed(
        Step::Directories,
        !missing.is_empty(),
        format!("{}/{{auth,certs,data}}", s.root.display()),
    ))
}

pub(super) fn certificates(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    if s.dry_run {
        return Ok(planned(
            Step::Certificates,
            format!(
                "ensure CA and server certificate for `{}` in {}",
                s.hostname,
                cx.certs.display()
            ),
        ));
    }
    let opts = mirror_tls::GenerateOptions {
        subject: mirror_tls::Subject::from_file(&s.certificate_file)?,
        email: Some(s.email.clone()),
        hostname: s.hostname.clone(),
        dns_names: s.extra_sans.clone(),
        ip_addresses: s.ip_addresses.clone(),
        ..Default::default()
    };
    let out =
        mirror_tls::ensure_certificates(&cx.certs, &opts, false, std::time::SystemTime::now())?;
    Ok(changed(
        Step::Certificates,
        !matches!(out.action, mirror_tls::CertAction::Kept),
        format!("{}: {}", kebab(&out.action), out.paths.cert.display()),
    ))
}

pub(super) fn user(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    if s.dry_run {
        let verb = if cx.rotating {
            "rotate the password of"
        } else {
            "add"
        };
        return Ok(planned(
            Step::User,
            format!(
                "{verb} user `{}` in {}",
                s.credential.username,
                cx.htpasswd.display()
            ),
        ));
    }
    let action = crate::htpasswd::set_htpasswd_user(&cx.htpasswd, &s.credential, s.bcrypt_cost)?;
    Ok(changed(
        Step::User,
        action != crate::htpasswd::UserAction::Unchanged,
        cx.rotated(
            format!(
                "user `{}` in {}",
                s.credential.username,
                cx.htpasswd.display()
            ),
            "password rotated",
        ),
    ))
}

pub(super) fn registry(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    if s.dry_run {
        let runtime = format!("{:?}", s.run.runtime).to_lowercase();
        return Ok(planned(
            Step::Registry,
            format!(
                "start the registry ({runtime} runtime, {} storage) on {} under {}",
                s.storage.describe(),
                crate::runtime::describe_listen(s.bind, s.port),
                s.root.display()
            ),
        ));
    }
    let up = UpOptions {
        root: s.root.clone(),
        port: s.port,
        bind: s.bind,
        storage: s.storage.clone(),
        http_secret_file: s.http_secret_file.clone(),
        run: s.run.clone(),
    };
    let report = crate::runtime::registry_up(&up)?;
    let mut detail = format!(
        "{} on {} ({})",
        kebab(&report.action),
        crate::runtime::describe_listen(report.bind, report.port),
        report
            .run
            .describe(&crate::runtime::RegistryLayout::new(&s.root))
    );
    if report.runtime_kept {
        detail.push_str("; kept the process runtime that runs although podman is installed now (`--runtime podman` switches)");
    }
    Ok(changed(
        Step::Registry,
        report.action != UpAction::AlreadyRunning,
        detail,
    ))
}

pub(super) fn trust(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let registry = &cx.registry;
    if s.dry_run && !cx.ca_file.is_file() {
        return Ok(planned(
            Step::Trust,
            format!("trust {} for {registry}", cx.ca_file.display()),
        ));
    }
    let ca_pem =
        std::fs::read_to_string(&cx.ca_file).map_err(|e| Error::io("read", &cx.ca_file, e))?;
    let family = mirror_tls::read_os_family(&s.trust_root)?;
    let mut opts =
        mirror_tls::TrustOptions::new(s.trust_root.clone(), ca_pem, registry.clone(), family);
    opts.dry_run = s.dry_run;
    let report = mirror_tls::install_trust(&opts)?;
    if s.dry_run {
        return Ok(planned(
            Step::Trust,
            format!(
                "trust the CA for {registry} ({} actions)",
                report.actions.len()
            ),
        ));
    }
    Ok(changed(
        Step::Trust,
        report.changed(),
        format!("CA trusted for {registry}"),
    ))
}

pub(super) async fn check(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    if s.dry_run {
        return Ok(planned(
            Step::Check,
            format!(
                "log in to {} as `{}` and list its catalog",
                cx.registry, s.credential.username
            ),
        ));
    }
    let client = target_client(s, &cx.ca_file, &cx.registry)?;
    client.ping(&cx.mirror).await?;
    let repos = client.catalog(&cx.mirror, 1000).await?;
    Ok(changed(
        Step::Check,
        false,
        format!(
            "login as `{}` works; catalog lists {} repositories",
            s.credential.username,
            repos.len()
        ),
    ))
}

pub(super) fn pull_secret(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let (out, registry) = (&cx.pull_secret_out, &cx.registry);
    if s.dry_run {
        return Ok(planned(
            Step::PullSecret,
            format!("write {} with an entry for {registry}", out.display()),
        ));
    }
    fsutil::create_dirs(&s.output_dir)?;
    let report = crate::pull_secret::merge_pull_secret(&crate::pull_secret::MergeOptions {
        input: s.pull_secret.clone(),
        output: out.clone(),
        registry: registry.clone(),
        credential: s.credential.clone(),
        email: Some(s.email.clone()),
        pretty: false,
        force: true,
    })?;
    Ok(changed(
        Step::PullSecret,
        report.output != crate::pull_secret::OutputAction::Unchanged,
        cx.rotated(
            format!("{}", out.display()),
            &format!("entry `{registry}` holds the rotated password"),
        ),
    ))
}

/// The preflight results that stop an install: failures and checks that could not run (and
/// warnings with `strict`). A failed `tools` check does not block when the `packages` step
/// will install what is missing.
fn blocking_failures(
    report: &crate::preflight::PreflightReport,
    strict: bool,
    packages_step: bool,
) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|r| {
            matches!(r.status, Status::Fail | Status::Error) || (strict && r.status == Status::Warn)
        })
        .filter(|r| !(packages_step && r.name == "tools" && r.status == Status::Fail))
        .map(|r| format!("{}: {}", r.name, r.detail))
        .collect()
}

/// A client for the new registry: its CA, the user's credentials.
fn target_client(
    s: &crate::install::InstallSettings,
    ca_file: &Path,
    registry: &str,
) -> Result<RegistryClient, Error> {
    let ca = std::fs::read(ca_file).map_err(|e| Error::io("read", ca_file, e))?;
    let auth =
        serde_json::json!({ "auths": { registry: { "auth": s.credential.to_auth_value() } } })
            .to_string();
    RegistryClient::new(ClientOptions {
        auth: Some(AuthFile::parse(&auth, Path::new("<registry user>"))?),
        ca_pems: vec![ca],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::{CheckResult, CheckSeverity, PreflightReport, Summary};

    fn report(results: &[(&'static str, Status)]) -> PreflightReport {
        PreflightReport {
            api_version: "v",
            kind: "PreflightReport",
            passed: false,
            strict: false,
            summary: Summary::default(),
            checks: results
                .iter()
                .map(|(name, status)| CheckResult {
                    name,
                    severity: CheckSeverity::Fatal,
                    status: *status,
                    detail: format!("{name} detail"),
                    hint: None,
                    problems: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn what_blocks_an_install() {
        let r = report(&[
            ("os", Status::Warn),
            ("tools", Status::Fail),
            ("disk", Status::Pass),
        ]);
        assert_eq!(
            blocking_failures(&r, false, true),
            Vec::<String>::new(),
            "packages installs the tools"
        );
        assert_eq!(
            blocking_failures(&r, false, false),
            vec!["tools: tools detail"],
            "--skip packages"
        );
        assert_eq!(
            blocking_failures(&r, true, true),
            vec!["os: os detail"],
            "--strict"
        );
        let r = report(&[
            ("disk", Status::Fail),
            ("port", Status::Error),
            ("tools", Status::Error),
        ]);
        assert_eq!(
            blocking_failures(&r, false, true),
            vec![
                "disk: disk detail",
                "port: port detail",
                "tools: tools detail"
            ]
        );
    }
}
