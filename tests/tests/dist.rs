//! The release artifacts as an administrator receives them. `scripts/dist.sh` builds them from
//! this tree (cargo-zigbuild against glibc 2.17, with the tools scripts/lib.sh installs), and
//! this test checks what matters on a RHEL bastion: the binary needs no glibc symbol newer than
//! `GLIBC_2.17` (RHEL 7.9), runs from the tarball (`--version`, `tls generate`, a real
//! `release mirror` checked with skopeo), is stripped with its debug info split off and linked,
//! the checksums verify, and the RPM holds the right files under a proper header.

use std::path::{Path, PathBuf};
use std::process::Command;

use mirror_testkit::cli::{git_head, mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::{RegistryOptions, TestRegistry, require_tool, skopeo};

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// What the RPM header says; the spec is packaging/rpm/mirrorctl.spec.
const SUMMARY: &str =
    "Build and fill the mirror registry a restricted-network OpenShift install needs";

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{cmd:?}: {stdout}{stderr}");
    stdout
}

/// The highest `GLIBC_x.y[.z]` version in `objdump -T` output (dynamic symbols).
fn max_glibc(objdump_t: &str) -> Option<Vec<u32>> {
    objdump_t
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| v.split('.').map(|n| n.parse().ok()).collect())
        .max()
}

/// The file a `.gnu_debuglink` section names and the CRC-32 it expects of it: the name, a
/// NUL, padding to 4 bytes, then the CRC little-endian.
fn debuglink(section: &[u8]) -> (String, u32) {
    let nul = section.iter().position(|&b| b == 0).expect("NUL");
    let name = String::from_utf8(section[..nul].to_vec()).unwrap();
    let at = (nul + 1).div_ceil(4) * 4;
    let crc = u32::from_le_bytes(section[at..at + 4].try_into().unwrap());
    (name, crc)
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn dist_builds_a_glibc_2_17_binary_a_tarball_and_an_rpm_that_hold_everything() {
    let objdump = require_tool("objdump");
    let objcopy = require_tool("objcopy");
    let rpm = require_tool("rpm");
    require_tool("rpmbuild");
    let sha256sum = require_tool("sha256sum");
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");

    let out = Command::new(workspace().join("scripts/dist.sh"))
        .env("DIST_DIR", &dist)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "scripts/dist.sh: {stdout}{stderr}");

    let name = format!("mirrorctl-{VERSION}-linux-x86_64");
    let rpm_file = format!("mirrorctl-{VERSION}-1.x86_64.rpm");
    assert_eq!(
        sorted_names(&dist),
        [
            "SHA256SUMS".to_string(),
            rpm_file.clone(),
            format!("{name}-debuginfo.tar.gz"),
            format!("{name}.tar.gz"),
        ]
    );
    let sums = run(Command::new(&sha256sum)
        .args(["-c", "SHA256SUMS"])
        .current_dir(&dist));
    assert_eq!(
        sums.lines().filter(|l| l.ends_with(": OK")).count(),
        3,
        "{sums}"
    );

    // Both tarballs unpack into one directory: the debug file lands beside the binary.
    let x = tmp.path().join("x");
    std::fs::create_dir_all(&x).unwrap();
    for t in [format!("{name}.tar.gz"), format!("{name}-debuginfo.tar.gz")] {
        run(Command::new("tar")
            .arg("-xzf")
            .arg(dist.join(t))
            .arg("-C")
            .arg(&x));
    }
    let root = x.join(&name);
    assert_eq!(
        sorted_names(&root),
        [
            "LICENSE",
            "README.md",
            "completions",
            "man",
            "mirrorctl",
            "mirrorctl.debug"
        ]
    );
    assert_eq!(
        sorted_names(&root.join("completions")),
        ["_mirrorctl", "mirrorctl.bash", "mirrorctl.fish"]
    );
    let bin = root.join("mirrorctl");
    check_binary(
        &objdump,
        &objcopy,
        &bin,
        &root.join("mirrorctl.debug"),
        tmp.path(),
    );
    check_generated_files(&root, tmp.path());
    check_the_packaged_binary_runs(&bin, tmp.path());
    check_rpm(&rpm, &dist.join(&rpm_file), &bin, &root);
}

