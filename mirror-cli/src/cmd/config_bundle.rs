//! `mirror --config FILE --to-dir DIR` and `mirror [--config FILE] --from-dir DIR --to
//! REGISTRY[/NAMESPACE]`: what an ImageSetConfiguration asks for, through a bundle
//! (docs/bundles.md). The connected side keeps the file and the upgrade graphs in the bundle;
//! the disconnected side publishes what the bundle holds, where a registry-to-registry
//! `mirror --config` would put it.

use std::path::{Path, PathBuf};

use mirror_core::bundle::{BundleMetadata, PublishOptions};
use mirror_core::upgrade::ImageSetConfig;

use super::bundle::{ToDir, publish_dir, write_dir};
use super::mirror::{pick, signature_options, split_to, usage};
use crate::cli::{ChannelArgs, ConfigMirrorArgs};
use crate::output::{EXIT_USAGE, core_error};

/// Flags that belong to the other side, refused with a hint before anything is read;
/// `None` when the flags make sense together.
pub(crate) fn check_flags(args: &ConfigMirrorArgs) -> Option<u8> {
    let refuse = |error: &str, hint: &str| {
        eprintln!("error: {error}");
        eprintln!("hint: {hint}");
        Some(EXIT_USAGE)
    };
    let two_sides = "write the bundle with `mirror --config FILE --to-dir DIR` on the connected side, then publish it with `mirror --from-dir DIR --to REGISTRY[/NAMESPACE]` on the other";
    if args.to_dir.is_some() {
        if args.to.is_some() {
            return refuse("--to-dir and --to cannot be used together", two_sides);
        }
        if args.from_dir.is_some() {
            return refuse("--to-dir and --from-dir cannot be used together", two_sides);
        }
    }
    if args.from_dir.is_some() && args.to.is_none() {
        return refuse(
            "--from-dir needs --to REGISTRY[/NAMESPACE]: the registry to publish the bundle into",
            "e.g. `mirrorctl mirror --from-dir DIR --to mirror.example.com:8443/ocp4`; releases land in <REGISTRY>/<NAMESPACE>/openshift/release, other images at their repository path under the namespace",
        );
    }
    None
}

/// `--to-dir` or `--from-dir` (the flags checked by [`check_flags`]).
pub(crate) async fn run(args: ConfigMirrorArgs, quiet: bool) -> u8 {
    match args.to_dir.clone() {
        Some(dir) => to_dir(args, dir, quiet).await,
        None => from_dir(args, quiet).await,
    }
}

async fn to_dir(args: ConfigMirrorArgs, dir: PathBuf, quiet: bool) -> u8 {
    let Some(config) = args.config.clone() else {
        eprintln!("error: --to-dir needs --config FILE: the ImageSetConfiguration to mirror");
        eprintln!(
            "hint: e.g. `mirrorctl mirror --config imageset-config.yaml --to-dir /mnt/media/bundle`"
        );
        return EXIT_USAGE;
    };
    let flag_size = match args
        .archive_size
        .as_deref()
        .map(mirror_core::size::parse_size)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return usage(e, "--archive-size"),
    };
    let pick_args = ChannelArgs {
        graph_url: args.graph_url.clone(),
        ..ChannelArgs::default()
    };
    let picked = match pick(&pick_args, Some(&config), Vec::new(), &args.access).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let signatures = match signature_options(&args.signatures, &args.access) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The flag, else the file's archiveSize: GiB as oc-mirror means it (1024^3 bytes).
    let archive_size =
        flag_size.or_else(|| picked.archive_size_gib.map(|g| g.saturating_mul(1 << 30)));
    let job = ToDir {
        request: picked.request,
        upgrade: picked.plan,
        image_set: Some(config),
        archive_size,
        since: args.since.clone(),
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        signatures,
        output: args.output,
    };
    write_dir(job, dir, &args.access, quiet).await
}

async fn from_dir(args: ConfigMirrorArgs, quiet: bool) -> u8 {
    let dir = args.from_dir.clone().unwrap_or_default();
    if let Some(config) = &args.config
        && let Err(code) = check_config(config, &dir)
    {
        return code;
    }
    let (to, namespace) = match split_to(args.to.as_deref().unwrap_or_default()) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let signatures = match signature_options(&args.signatures, &args.access) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let opts = PublishOptions {
        signatures,
        dry_run: args.dry_run,
        max_per_registry: args.max_per_registry,
        retry: super::access::retry_policy(&args.access),
        namespace,
        ..PublishOptions::new(dir, to)
    };
    publish_dir(
        opts,
        &args.access,
        args.print_mirror_instructions,
        args.output,
        quiet,
    )
    .await
}

/// `--config` beside `--from-dir`: the bundle decides what is published, so the file must
/// ask for what the bundle was made from (its copy in the bundle, `archiveSize` aside), or
/// the admin would believe something else was published.
fn check_config(config: &Path, dir: &Path) -> Result<(), u8> {
    let given = ImageSetConfig::load(config).map_err(|e| usage(e, "--config"))?;
    let meta = BundleMetadata::read(dir).map_err(|e| core_error(&e))?;
    let Some(isc) = meta.upgrade.as_ref().and_then(|u| u.image_set.as_deref()) else {
        eprintln!(
            "error: --config `{}`: the bundle `{}` was not made from an ImageSetConfiguration (it was written by `release mirror --to-dir`)",
            config.display(),
            dir.display()
        );
        eprintln!(
            "hint: drop --config: the bundle decides what is published (`mirrorctl bundle info {}` lists it)",
            dir.display()
        );
        return Err(EXIT_USAGE);
    };
    let copy = dir.join(isc);
    let made_from = ImageSetConfig::load(&copy).map_err(|e| core_error(&e))?;
    let strip = |c: ImageSetConfig| ImageSetConfig {
        archive_size_gib: None,
        ..c
    };
    if strip(given) == strip(made_from) {
        return Ok(());
    }
    eprintln!(
        "error: --config `{}` asks for other images than the bundle `{}` was made from (its copy: `{}`)",
        config.display(),
        dir.display(),
        copy.display()
    );
    eprintln!(
        "hint: the bundle decides what is published: drop --config to publish it as it is, or write a new bundle with this file on the connected side (`mirrorctl mirror --config {} --to-dir DIR`)",
        config.display()
    );
    Err(EXIT_USAGE)
}
