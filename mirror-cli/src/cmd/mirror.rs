//! `mirrorctl release mirror` (releases by reference or picked from the upgrade graph) and
//! `mirrorctl mirror --config` (an ImageSetConfiguration): one plan, one copy.

use std::sync::Arc;
use std::time::Instant;

use mirror_core::{
    ImageRef, RegistryClient, Repository,
    release::{InstructionKind, MirrorOptions, MirrorReport, MirrorRequest},
    upgrade::{ReleaseUpdate, UpgradePlan, UpgradeRequest},
};

use super::{access, graph};
use crate::cli::{Access, ChannelArgs, ConfigMirrorArgs, Instructions, MirrorArgs, OutputFormat};
use crate::output::{EXIT_OK, core_error, report_json, stdout};
use crate::progress::{CliProgress, retry_hook};

/// `release mirror`.
pub async fn release_mirror(args: MirrorArgs, quiet: bool) -> u8 {
    if args.bundle.to_dir.is_some() || args.bundle.from_dir.is_some() {
        return super::bundle::mirror(args, quiet).await;
    }
    let mut froms = Vec::with_capacity(args.from.len());
    for f in &args.from {
        match ImageRef::parse(f) {
            Ok(r) => froms.push(r),
            Err(e) => return usage(e, "--from"),
        }
    }
    let (to, to_release_image, signatures) = match target_args(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let request = match pick(&args.pick, None, froms, &args.access).await {
        Ok(p) => p.request,
        Err(code) => return code,
    };
    let opts = MirrorOptions {
        to_release_image,
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        retry: access::retry_policy(&args.access),
        sigstore: !args.signatures.skip_signatures,
        signatures,
        ..MirrorOptions::new(to)
    };
    run(
        &request,
        opts,
        &args.access,
        args.print_mirror_instructions,
        args.output,
        quiet,
    )
    .await
}

/// `mirror --config FILE --to REGISTRY[/NAMESPACE]`: releases into
/// `<REGISTRY>/<NAMESPACE>/openshift/release` (tags as `release mirror` writes them),
/// additional images at their repository path under the namespace. With `--to-dir` or
/// `--from-dir`, through a bundle (`config_bundle`).
pub async fn config_mirror(args: ConfigMirrorArgs, quiet: bool) -> u8 {
    if let Some(code) = super::config_bundle::check_flags(&args) {
        return code;
    }
    if args.to_dir.is_some() || args.from_dir.is_some() {
        return super::config_bundle::run(args, quiet).await;
    }
    let (to, namespace) = match split_to(args.to.as_deref().unwrap_or_default()) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let signatures = match signature_options(&args.signatures, &args.access) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let pick_args = ChannelArgs {
        graph_url: args.graph_url.clone(),
        ..ChannelArgs::default()
    };
    let request = match pick(&pick_args, args.config.as_deref(), Vec::new(), &args.access).await {
        Ok(p) => p.request,
        Err(code) => return code,
    };
    let opts = MirrorOptions {
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        retry: access::retry_policy(&args.access),
        namespace,
        sigstore: !args.signatures.skip_signatures,
        signatures,
        ..MirrorOptions::new(to)
    };
    run(
        &request,
        opts,
        &args.access,
        args.print_mirror_instructions,
        args.output,
        quiet,
    )
    .await
}

/// `--to REGISTRY[/NAMESPACE]` of `mirror --config`: the release repository
/// (`<REGISTRY>/<NAMESPACE>/openshift/release`) and the namespace.
pub(crate) fn split_to(to: &str) -> Result<(Repository, String), u8> {
    let (registry, namespace) = match to.split_once('/') {
        Some((r, ns)) => (r.to_string(), ns.trim_matches('/').to_string()),
        None => (to.trim_end_matches('/').to_string(), String::new()),
    };
    let path = if namespace.is_empty() {
        RELEASE_PATH.to_string()
    } else {
        format!("{namespace}/{RELEASE_PATH}")
    };
    match Repository::parse(&format!("{registry}/{path}")) {
        Ok(r) => Ok((r, namespace)),
        Err(e) => Err(usage(e, "--to")),
    }
}

/// `--to`, `--to-release-image` and the signature flags of `release mirror`, registry to
/// registry or from a bundle; a bad value is a usage error naming its flag.
pub(crate) fn target_args(
    args: &MirrorArgs,
) -> Result<
    (
        Repository,
        Option<ImageRef>,
        mirror_core::release::SignatureOptions,
    ),
    u8,
> {
    let to =
        Repository::parse(args.to.as_deref().unwrap_or_default()).map_err(|e| usage(e, "--to"))?;
    let to_release_image = args
        .to_release_image
        .as_deref()
        .map(ImageRef::parse)
        .transpose()
        .map_err(|e| usage(e, "--to-release-image"))?;
    let signatures = signature_options(&args.signatures, &args.access)?;
    Ok((to, to_release_image, signatures))
}

/// The signature flags as library options; bad key files and store URLs are usage errors.
pub(crate) fn signature_options(
    args: &crate::cli::SignatureArgs,
    access_flags: &Access,
) -> Result<mirror_core::release::SignatureOptions, u8> {
    let client = access::client_options(access_flags).map_err(|e| core_error(&e))?;
    super::signatures::options(args, &client.ca_pems).map_err(|e| {
        let (flag, e) = *e;
        usage(e, flag)
    })
}

/// Where `mirror --config` puts releases under the namespace (as oc's `--to-dir` default).
const RELEASE_PATH: &str = "openshift/release";

/// What [`pick`] decided: the request to mirror, the upgrade plan when channels were asked
/// for (its graphs go into a bundle), and an ImageSetConfiguration's `archiveSize`.
pub(crate) struct Picked {
    pub request: MirrorRequest,
    pub plan: Option<UpgradePlan>,
    pub archive_size_gib: Option<u64>,
}

/// The releases to mirror: those given, plus those the graph picks for `--channel` or an
/// ImageSetConfiguration (with its additional images). Refusals come before any copy.
pub(crate) async fn pick(
    pick: &ChannelArgs,
    config: Option<&std::path::Path>,
    froms: Vec<ImageRef>,
    access: &Access,
) -> Result<Picked, u8> {
    if pick.channel.is_none() && config.is_none() {
        return Ok(Picked {
            request: MirrorRequest {
                releases: froms,
                additional: Vec::new(),
            },
            plan: None,
            archive_size_gib: None,
        });
    }
    let mut req: UpgradeRequest =
        graph::upgrade_request(pick, config).map_err(|e| core_error(&e))?;
    req.releases.extend(froms);
    if req.channels.is_empty() {
        return Ok(Picked {
            request: MirrorRequest {
                releases: req.releases,
                additional: req.additional_images,
            },
            plan: None,
            archive_size_gib: req.archive_size_gib,
        });
    }
    let client =
        graph::graph_client(&pick.graph_url, &access.ca_files).map_err(|e| core_error(&e))?;
    let plan = mirror_core::plan_upgrade(&req, &client)
        .await
        .map_err(|e| core_error(&e))?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    Ok(Picked {
        request: MirrorRequest {
            releases: plan.releases.iter().map(|r| r.image.clone()).collect(),
            additional: plan.additional_images.clone(),
        },
        archive_size_gib: req.archive_size_gib,
        plan: Some(plan),
    })
}

async fn run(
    request: &MirrorRequest,
    opts: MirrorOptions,
    access_flags: &Access,
    instructions: Option<Instructions>,
    output: OutputFormat,
    quiet: bool,
) -> u8 {
    let progress = Arc::new(CliProgress::new(quiet));
    let client: RegistryClient =
        match access::client(access_flags, Some(retry_hook(progress.clone()))) {
            Ok(c) => c,
            Err(e) => return core_error(&e),
        };
    let started = Instant::now();
    let result = tokio::select! {
        r = mirror_core::mirror_releases(&client, &client, request, &opts, progress.clone()) => r,
        _ = super::interrupted() => Err(mirror_core::Error::Cancelled {
            what: "the mirror was interrupted; the release tag was not written. Run the same command again: only what is missing is copied".into(),
        }),
    };
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    if !quiet {
        for rel in &report.releases {
            if let Some(a) = super::signatures::advice(&rel.signatures) {
                eprintln!("{a}");
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let rate = report.bytes_copied as f64 / secs.max(0.001) / 1e6;
        if report.dry_run {
            eprintln!("info: Dry run complete");
        } else {
            eprintln!("info: Mirroring completed in {secs:.2}s ({rate:.2}MB/s)");
        }
    }
    let kind = match instructions {
        Some(Instructions::Icsp) => InstructionKind::Icsp,
        Some(Instructions::Idms) => InstructionKind::Idms,
        Some(Instructions::Both) => InstructionKind::Both,
        Some(Instructions::None) => InstructionKind::None,
        None => report.default_instructions,
    };
    let out = match output {
        OutputFormat::Json => report_json(&report),
        OutputFormat::Text => render_text(&report, kind),
    };
    stdout(&out);
    EXIT_OK
}

/// `e` as the value of `flag`: printed naming the flag, a usage error.
pub(crate) fn usage(e: mirror_core::Error, flag: &str) -> u8 {
    core_error(&mirror_core::Error::Setting {
        name: flag.to_string(),
        source: Box::new(e),
    })
}

/// The text `oc adm release mirror` prints on stdout, plus the plan for a dry run, one
/// `Update image:` per release, the upgrade commands when there are several releases, and
/// the mirror sets of additional images.
pub fn render_text(r: &MirrorReport, kind: InstructionKind) -> String {
    let mut out = String::new();
    if r.dry_run {
        out.push_str(&render_plan(r));
    }
    out.push_str("Success\n");
    for rel in &r.releases {
        out.push_str(&format!("Update image:  {}\n", rel.update_image));
    }
    for p in &r.mirror_prefixes {
        out.push_str(&format!("Mirror prefix: {p}\n"));
    }
    if !r.releases.is_empty() {
        out.push_str(&r.instructions.render(kind));
    }
    for rel in &r.releases {
        out.push_str(&super::signatures::render(&rel.signatures, r.dry_run));
    }
    if r.releases.len() > 1 && !r.dry_run {
        let updates: Vec<ReleaseUpdate> = r
            .releases
            .iter()
            .filter_map(|rel| {
                let repo = ImageRef::parse(&rel.update_image).ok()?.repo;
                Some(ReleaseUpdate::new(rel.version.clone(), &repo, &rel.digest))
            })
            .collect();
        out.push('\n');
        out.push_str(&mirror_core::upgrade::render_release_updates(&updates));
    }
    if let Some(a) = &r.additional_instructions
        && kind != InstructionKind::None
    {
        if !a.by_digest.is_empty() {
            out.push_str(&format!(
                "\nFor the additional images pulled by digest, create this ImageDigestMirrorSet:\n\n{}",
                a.by_digest.idms_yaml("additional-images")
            ));
        }
        if !a.by_tag.is_empty() {
            out.push_str(&format!(
                "\nFor the additional images pulled by tag, create this ImageTagMirrorSet:\n\n{}",
                a.by_tag.itms_yaml("additional-images")
            ));
        }
    }
    out
}

fn render_plan(r: &MirrorReport) -> String {
    let p = &r.plan;
    let mut out = String::from("Plan (dry run: nothing was written)\n");
    out.push_str(&format!(
        "  images:       {} ({} present, {} to tag, {} to copy)\n",
        p.images, p.images_present, p.images_to_tag, p.images_to_copy
    ));
    out.push_str(&format!(
        "  signatures:   {} sigstore signature tags at the source ({} to copy)\n",
        p.signatures, p.signatures_to_copy
    ));
    out.push_str(&format!(
        "  unique blobs: {} ({}) in the images to copy\n",
        p.unique_blobs,
        mirror_core::size::format_size(p.unique_bytes)
    ));
    out.push_str(&format!(
        "  to transfer:  {} blobs ({}) after subtracting what the target holds\n",
        p.blobs_to_copy,
        mirror_core::size::format_size(p.bytes_to_copy)
    ));
    out.push_str(&format!(
        "  to mount:     {} ({}) from other repositories of the target registry{}\n",
        p.blobs_to_mount,
        mirror_core::size::format_size(p.bytes_to_mount),
        if p.mount_sources.is_empty() {
            String::new()
        } else {
            format!(" (earlier mirror: {})", p.mount_sources.join(", "))
        }
    ));
    out.push_str(&format!(
        "  to upload:    {} ({}) from the source\n",
        p.blobs_to_upload,
        mirror_core::size::format_size(p.bytes_to_upload)
    ));
    if r.releases.len() > 1 {
        out.push_str("  per release (what each adds to the ones before it and to the target):\n");
        let w = r
            .releases
            .iter()
            .map(|x| x.version.len())
            .max()
            .unwrap_or(0);
        for rel in &r.releases {
            out.push_str(&format!(
                "    {:w$}  {} blobs ({})\n",
                rel.version,
                rel.new_blobs,
                mirror_core::size::format_size(rel.new_bytes)
            ));
        }
    }
    out.push_str(&format!(
        "  target disk:  at least {} more\n\n",
        mirror_core::size::format_size(p.bytes_to_upload)
    ));
    out
}
