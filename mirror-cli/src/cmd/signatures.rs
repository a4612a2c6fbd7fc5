//! The signature flags of `release mirror` resolved into [`SignatureOptions`], and the
//! signature part of its text output.

use mirror_core::release::{
    Keyring, SignatureOptions, SignatureReport, SignatureStatus, SignatureStore, StoreResult,
};

use crate::cli::SignatureArgs;

/// A flag whose value is unusable: the flag, and the error.
pub type FlagError = Box<(&'static str, mirror_core::Error)>;

/// Reads the key files and checks the store URLs, before any work starts.
pub fn options(args: &SignatureArgs, ca_pems: &[Vec<u8>]) -> Result<SignatureOptions, FlagError> {
    let mut keyrings = Vec::new();
    for path in &args.keys {
        let bytes = std::fs::read(path).map_err(|e| {
            Box::new((
                "--signature-key",
                mirror_core::Error::Io {
                    action: "read signature key",
                    path: path.clone(),
                    source: e,
                },
            ))
        })?;
        let name = path.display().to_string();
        let ring = Keyring::parse(&name, &bytes).map_err(|reason| {
            Box::new((
                "--signature-key",
                mirror_core::Error::SignatureKey {
                    source_name: name.clone(),
                    reason,
                },
            ))
        })?;
        keyrings.push(ring);
    }
    let stores = args
        .stores
        .iter()
        .map(|s| SignatureStore::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Box::new(("--signature-store", e)))?;
    Ok(SignatureOptions {
        skip: args.skip_signatures,
        require: args.require_signatures,
        keyrings,
        stores,
        ca_pems: ca_pems.to_vec(),
        to_dir: args.release_image_signature_to_dir.clone(),
    })
}

/// The stderr line for the signature check (progress).
pub fn progress_line(r: &SignatureReport) -> String {
    match r.status {
        SignatureStatus::Verified => format!("info: Release signature verified: {}", who(r)),
        SignatureStatus::Skipped => "info: Release signature not checked (skipped)".into(),
        SignatureStatus::Unsigned | SignatureStatus::NotConfigured => format!(
            "warning: {}; mirroring it unverified",
            r.warning
                .as_deref()
                .unwrap_or("the release signature was not verified")
        ),
    }
}

/// `signature-1 from <store> by <key> (keyring <name>)`, for each verified signature.
fn who(r: &SignatureReport) -> String {
    r.signatures
        .iter()
        .map(|s| {
            let keys: Vec<String> = s
                .verified_by
                .iter()
                .map(|k| format!("key {} (keyring `{}`)", k.key_fingerprint, k.keyring))
                .collect();
            format!("`{}` by {}", s.location, keys.join(" and "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What to do next, for stderr after the mirror: how to get the signature to the cluster.
pub fn advice(r: &SignatureReport) -> Option<String> {
    match r.status {
        SignatureStatus::Verified if r.files.is_none() => Some(
            "info: to give a disconnected cluster this release's signature for upgrades, add --release-image-signature-to-dir DIR".into(),
        ),
        SignatureStatus::Unsigned
            if r.stores.iter().any(|s| s.result != StoreResult::NotTried) =>
        {
            Some("hint: a disconnected cluster refuses to upgrade to a release whose signature it cannot find: copy `sha256=<hex>/signature-N` from the store on a connected host and mirror again with --signature-store file://DIR --release-image-signature-to-dir DIR".into())
        }
        _ => None,
    }
}

/// The signature part of the text report on stdout, after the mirror instructions: only when
/// signature files are written, with oc's lines for the ConfigMap, then the store tree and how
/// a cluster uses either. Otherwise nothing, so stdout keeps oc's shape (the outcome is on
/// stderr and in the JSON report).
pub fn render(r: &SignatureReport, dry_run: bool) -> String {
    let Some(files) = r
        .files
        .as_ref()
        .filter(|_| r.status == SignatureStatus::Verified)
    else {
        return String::new();
    };
    let dir = files.dir.display();
    if dry_run {
        return format!(
            "\nDry run: the signature ConfigMap {} and the signature store tree under {dir} are not written\n",
            files.config_map.display()
        );
    }
    let mut out =
        format!("\n\nTo apply signature configmaps use 'oc apply' on files found in {dir}\n\n");
    out.push_str(&format!(
        "Configmap signature file {} created\n",
        files.config_map.display()
    ));
    out.push_str(&format!(
        "  apply it: oc apply -f {}\n",
        files.config_map.display()
    ));
    for f in &files.store_files {
        out.push_str(&format!("Signature store file {} created\n", f.display()));
    }
    out.push_str(&format!(
        "  or serve {dir} over HTTP(S) and list its URL in the ClusterVersion's spec.signatureStores\n"
    ));
    out
}
