//! The settings that take more than a lookup: passwords and the Red Hat account, the
//! release, the steps to skip, the runtime and how the registry runs (a carried image archive
//! is read), the storage and the http secret.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::InstallOptions;
use crate::auth::Credential;
use crate::error::Error;
use crate::hint::Hint;
use crate::install::Step;
use crate::reference::ImageRef;
use crate::runtime::{DEFAULT_REGISTRY_IMAGE, RunOptions, RuntimeChoice};
use crate::storage::{Layer, StorageSettings};

use super::{DEFAULT_ARCHITECTURE, DEFAULT_RELEASE_REPOSITORY, both, path_or, pick_value};

impl InstallOptions {
    /// The registry password: the program's `passwordFile`, else the one it read, else the
    /// config file's `passwordFile`.
    pub(super) fn registry_password(&self) -> Result<String, Error> {
        let password = match (&self.given.password_file, &self.password) {
            (Some(p), _) => {
                crate::secret::read_secret_file(p).map_err(self.bad("passwordFile", false))?
            }
            (None, Some(p)) => p.clone(),
            (None, None) => match &self.file.password_file {
                Some(p) => {
                    crate::secret::read_secret_file(p).map_err(self.bad("passwordFile", true))?
                }
                None => return Err(self.missing("passwordFile", Some("FILE"), "")),
            },
        };
        crate::htpasswd::validate_password(&password).map_err(self.bad("password", false))?;
        Ok(password)
    }

    /// The Red Hat account, when a user is given; a password without a user is refused.
    pub(super) fn rh_account(&self) -> Result<Option<Credential>, Error> {
        let (g, f) = (&self.given, &self.file);
        let Some(username) = self.rh_username() else {
            if self.rh_password.is_some()
                || g.rh_password_file.is_some()
                || f.rh_password_file.is_some()
            {
                let user = self.given_name("rhUsername");
                return Err(Error::SettingMissing {
                    message: format!("a Red Hat account password was given without `{user}`"),
                    hint: Hint::Worded {
                        advice: format!(
                            "give `{user} USER` (or `rhUsername:`) with it, or leave both out"
                        ),
                    },
                });
            }
            return Ok(None);
        };
        let password = match (&g.rh_password_file, &self.rh_password, &f.rh_password_file) {
            (Some(p), _, _) => {
                crate::secret::read_secret_file(p).map_err(self.bad("rhPasswordFile", false))?
            }
            (None, Some(p), _) => p.clone(),
            (None, None, Some(p)) => {
                crate::secret::read_secret_file(p).map_err(self.bad("rhPasswordFile", true))?
            }
            (None, None, None) => {
                return Err(Error::SettingMissing {
                    message: format!("no password for the Red Hat account `{username}`"),
                    hint: Hint::Worded {
                        advice: format!(
                            "give `{} FILE` (or `rhPasswordFile:` in the config file)",
                            self.given_name("rhPasswordFile")
                        ),
                    },
                });
            }
        };
        if password.is_empty() {
            return Err(Error::SettingMissing {
                message: "the Red Hat account password is empty".into(),
                hint: Hint::Worded {
                    advice: format!(
                        "put the password in the file given as `{}`",
                        self.given_name("rhPasswordFile")
                    ),
                },
            });
        }
        Ok(Some(Credential { username, password }))
    }

    /// The bundle to publish from (`fromDir`), with whether it came from the config file.
    pub(super) fn bundle_dir(&self) -> Option<(std::path::PathBuf, bool)> {
        match (&self.given.from_dir, &self.file.from_dir) {
            (Some(p), _) => Some((p.clone(), false)),
            (None, Some(p)) => Some((p.clone(), true)),
            (None, None) => None,
        }
    }

    /// The first release of the bundle `fromDir` names (its metadata is read, nothing else);
    /// `release` or `version` beside it is refused.
    fn bundle_release(&self, dir: &std::path::Path, from_file: bool) -> Result<ImageRef, Error> {
        let (g, f) = (&self.given, &self.file);
        for key in ["release", "version"] {
            let (given, file) = match key {
                "release" => (&g.release, &f.release),
                _ => (&g.version, &f.version),
            };
            if let Some((_, v_from_file)) = Self::pick(given, file) {
                return Err(self.bad(key, v_from_file)(Error::InvalidSetting {
                    name: key.into(),
                    reason: format!(
                        "the bundle given as `{}` decides the release: leave `{}` out",
                        self.name("fromDir", from_file),
                        self.name(key, v_from_file)
                    ),
                }));
            }
        }
        let meta =
            crate::bundle::BundleMetadata::read(dir).map_err(self.bad("fromDir", from_file))?;
        let first = meta.releases.first().ok_or_else(|| {
            self.bad("fromDir", from_file)(Error::Bundle {
                path: dir.join(crate::bundle::METADATA_FILE),
                reason: "holds no release".into(),
                hint: Box::new(Hint::NotABundle),
            })
        })?;
        ImageRef::parse(&first.source).map_err(self.bad("fromDir", from_file))
    }

