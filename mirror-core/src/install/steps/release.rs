//! The steps that fill the mirror and write what the cluster needs: mirror, extract, outputs.

use std::path::Path;

use super::{Ctx, Mirrored, changed, planned, write_if_changed};
use crate::auth::AuthFile;
use crate::bundle::{PublishOptions, publish_bundle};
use crate::error::Error;
use crate::install::settings::InstallSettings;
use crate::install::{Step, StepReport, outputs};
use crate::reference::ImageRef;
use crate::registry::{ClientOptions, RegistryClient};
use crate::release::extract::extract_installer;
use crate::release::instructions::{InstructionKind, MirrorInstructions};
use crate::release::mirror::{MirrorOptions, mirror_release};
use crate::release::signature::{SignatureOptions, SignatureReport, SignatureStatus};
use mirror_tls::fsutil;

pub(super) async fn mirror(cx: &mut Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let mirror = &cx.mirror;
    let client = mirror_client(s, &cx.ca_file, &cx.pull_secret_out)?;
    // The release signature goes with the other outputs: the ConfigMap a disconnected
    // cluster needs to upgrade to it, and the store tree a site can serve. From a bundle,
    // the signatures are the ones it carries (checked offline against the payload's keys).
    let signatures = SignatureOptions {
        to_dir: Some(s.output_dir.join("signatures")),
        ca_pems: s.ca_pems.clone(),
        ..SignatureOptions::default()
    };
    let result = match &s.from_dir {
        Some(dir) => {
            let opts = PublishOptions {
                dry_run: s.dry_run,
                max_per_registry: s.max_per_registry,
                retry: s.retry.clone(),
                signatures,
                ..PublishOptions::new(dir.clone(), mirror.clone())
            };
            publish_bundle(&client, &opts, cx.progress.mirror()).await
        }
        None => {
            let opts = MirrorOptions {
                dry_run: s.dry_run,
                max_per_registry: s.max_per_registry,
                retry: s.retry.clone(),
                signatures,
                ..MirrorOptions::new(mirror.clone())
            };
            mirror_release(&client, &s.release, &opts, cx.progress.mirror()).await
        }
    };
    let report = match result {
        // A dry run before the registry exists: plan from the source (or the bundle) alone.
        Err(Error::Connection { .. } | Error::Image { .. }) if s.dry_run => {
            return match &s.from_dir {
                Some(dir) => plan_from_bundle(cx, dir),
                None => plan_from_source(cx, &client).await,
            };
        }
        r => r?,
    };
    let signature = report.signatures.as_ref().and_then(signature_files);
    cx.mirrored = Some(Mirrored {
        release_digest: report.release_digest.clone(),
        update_image: report.update_image.clone(),
        kind: report.default_instructions,
        instructions: report.instructions.clone(),
        signature: signature.clone(),
    });
    let p = &report.plan;
    let signed = match (&report.signatures, &signature) {
        (_, Some(cm)) => format!("; release signature verified, ConfigMap {}", cm.display()),
        (Some(r), None) if r.status != SignatureStatus::Verified => {
            "; release signature not verified (see the warning)".to_string()
        }
        _ => String::new(),
    };
    if s.dry_run {
        return Ok(planned(
            Step::Mirror,
            format!(
                "mirror {} images ({} to copy, {} blobs, {} bytes) to {mirror}",
                p.images, p.images_to_copy, p.blobs_to_copy, p.bytes_to_copy
            ),
        ));
    }
    Ok(changed(
        Step::Mirror,
        p.images_present != p.images,
        format!(
            "{} at {}; {} bytes copied{signed}",
            report.version, report.update_image, report.bytes_copied
        ),
    ))
}

/// The ConfigMap written for a verified release signature.
fn signature_files(r: &SignatureReport) -> Option<std::path::PathBuf> {
    r.files
        .as_ref()
        .filter(|f| f.written && r.status == SignatureStatus::Verified)
        .map(|f| f.config_map.clone())
}

/// The mirror step of a dry run from a bundle whose target is not up yet: the plan from the
/// bundle's metadata alone (the source is never reached).
fn plan_from_bundle(cx: &mut Ctx<'_>, dir: &Path) -> Result<StepReport, Error> {
    let meta = crate::bundle::BundleMetadata::read(dir)?;
    let mirror = &cx.mirror;
    let first = meta.releases.first().ok_or_else(|| Error::Bundle {
        path: dir.join(crate::bundle::METADATA_FILE),
        reason: "holds no release".into(),
        hint: Box::new(crate::hint::Hint::NotABundle),
    })?;
    cx.mirrored = Some(Mirrored {
        release_digest: None,
        update_image: format!("{mirror}:{}-{}", first.version, first.architecture),
        kind: InstructionKind::default_for(&first.version),
        instructions: MirrorInstructions::new(meta.mirror_sources.clone(), &[mirror.to_string()]),
        signature: None,
    });
    Ok(planned(
        Step::Mirror,
        format!(
            "publish {} images ({} blobs, {} bytes; the target is not up yet) from bundle {} to {mirror}",
            meta.images.len(),
            meta.blobs.count,
            meta.blobs.bytes,
            dir.display()
        ),
    ))
}

