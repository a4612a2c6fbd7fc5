//! Where [`StorageSettings`] come from: `storage` and the `s3:` section as a program gives
//! them (its flags) over install's config file, each value checked, and a bad or missing one
//! named the way its source names it (`--s3-bucket`, or the key `s3.bucket`).

use super::{
    CREDENTIAL_FORMATS, S3Credentials, S3Storage, StorageSettings, check_bucket_name,
    normalize_root, parse_endpoint, parse_region,
};
use crate::error::Error;
use crate::hint::Hint;
use crate::install::config::S3ConfigFile;
use crate::install::settings::SettingNames;

/// One source of storage settings: a program's values, or the config file's.
#[derive(Clone, Copy, Default)]
pub(crate) struct Layer<'a> {
    /// `filesystem` or `s3`.
    pub(crate) storage: Option<&'a str>,
    /// The `s3:` section.
    pub(crate) s3: Option<&'a S3ConfigFile>,
}

/// How a message names the setting `key` (`storage`, `s3.bucket`) whose value came from the
/// config file (`true`) or from the program (`false`).
pub(crate) type Namer<'a> = &'a dyn Fn(&str, bool) -> String;

/// The known storage kinds.
const KINDS: [&str; 2] = ["filesystem", "s3"];

impl StorageSettings {
    /// The storage a program's own values ask for: `storage` (`filesystem`, the default, or
    /// `s3`) and, with `s3`, the bucket's settings (endpoint, bucket and credentials file
    /// required). Every value is checked and the credentials file read, the way
    /// [`InstallOptions::build`](crate::install::InstallOptions::build) checks install's `storage` and
    /// `s3:`; an error names the setting by its key (`s3.bucket`) or, with `names`, by the
    /// program's name for it (`--s3-bucket`).
    pub fn from_values(
        storage: Option<&str>,
        s3: &S3ConfigFile,
        names: Option<SettingNames>,
    ) -> Result<Self, Error> {
        let name = |key: &str, _from_file: bool| {
            names
                .and_then(|n| n(key))
                .unwrap_or_else(|| key.to_string())
        };
        let given = Layer {
            storage,
            s3: Some(s3),
        };
        resolve_layers(given, None, &name)
    }
}

/// The storage `given` asks for over `file` (`None`: the program takes no config file).
pub(crate) fn resolve_layers(
    given: Layer<'_>,
    file: Option<Layer<'_>>,
    name: Namer<'_>,
) -> Result<StorageSettings, Error> {
    let file_layer = file.unwrap_or_default();
    let (kind, kind_from_file) = match (present(given.storage), present(file_layer.storage)) {
        (Some(k), _) => (k, false),
        (None, Some(k)) => (k, true),
        (None, None) => ("filesystem".to_string(), false),
    };
    let r = Resolver {
        given: given.s3.cloned().unwrap_or_default(),
        file: file_layer.s3.cloned().unwrap_or_default(),
        has_file: file.is_some(),
        name,
        kind: as_s3(name, kind_from_file),
    };
    match kind.as_str() {
        "filesystem" => {
            if let Some(key) = first_key(&r.given) {
                return Err(r.needs_s3(key, false, &as_s3(name, false)));
            }
            // The file's `s3:` is refused unless the file itself says `storage: s3` (and the
            // program chose the filesystem over it).
            if let Some(key) = first_key(&r.file)
                && present(file_layer.storage).as_deref() != Some("s3")
            {
                return Err(r.needs_s3(key, true, &as_s3(name, true)));
            }
            Ok(StorageSettings::Filesystem)
        }
        "s3" => r.s3().map(|s| StorageSettings::S3(Box::new(s))),
        _ => Err(Error::Setting {
            name: name("storage", kind_from_file),
            source: Box::new(Error::UnknownName {
                kind: "storage",
                name: kind,
                known: KINDS.to_vec(),
            }),
        }),
    }
}

/// How the `s3` storage kind is given where a key came from: `storage: s3` in a file (or by
/// key), `--storage s3` by a program's flag.
fn as_s3(name: Namer<'_>, from_file: bool) -> String {
    match name("storage", from_file) {
        n if n == "storage" => "storage: s3".to_string(),
        n => format!("{n} s3"),
    }
}