    /// `release`, else `version` (and `architecture`) in the OpenShift release repository;
    /// with `fromDir`, the bundle's first release.
    pub(super) fn release(&self) -> Result<ImageRef, Error> {
        if let Some((dir, from_file)) = self.bundle_dir() {
            return self.bundle_release(&dir, from_file);
        }
        let (g, f) = (&self.given, &self.file);
        let (text, key, from_file) = match (
            Self::pick(&g.release, &f.release),
            Self::pick(&g.version, &f.version),
        ) {
            (Some((r, from_file)), _) => (r, "release", from_file),
            (None, Some((v, from_file))) => {
                let arch = Self::pick(&g.architecture, &f.architecture)
                    .map(|(a, _)| a)
                    .unwrap_or_else(|| DEFAULT_ARCHITECTURE.to_string());
                (
                    format!("{DEFAULT_RELEASE_REPOSITORY}:{v}-{arch}"),
                    "version",
                    from_file,
                )
            }
            (None, None) => {
                let (version, release) = (self.given_name("version"), self.given_name("release"));
                return Err(Error::SettingMissing {
                    message: format!("missing `{version}` or `{release}`"),
                    hint: Hint::Worded {
                        advice: format!(
                            "give `{version} 4.14.1`, or `version:` in the config file"
                        ),
                    },
                });
            }
        };
        ImageRef::parse(&text).map_err(self.bad(key, from_file))
    }

    /// The steps to skip; skipping `mirror` needs `extract` and `outputs` skipped too, as
    /// both use what it made.
    pub(super) fn skip(&self) -> Result<BTreeSet<Step>, Error> {
        let mut skip = BTreeSet::new();
        for (name, from_file) in both(&self.given.skip, &self.file.skip) {
            skip.insert(Step::parse(name).map_err(self.bad("skip", from_file))?);
        }
        let needs_mirror: Vec<&str> = [Step::Extract, Step::Outputs]
            .into_iter()
            .filter(|s| !skip.contains(s))
            .map(Step::name)
            .collect();
        if skip.contains(&Step::Mirror) && !needs_mirror.is_empty() {
            return Err(self.bad("skip", self.given.skip.is_empty())(
                Error::InvalidSetting {
                    name: "skip".into(),
                    reason: format!(
                        "`{}` needs the `mirror` step: skip it too",
                        needs_mirror.join("` and `")
                    ),
                },
            ));
        }
        Ok(skip)
    }

    pub(super) fn runtime(&self) -> Result<RuntimeChoice, Error> {
        let Some((name, from_file)) = Self::pick(&self.given.runtime, &self.file.runtime) else {
            return Ok(RuntimeChoice::Auto);
        };
        match name.as_str() {
            "podman" => Ok(RuntimeChoice::Podman),
            "process" => Ok(RuntimeChoice::Process),
            "auto" => Ok(RuntimeChoice::Auto),
            _ => Err(self.bad("runtime", from_file)(Error::UnknownName {
                kind: "runtime",
                name,
                known: vec!["podman", "process", "auto"],
            })),
        }
    }

    /// How the registry runs: `runtime`, the supervisor, `image`, and `imageArchive`, which
    /// is read now (a file that is no image archive, or an archive with the process runtime,
    /// stops the install before anything changes).
    pub(super) fn run_options(&self, runtime: RuntimeChoice) -> Result<RunOptions, Error> {
        let (g, f) = (&self.given, &self.file);
        let image = Self::pick(&g.image, &f.image)
            .map(|(i, _)| i)
            .unwrap_or_else(|| DEFAULT_REGISTRY_IMAGE.to_string());
        let picked = pick_value(g.image_archive.as_ref(), f.image_archive.as_ref());
        let run = RunOptions {
            runtime,
            supervisor: self.supervisor,
            image,
            image_archive: picked.map(|(p, _)| p.clone()),
            ..Default::default()
        };
        if let Some((_, from_file)) = picked {
            crate::runtime::carried_image(&run).map_err(self.bad("imageArchive", from_file))?;
        }
        Ok(run)
    }

    /// `storage` and the `s3:` section, each key the program's over the file's (see
    /// [`StorageSettings::from_values`]); the credentials file is read now.
    pub(super) fn storage(&self) -> Result<StorageSettings, Error> {
        let (g, f) = (&self.given, &self.file);
        crate::storage::resolve_layers(
            Layer {
                storage: g.storage.as_deref(),
                s3: g.s3.as_ref(),
            },
            Some(Layer {
                storage: f.storage.as_deref(),
                s3: f.s3.as_ref(),
            }),
            &|key, from_file| self.name(key, from_file),
        )
    }

    /// `httpSecretFile`: an existing file must hold a usable secret (it is read now, never
    /// quoted); a missing one is created when the registry starts.
    pub(super) fn http_secret_file(&self) -> Result<Option<PathBuf>, Error> {
        let (g, f) = (&self.given.http_secret_file, &self.file.http_secret_file);
        if g.is_none() && f.is_none() {
            return Ok(None);
        }
        let (path, from_file) = path_or(g, f, "");
        if path.exists() {
            crate::storage::read_http_secret(&path)
                .map_err(self.bad("httpSecretFile", from_file))?;
        }
        Ok(Some(path))
    }
}