/// At most GLIBC_2.17, stripped, debug info in `mirrorctl.debug` with a matching link.
fn check_binary(objdump: &Path, objcopy: &Path, bin: &Path, debug: &Path, tmp: &Path) {
    let dynamic = run(Command::new(objdump).arg("-T").arg(bin));
    let max = max_glibc(&dynamic).expect("no GLIBC_ symbol versions at all");
    assert!(
        max <= vec![2, 17],
        "needs GLIBC_{max:?}: it would not start on RHEL 7 (glibc 2.17)"
    );
    // The reference build of the same tree on this Debian needs 2.34 or later.
    let host_build = PathBuf::from(env!("CARGO_BIN_EXE_mirrorctl"));
    let host_max = max_glibc(&run(Command::new(objdump).arg("-T").arg(&host_build))).unwrap();
    assert!(host_max > max, "{host_max:?} vs {max:?}");

    let sections = |f: &Path| run(Command::new(objdump).arg("-h").arg(f));
    let headers = sections(bin);
    // (`.debug_gdb_scripts` is loaded memory, Rust's pretty-printer hook: it stays.)
    for s in [".debug_info", ".debug_line", ".debug_str"] {
        assert!(!headers.contains(s), "not stripped, {s}:\n{headers}");
    }
    assert!(headers.contains(".gnu_debuglink"), "{headers}");
    let symbols = run(Command::new(objdump).arg("-t").arg(bin));
    assert!(
        symbols.contains("no symbols"),
        "the symbol table is still there"
    );
    let debug_headers = sections(debug);
    for s in [".debug_info", ".debug_line"] {
        assert!(debug_headers.contains(s), "{s} missing:\n{debug_headers}");
    }
    let link = tmp.join("debuglink");
    run(Command::new(objcopy)
        .arg(format!("--dump-section=.gnu_debuglink={}", link.display()))
        .arg(bin)
        .arg(tmp.join("scratch")));
    let (file, crc) = debuglink(&std::fs::read(&link).unwrap());
    assert_eq!(file, "mirrorctl.debug");
    let mut want = flate2::Crc::new();
    want.update(&std::fs::read(debug).unwrap());
    assert_eq!(crc, want.sum(), "the link does not match mirrorctl.debug");
}

/// Completions and man pages are what this tree's mirrorctl generates, one page per command.
fn check_generated_files(root: &Path, tmp: &Path) {
    for (shell, file) in [
        ("bash", "mirrorctl.bash"),
        ("zsh", "_mirrorctl"),
        ("fish", "mirrorctl.fish"),
    ] {
        let want = mirrorctl(["completions", shell]).output().unwrap().stdout;
        let got = std::fs::read(root.join("completions").join(file)).unwrap();
        assert!(
            got == want,
            "{file} differs from `mirrorctl completions {shell}`"
        );
    }
    let pages = tmp.join("pages");
    let listed = text(&mirrorctl(["man", "--dir"]).arg(&pages).output().unwrap()).0;
    assert!(listed.lines().count() > 25, "{listed}");
    assert_eq!(sorted_names(&root.join("man/man1")), sorted_names(&pages));
    assert_eq!(
        std::fs::read(root.join("LICENSE")).unwrap(),
        std::fs::read(workspace().join("LICENSE")).unwrap()
    );
}

/// `--version`, `tls generate`, and a real mirror of the fixture release, by the packaged binary.
fn check_the_packaged_binary_runs(bin: &Path, tmp: &Path) {
    let version = run(Command::new(bin).arg("--version"));
    let date = version.lines().nth(3).unwrap_or_default();
    assert_eq!(
        version,
        format!(
            "mirrorctl {VERSION}\ncommit: {}\ntarget: x86_64-unknown-linux-gnu.2.17\n{date}\n",
            git_head()
        )
    );
    assert!(date.starts_with("built:  20"), "{version}");

    let certs = tmp.join("certs");
    std::fs::write(
        tmp.join("certificate"),
        "countrycode=US\nstate=North Carolina\nlocality=Raleigh\norganization=Example\nunit=IT\n",
    )
    .unwrap();
    let out = run(Command::new(bin)
        .args(["tls", "generate", "--dir"])
        .arg(&certs)
        .args([
            "--hostname",
            "mirror.example.com",
            "--key-type",
            "ecdsa-p256",
        ])
        .current_dir(tmp));
    assert!(out.starts_with("created: "), "{out}");
    let out = run(Command::new(bin)
        .args(["tls", "verify", "--cert"])
        .arg(certs.join("domain.crt"))
        .arg("--key")
        .arg(certs.join("domain.key"))
        .arg("--ca")
        .arg(certs.join("ca.crt"))
        .args(["--hostname", "mirror.example.com:5000"]));
    assert!(out.contains("mirror.example.com"), "{out}");

    // TLS on both sides and htpasswd on the target: rustls, aws-lc-rs and bcrypt all run.
    let rt = mirror_testkit::runtime();
    let source = TestRegistry::start_with(RegistryOptions {
        tls: true,
        ..Default::default()
    });
    let target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), "pw-for-tests".into())),
        ..Default::default()
    });
    let client = mirror_core::RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let repo = format!("{}/ocp4/openshift4", target.host);
    let out = run(Command::new(bin)
        .args([
            "release", "mirror", "--from", &f.release, "--to", &repo, "-a",
        ])
        .arg(target.auth_file())
        .arg("--ca-file")
        .arg(target.ca_file().unwrap())
        .arg("--ca-file")
        .arg(source.ca_file().unwrap())
        .env("HOME", tmp));
    assert!(out.contains("Success"), "{out}");
    skopeo::assert_digest(
        &target,
        &format!("{repo}:{}-x86_64", f.version),
        &f.release_digest,
    );
}