/// The mirror step of a dry run whose target is not up yet: the plan from the source alone.
pub(super) async fn plan_from_source(
    cx: &mut Ctx<'_>,
    client: &RegistryClient,
) -> Result<StepReport, Error> {
    let s = cx.s;
    let mirror = &cx.mirror;
    let release =
        crate::release::payload::read_release(client, &s.release, &client.options().retry).await?;
    let info = crate::release::info::release_info(client, &s.release, s.max_per_registry).await?;
    cx.mirrored = Some(Mirrored {
        release_digest: None,
        update_image: format!("{mirror}:{}-{}", release.version, release.architecture),
        kind: InstructionKind::default_for(&release.version),
        instructions: MirrorInstructions::new(
            release
                .source_repositories()
                .into_iter()
                .map(|r| r.to_string()),
            &[mirror.to_string()],
        ),
        signature: None,
    });
    Ok(planned(
        Step::Mirror,
        format!(
            "mirror {} images ({} unique blobs, {} bytes; the target is not up yet) to {mirror}",
            info.components.len() + 1,
            info.unique_blobs,
            info.unique_bytes
        ),
    ))
}

pub(super) async fn extract(cx: &Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let target = s.output_dir.join("openshift-install");
    if s.dry_run {
        return Ok(planned(
            Step::Extract,
            format!(
                "extract {} pinned to the mirrored release",
                target.display()
            ),
        ));
    }
    let Some(mirrored) = &cx.mirrored else {
        return Err(Error::InvalidSetting {
            name: "skip".into(),
            reason: "`extract` needs the `mirror` step".into(),
        });
    };
    let client = mirror_client(s, &cx.ca_file, &cx.pull_secret_out)?;
    let from = ImageRef::parse(&mirrored.update_image)?;
    // Extract next to the output and compare: an identical binary is left alone.
    let staging = s.output_dir.join(".extract");
    let report = extract_installer(&client, &from, &staging).await?;
    let new = std::fs::read(&report.path).map_err(|e| Error::io("read", &report.path, e))?;
    let same = std::fs::read(&target).ok().is_some_and(|old| old == new);
    if !same {
        std::fs::rename(&report.path, &target).map_err(|e| Error::io("write", &target, e))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(changed(
        Step::Extract,
        !same,
        format!("{} pinned to {}", target.display(), report.release_image),
    ))
}

pub(super) fn write_outputs(cx: &mut Ctx<'_>) -> Result<StepReport, Error> {
    let s = cx.s;
    let Some(mirrored) = &cx.mirrored else {
        return Err(Error::InvalidSetting {
            name: "skip".into(),
            reason: "`outputs` needs the `mirror` step".into(),
        });
    };
    let (policy_name, policy) = outputs::mirror_policy(&mirrored.instructions, mirrored.kind);
    if s.dry_run {
        return Ok(planned(
            Step::Outputs,
            format!(
                "write install-config-snippet.yaml, {policy_name}, install-summary.json in {}",
                s.output_dir.display()
            ),
        ));
    }
    let ps = std::fs::read_to_string(&cx.pull_secret_out)
        .map_err(|e| Error::io("read", &cx.pull_secret_out, e))?;
    let ca = std::fs::read_to_string(&cx.ca_file).map_err(|e| Error::io("read", &cx.ca_file, e))?;
    let snippet = outputs::install_config_snippet(&ps, &ca, &mirrored.instructions, mirrored.kind);
    let mut any = false;
    // The snippet holds the pull secret: 0600.
    for (name, text, mode) in [
        ("install-config-snippet.yaml", snippet, fsutil::SECRET_MODE),
        (policy_name, policy, fsutil::PUBLIC_MODE),
    ] {
        let path = s.output_dir.join(name);
        any |= write_if_changed(&path, text.as_bytes(), mode)?;
        cx.outputs.push(path);
    }
    cx.outputs.push(cx.pull_secret_out.clone());
    cx.outputs.push(s.output_dir.join("openshift-install"));
    // The signature directory (the ConfigMap and the store tree) is install's own.
    if mirrored.signature.is_some() {
        cx.outputs.push(s.output_dir.join("signatures"));
    }
    Ok(changed(
        Step::Outputs,
        any,
        cx.rotated(
            format!("{}", s.output_dir.display()),
            "install-config-snippet.yaml holds the rotated password",
        ),
    ))
}

/// A client for the mirror step: the merged pull secret (source and mirror credentials),
/// our CA plus any `--ca-file`, even when the host trust step was skipped.
fn mirror_client(
    s: &InstallSettings,
    ca_file: &Path,
    pull_secret: &Path,
) -> Result<RegistryClient, Error> {
    let mut ca_pems = s.ca_pems.clone();
    if let Ok(ca) = std::fs::read(ca_file) {
        ca_pems.push(ca);
    }
    let auth = if pull_secret.is_file() {
        AuthFile::load(pull_secret)?
    } else {
        AuthFile::load(&s.pull_secret)?
    };
    RegistryClient::new(ClientOptions {
        auth: Some(auth),
        ca_pems,
        insecure_registries: s.insecure_registries.clone(),
        retry: s.retry.clone(),
        ..Default::default()
    })
}