/// The first key an `s3:` section sets, as messages name it.
fn first_key(s3: &S3ConfigFile) -> Option<&'static str> {
    [
        ("s3.endpoint", s3.endpoint.is_some()),
        ("s3.bucket", s3.bucket.is_some()),
        ("s3.region", s3.region.is_some()),
        ("s3.root", s3.root.is_some()),
        ("s3.credentialsFile", s3.credentials_file.is_some()),
        ("s3.redirect", s3.redirect.is_some()),
    ]
    .into_iter()
    .find_map(|(k, set)| set.then_some(k))
}

/// `Some` of a trimmed non-empty value.
fn present(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

struct Resolver<'a> {
    given: S3ConfigFile,
    file: S3ConfigFile,
    /// Whether the program takes a config file (hints offer its keys).
    has_file: bool,
    name: Namer<'a>,
    /// How `storage: s3` was given, for "needed with".
    kind: String,
}

impl Resolver<'_> {
    fn s3(&self) -> Result<S3Storage, Error> {
        let (g, f) = (&self.given, &self.file);
        let (endpoint, from_file) = self
            .pick(&g.endpoint, &f.endpoint)
            .ok_or_else(|| self.missing("s3.endpoint", "URL", ""))?;
        let endpoint = parse_endpoint(&endpoint).map_err(self.bad("s3.endpoint", from_file))?;
        let (bucket, from_file) = self
            .pick(&g.bucket, &f.bucket)
            .ok_or_else(|| self.missing("s3.bucket", "NAME", ""))?;
        let bucket = check_bucket_name(&bucket).map_err(self.bad("s3.bucket", from_file))?;
        let (region, from_file) = match self.pick(&g.region, &f.region) {
            Some((r, from_file)) => (Some(r), from_file),
            None => (None, false),
        };
        let region = parse_region(region.as_deref()).map_err(self.bad("s3.region", from_file))?;
        let root_directory = match self.pick(&g.root, &f.root) {
            Some((r, from_file)) => normalize_root(&r).map_err(self.bad("s3.root", from_file))?,
            None => None,
        };
        let (file, from_file) = match (&g.credentials_file, &f.credentials_file) {
            (Some(p), _) => (p.clone(), false),
            (None, Some(p)) => (p.clone(), true),
            (None, None) => {
                return Err(self.missing(
                    "s3.credentialsFile",
                    "FILE",
                    &format!("put the access key in a file (0600), {CREDENTIAL_FORMATS}, and "),
                ));
            }
        };
        let credentials =
            S3Credentials::load(&file).map_err(self.bad("s3.credentialsFile", from_file))?;
        Ok(S3Storage {
            endpoint,
            bucket,
            region,
            root_directory,
            credentials,
            redirect: g.redirect.or(f.redirect).unwrap_or(true),
        })
    }

    /// A string setting: the program's, else the file's; with whether it came from the file.
    fn pick(&self, given: &Option<String>, file: &Option<String>) -> Option<(String, bool)> {
        present(given.as_deref())
            .map(|v| (v, false))
            .or_else(|| present(file.as_deref()).map(|v| (v, true)))
    }

    /// `e` as the setting `key`'s.
    fn bad(&self, key: &str, from_file: bool) -> impl FnOnce(Error) -> Error + use<> {
        let name = (self.name)(key, from_file);
        move |e| Error::Setting {
            name,
            source: Box::new(e),
        }
    }

    /// The required `s3.*` setting `key` is missing; `value` completes the flag in the hint,
    /// `lead` starts it.
    fn missing(&self, key: &str, value: &str, lead: &str) -> Error {
        let name = (self.name)(key, false);
        let field = key.trim_start_matches("s3.");
        let mut advice = format!("{lead}give `{name} {value}`");
        if self.has_file {
            advice.push_str(&format!(
                ", or `{field}:` in the config file's `s3:` section"
            ));
        }
        if key == "s3.credentialsFile" {
            advice.push_str("; keys are never taken as arguments");
        }
        Error::SettingMissing {
            message: format!("missing `{name}` (needed with `{}`)", self.kind),
            hint: Hint::Worded { advice },
        }
    }

    /// The `s3` setting `key` is given without `storage: s3`.
    fn needs_s3(&self, key: &str, from_file: bool, as_s3: &str) -> Error {
        let name = (self.name)(key, from_file);
        Error::SettingMissing {
            message: format!("`{name}` needs `{as_s3}`"),
            hint: Hint::Worded {
                advice: format!(
                    "add `{as_s3}` to store in a bucket, or leave the s3 settings out to store in <root>/data"
                ),
            },
        }
    }
}