/// `rpm -qpi` header, `rpm -qlp` file list, the binary inside is the tarball's, and the
/// requirements an old rpm and glibc meet.
fn check_rpm(rpm: &Path, file: &Path, bin: &Path, root: &Path) {
    let q = |args: &[&str]| run(Command::new(rpm).args(args).arg(file));
    let info = q(&["-qpi"]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in:\n{info}"))
    };
    assert_eq!(field("Name"), "mirrorctl");
    assert_eq!(field("Version"), VERSION);
    assert_eq!(field("Release"), "1");
    assert_eq!(field("Architecture"), "x86_64");
    assert_eq!(field("License"), "Apache-2.0");
    assert_eq!(field("URL"), env!("CARGO_PKG_REPOSITORY"));
    assert_eq!(field("Summary"), SUMMARY);
    assert!(info.contains("glibc 2.17"), "{info}");

    let files = q(&["-qlp"]);
    let mut want: Vec<String> = [
        "/usr/bin/mirrorctl",
        "/usr/share/bash-completion",
        "/usr/share/bash-completion/completions",
        "/usr/share/bash-completion/completions/mirrorctl",
        "/usr/share/doc/mirrorctl/README.md",
        "/usr/share/fish",
        "/usr/share/fish/vendor_completions.d",
        "/usr/share/fish/vendor_completions.d/mirrorctl.fish",
        "/usr/share/licenses/mirrorctl/LICENSE",
        "/usr/share/zsh",
        "/usr/share/zsh/site-functions",
        "/usr/share/zsh/site-functions/_mirrorctl",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.extend(
        sorted_names(&root.join("man/man1"))
            .iter()
            .map(|p| format!("/usr/share/man/man1/{p}.gz")),
    );
    want.sort();
    let mut got: Vec<String> = files.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, want);

    // `--dump`: path size mtime sha256 mode ...; the RPM's binary is the tarball's, 0755.
    let dump = q(&["-qp", "--dump"]);
    let line = dump
        .lines()
        .find(|l| l.starts_with("/usr/bin/mirrorctl "))
        .expect(&dump);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let bytes = std::fs::read(bin).unwrap();
    assert_eq!(fields[1], bytes.len().to_string(), "{line}");
    assert_eq!(fields[3], mirror_core::Digest::of(&bytes).hex(), "{line}");
    assert_eq!(fields[4], "0100755", "{line}");

    let requires = q(&["-qpR"]);
    assert!(
        max_glibc(&requires).is_some_and(|v| v <= vec![2, 17]),
        "{requires}"
    );
    assert!(!requires.contains("PayloadIsZstd"), "{requires}");
    assert_eq!(
        q(&["-qp", "--qf", "%{PAYLOADCOMPRESSOR}"]),
        "xz",
        "RHEL 7's rpm reads xz, not zstd"
    );
}

#[test]
fn glibc_versions_and_debuglinks_parse() {
    let t = "0000 DF *UND* 0000 (GLIBC_2.2.5) memcpy\n0000 DF *UND* 0000 (GLIBC_2.17) clock_gettime\n0000 DF *UND* 0000 GLIBC_2.3.4 __x\n";
    assert_eq!(max_glibc(t), Some(vec![2, 17]));
    assert_eq!(max_glibc("libc.so.6(GLIBC_2.34)(64bit)"), Some(vec![2, 34]));
    assert_eq!(max_glibc("nothing"), None);
    // 15 + NUL is aligned already; 8 + NUL pads to 12.
    for (name, pad) in [("mirrorctl.debug", 0), ("mc.debug", 3)] {
        let mut s = format!("{name}\0").into_bytes();
        s.extend(std::iter::repeat_n(0, pad));
        s.extend(0x1234_5678u32.to_le_bytes());
        assert_eq!(debuglink(&s), (name.to_string(), 0x1234_5678));
    }
}
