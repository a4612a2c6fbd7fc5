//! `mirrorctl completions SHELL` and `mirrorctl man --dir DIR`: shell completions and man pages
//! generated from the same clap definition as `--help`, so they never say something else.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory as _};

use crate::output::{EXIT_OK, EXIT_PROBLEM, stdout};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh or fish (elvish and powershell work too)
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into (created when missing): mirrorctl.1, mirrorctl-tls.1,
    /// mirrorctl-tls-generate.1, ...
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs) -> u8 {
    let mut cmd = crate::cli::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "mirrorctl", &mut script);
    stdout(&String::from_utf8_lossy(&script));
    EXIT_OK
}

/// Writes one page per command into `args.dir`, each atomically; prints the paths written.
pub fn man(args: ManArgs) -> u8 {
    match write_pages(&args.dir) {
        Ok(paths) => {
            let list: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
            stdout(&list);
            EXIT_OK
        }
        Err((path, e)) => {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            eprintln!("hint: give `--dir` a directory you can write to");
            EXIT_PROBLEM
        }
    }
}

/// Every page: the root command and each visible subcommand, recursively, named the way
/// `man` looks them up (`man mirrorctl-release-mirror`).
fn write_pages(dir: &Path) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    std::fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let mut root = crate::cli::Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    collect(&root, &mut pages);
    let mut written = Vec::new();
    for cmd in pages {
        let man = clap_mangen::Man::new(cmd)
            .date(env!("MIRRORCTL_BUILD_DATE"))
            .source(concat!("mirrorctl ", env!("CARGO_PKG_VERSION")))
            .manual("mirrorctl manual");
        let path = dir.join(man.get_filename());
        let mut text = Vec::new();
        man.render(&mut text).map_err(|e| (path.clone(), e))?;
        write_atomic(&path, &text).map_err(|e| (path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}

fn collect(cmd: &clap::Command, out: &mut Vec<clap::Command>) {
    out.push(cmd.clone());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, out);
    }
}

/// Temp file in the same directory, then rename: a reader never sees half a page.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let perms = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    tmp.as_file().set_permissions(perms)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each page carries its command's help text, and every visible command has a page.
    #[test]
    fn man_pages_follow_the_help_text() {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_pages(dir.path()).unwrap();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "mirrorctl.1",
            "mirrorctl-release-mirror.1",
            "mirrorctl-registry-user-add.1",
            "mirrorctl-install.1",
            "mirrorctl-completions.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want}: {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("-help")), "{names:?}");
        let page = std::fs::read_to_string(dir.path().join("mirrorctl-release-mirror.1")).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{page}");
        assert!(page.contains(".TH mirrorctl-release-mirror 1 "), "{page}");
        assert!(
            page.contains(
                "Print the plan (images, unique blobs, bytes to transfer) and write nothing"
            ),
            "{page}"
        );
    }
}
