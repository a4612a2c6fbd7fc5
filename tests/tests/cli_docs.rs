//! What mirrorctl says about itself: `--version` (version, commit, target, build date), `-V`
//! on every command (install's `--version` is the OpenShift version), shell completions and
//! man pages generated from the same definition as `--help`.

use std::process::Command;

use mirror_testkit::cli::{git_head, mirrorctl, text};
use mirror_testkit::require_tool;

#[test]
fn version_names_the_commit_target_and_build_date() {
    let out = mirrorctl(["--version"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0], format!("mirrorctl {}", env!("CARGO_PKG_VERSION")));
    // The commit of this work tree (cargo rebuilds when HEAD moves), or `unknown` without git.
    let head = git_head();
    assert_eq!(lines[1], format!("commit: {head}"));
    let target = lines[2].strip_prefix("target: ").expect(&stdout);
    assert!(
        target.starts_with(&format!("{}-", std::env::consts::ARCH)) && target.contains("-linux-"),
        "{stdout}"
    );
    let date = lines[3].strip_prefix("built:  ").expect(&stdout);
    let parts: Vec<&str> = date.split('-').collect();
    assert!(
        parts.len() == 3 && parts[0].len() == 4 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "{date}"
    );

    // `-V` is one line, on the root and on every command, install included.
    let short = format!(
        "{} ({} {date})\n",
        env!("CARGO_PKG_VERSION"),
        &head[..head.len().min(12)]
    );
    for argv in [
        vec!["-V"],
        vec!["install", "-V"],
        vec!["tls", "generate", "-V"],
        vec!["release", "mirror", "-V"],
    ] {
        let out = mirrorctl(&argv).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{argv:?}: {stderr}");
        assert!(
            stdout.starts_with("mirrorctl") && stdout.ends_with(&short),
            "{argv:?}: {stdout}"
        );
    }
    // install's `--version` is still the OpenShift version: it takes a value.
    let out = mirrorctl(["install", "--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("a value is required for '--version <VERSION>'"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn completions_load_in_bash_and_name_every_command() {
    let bash = require_tool("bash");
    for (shell, marker) in [
        ("bash", "complete -F _mirrorctl"),
        ("zsh", "#compdef mirrorctl"),
        ("fish", "complete -c mirrorctl"),
    ] {
        let out = mirrorctl(["completions", shell]).output().unwrap();
        let (script, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{shell}: {stderr}");
        assert!(script.contains(marker), "{shell}: {script}");
        for word in [
            "release",
            "pull-secret",
            "registry-config",
            "insecure-registry",
        ] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    // bash sources it and completes `mirrorctl rel` to `release`.
    let script = text(&mirrorctl(["completions", "bash"]).output().unwrap()).0;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("mirrorctl.bash");
    std::fs::write(&file, script).unwrap();
    let out = Command::new(bash)
        .arg("-c")
        .arg(
            r#"source "$1"
COMP_WORDS=(mirrorctl rel); COMP_CWORD=1; COMP_LINE="mirrorctl rel"; COMP_POINT=13
_mirrorctl mirrorctl rel mirrorctl
printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .arg("bash")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).0, "release\n");

    let out = mirrorctl(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("invalid value 'tcsh'"),
        "{:?}",
        text(&out)
    );
}

/// roff source as plain text: the escapes clap_mangen writes.
fn unroff(s: &str) -> String {
    s.replace("\\-", "-")
        .replace("\\*(Aq", "'")
        .replace("\\fB", "")
        .replace("\\fR", "")
        .replace("\\fI", "")
        .replace("\\\\", "\\")
}

/// Every command has a page, and each description line of its `--help` is in the page.
#[test]
fn man_pages_have_the_help_text_of_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = mirrorctl(["man", "--dir"]).arg(&dir).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let pages: Vec<&str> = stdout.lines().collect();
    assert!(pages.len() > 25, "{stdout}");

    // Walk the command tree through --help itself.
    let mut todo = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let out = mirrorctl(path.iter().chain([&"--help".to_string()]))
            .output()
            .unwrap();
        let help = text(&out).0;
        let name = std::iter::once("mirrorctl".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let page_path = dir.join(format!("{name}.1"));
        assert!(
            pages.contains(&page_path.to_str().unwrap()),
            "{name}: {stdout}"
        );
        let page = unroff(&std::fs::read_to_string(&page_path).unwrap());
        assert!(page.contains(&format!(".TH {name} 1 ")), "{name}");
        seen += 1;
        let mut in_commands = false;
        for line in help.lines() {
            if line == "Commands:" {
                in_commands = true;
                continue;
            }
            if in_commands {
                match line.trim_start().split_once(' ') {
                    Some((sub, _)) if line.starts_with("  ") && sub != "help" => {
                        todo.push(path.iter().cloned().chain([sub.to_string()]).collect());
                    }
                    _ if line.is_empty() => in_commands = false,
                    _ => {}
                }
                continue;
            }
            // Option descriptions: indented 10 spaces in long help.
            if let Some(desc) = line.strip_prefix("          ") {
                let desc = desc
                    .split(" [default: ")
                    .next()
                    .unwrap()
                    .split(" [possible values: ")
                    .next()
                    .unwrap()
                    .split(" [env: ")
                    .next()
                    .unwrap();
                if desc.starts_with('[') || desc.is_empty() {
                    continue;
                }
                // A documented possible value (`- auto: ...`, aligned) is a bullet item there.
                let desc = match desc.strip_prefix("- ") {
                    Some(value) => value.split_whitespace().collect::<Vec<_>>().join(" "),
                    None => desc.to_string(),
                };
                assert!(
                    page.contains(&desc),
                    "{name}: `{desc}` is not in its man page"
                );
            }
        }
    }
    assert_eq!(seen, pages.len(), "{stdout}");

    let out = mirrorctl(["man", "--dir", "/proc/mirrorctl-no"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .starts_with("error: cannot write `/proc/mirrorctl-no`"),
        "{:?}",
        text(&out)
    );
}
