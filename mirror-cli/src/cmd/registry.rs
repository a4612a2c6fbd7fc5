//! `mirrorctl registry user add|up|status|down|logs`.
//!
//! The clap syntax of this group lives here, next to the code that resolves it.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use mirror_core::{
    auth::Credential,
    htpasswd::UserAction,
    runtime::{
        CheckState, FirewallAction, LogSource, RegistryLayout, RunOptions, RuntimeChoice,
        StatusOptions, SupervisorChoice, UpAction, UpOptions, parse_bind, validate_port,
    },
};

use super::secret_input::PasswordArgs;
use crate::cli::OutputFormat;
use crate::output::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, core_error, json_report, stdout};

/// `mirrorctl registry ...`
#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Manage the registry's htpasswd users
    #[command(subcommand)]
    User(UserCommand),
    /// Start the registry (idempotent: a running registry with this configuration is left alone)
    Up(UpArgs),
    /// Check the registry: running, storage, TLS with our CA, login, _catalog (exit 1 when a check fails)
    Status(StatusArgs),
    /// Stop the registry and remove what `up` installed to run it (the data is kept)
    Down(DownArgs),
    /// Print the registry's log
    Logs(LogsArgs),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user, or set its password (other users are kept)
    Add(UserAddArgs),
}

#[derive(Args, Debug)]
pub struct UserAddArgs {
    /// The htpasswd file (created 0600 when missing)
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/opt/registry/auth/htpasswd"
    )]
    pub htpasswd: PathBuf,
    /// The user name
    #[arg(long, value_name = "USER")]
    pub username: String,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// bcrypt cost of the hash (4-31). The registry checks it on every request, so each step
    /// up doubles its CPU per request; see docs/security.md before raising it
    #[arg(long, value_name = "N", default_value_t = mirror_core::htpasswd::DEFAULT_BCRYPT_COST)]
    pub bcrypt_cost: u32,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeArg {
    Auto,
    Podman,
    Process,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SupervisorArg {
    Auto,
    Systemd,
    Process,
}

#[derive(Args, Debug)]
pub struct RootArgs {
    /// The registry root: certs/, auth/, data/, config.yml
    #[arg(long, value_name = "DIR", default_value = mirror_core::runtime::DEFAULT_REGISTRY_ROOT)]
    pub root: PathBuf,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Also close the port `up` opened in firewalld (a port opened by someone else stays open)
    #[arg(long)]
    pub purge: bool,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The port to listen on
    #[arg(long, default_value_t = mirror_core::runtime::DEFAULT_REGISTRY_PORT)]
    pub port: u16,
    /// The address to listen on, e.g. 127.0.0.1 or ::1 [default: every interface]
    #[arg(long, value_name = "ADDRESS")]
    pub bind: Option<String>,
    /// podman (the registry:2 image), process (a distribution binary on this host), or auto
    #[arg(long, value_enum, default_value = "auto")]
    pub runtime: RuntimeArg,
    /// Who keeps it running: systemd (a unit), process (no unit), or auto (systemd when it runs and we are root)
    #[arg(long, value_enum, default_value = "auto", env = "MIRRORCTL_SUPERVISOR")]
    pub supervisor: SupervisorArg,
    /// The image for podman, e.g. a mirrored copy of registry:2
    #[arg(long, value_name = "IMAGE", default_value = mirror_core::runtime::DEFAULT_REGISTRY_IMAGE)]
    pub image: String,
    /// The registry image as an archive carried from a connected host (`podman save`, or `skopeo copy ... docker-archive:FILE`): loaded into podman when missing, then run by its ID
    #[arg(long, value_name = "FILE", conflicts_with = "binary")]
    pub image_archive: Option<PathBuf>,
    /// Leave firewalld alone (by default the port is opened when firewalld runs, unless --bind is a loopback address)
    #[arg(long)]
    pub no_firewall: bool,
    /// The distribution binary for the process runtime [default: docker-registry or registry on PATH]
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    #[command(flatten)]
    pub storage: super::storage::StorageArgs,
    /// The file holding the secret replicas share (created random, 0600, when missing) [default: <root>/auth/http-secret with --storage s3, none otherwise]
    #[arg(long, value_name = "FILE")]
    pub http_secret_file: Option<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// The address to check [default: this host's FQDN and the port it was started on]
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// Log in as this user (password from --password-file, --password-stdin, $MIRROR_REGISTRY_PASSWORD or a prompt)
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

pub async fn run(cmd: RegistryCommand) -> u8 {
    match cmd {
        RegistryCommand::User(UserCommand::Add(args)) => user_add(args),
        RegistryCommand::Up(args) => up(args),
        RegistryCommand::Status(args) => status(args).await,
        RegistryCommand::Down(args) => down(args),
        RegistryCommand::Logs(args) => logs(args),
    }
}

fn user_add(args: UserAddArgs) -> u8 {
    if let Err(e) = mirror_core::htpasswd::validate_username(&args.username) {
        return core_error(&e);
    }
    let password = match args.password.read("New password: ", true) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let cred = Credential {
        username: args.username,
        password: password.0,
    };
    match mirror_core::set_htpasswd_user(&args.htpasswd, &cred, args.bcrypt_cost) {
        Ok(action) => {
            let what = match action {
                UserAction::Added => "added",
                UserAction::Replaced => "password replaced",
                UserAction::Unchanged => "kept (already right)",
                UserAction::Rehashed => {
                    "kept its password, hashed again at the bcrypt cost asked for"
                }
            };
            stdout(&match args.output {
                OutputFormat::Json => json_report(
                    "RegistryUser",
                    serde_json::json!({
                        "htpasswd": args.htpasswd,
                        "username": cred.username,
                        "action": action,
                        "changed": action != UserAction::Unchanged,
                    }),
                ),
                OutputFormat::Text => format!(
                    "user `{}` in {}: {what}\n",
                    cred.username,
                    args.htpasswd.display()
                ),
            });
            EXIT_OK
        }
        Err(e) => core_error(&e),
    }
}

fn up(args: UpArgs) -> u8 {
    let flag = |name: &str| {
        let name = name.to_string();
        move |e| mirror_core::Error::Setting {
            name,
            source: Box::new(e),
        }
    };
    let checked = validate_port(args.port)
        .map_err(flag("--port"))
        .and_then(|_| {
            args.bind
                .as_deref()
                .map(|b| parse_bind(b).map_err(flag("--bind")))
                .transpose()
        })
        .and_then(|bind| Ok((bind, args.storage.resolve()?)));
    let (bind, storage) = match checked {
        Ok(b) => b,
        Err(e) => return core_error(&e),
    };
    let opts = UpOptions {
        root: args.root.root.clone(),
        port: args.port,
        bind,
        storage,
        http_secret_file: args.http_secret_file,
        firewall: !args.no_firewall,
        run: RunOptions {
            runtime: match args.runtime {
                RuntimeArg::Auto => RuntimeChoice::Auto,
                RuntimeArg::Podman => RuntimeChoice::Podman,
                RuntimeArg::Process => RuntimeChoice::Process,
            },
            supervisor: match args.supervisor {
                SupervisorArg::Auto => SupervisorChoice::Auto,
                SupervisorArg::Systemd => SupervisorChoice::Systemd,
                SupervisorArg::Process => SupervisorChoice::Process,
            },
            image: args.image,
            image_archive: args.image_archive,
            binary: args.binary,
            ..Default::default()
        },
    };
    let report = match mirror_core::registry_up(&opts) {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    match args.output {
        OutputFormat::Json => {
            let mut v = serde_json::json!({
                "apiVersion": "mirrorctl.openshift.io/v1alpha1",
                "kind": "RegistryUp",
            });
            if let (Some(obj), Ok(serde_json::Value::Object(rest))) =
                (v.as_object_mut(), serde_json::to_value(&report))
            {
                obj.extend(rest);
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => print_up(&opts, &report),
    }
    firewall_exit(&report.firewall)
}

/// `registry up`'s report as text: what runs (and the carried image), where, on which
/// storage, the port in firewalld; notes on stderr.
fn print_up(opts: &UpOptions, report: &mirror_core::runtime::UpReport) {
    let layout = RegistryLayout::new(&opts.root);
    let what = match report.action {
        UpAction::Started => "started",
        UpAction::Restarted => "restarted (the configuration changed)",
        UpAction::AlreadyRunning => "already running (already right)",
    };
    println!("{what}: {}", report.run.describe(&layout));
    if report.runtime_kept {
        eprintln!(
            "note: kept the runtime that runs (process) although podman is installed now; pass `--runtime podman` to switch (it is tried before the running registry is stopped)"
        );
    }
    if let Some(l) = &report.image_archive {
        println!("{}", describe_loaded(l));
    }
    let pid = report.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
    println!(
        "listening on {}{pid}; config {}",
        mirror_core::runtime::describe_listen(report.bind, report.port),
        report.config.display()
    );
    match &report.version {
        Some(v) => println!(
            "storage: {} (config for registry {}, from {})",
            report.storage, v.version, v.source
        ),
        None => println!("storage: {}", report.storage),
    }
    if let Some(s3) = opts.storage.s3() {
        if s3.redirect {
            eprintln!(
                "note: blob downloads are redirected to {}: every client (cluster nodes, podman) must reach it; if they cannot, run `up` again with `--s3-no-redirect` so the registry serves the bytes itself",
                s3.endpoint_str()
            );
        } else {
            eprintln!(
                "note: the registry serves blob downloads itself (--s3-no-redirect): clients need to reach only the registry"
            );
        }
    }
    if let Some(f) = &report.http_secret_file {
        let how = if report.http_secret_created {
            "created; give every replica this file"
        } else {
            "kept"
        };
        println!("http secret: {} ({how})", f.display());
    }
    if let Some(line) = describe_firewall(&report.firewall) {
        println!("{line}");
    }
}

/// One line for stdout about the port in firewalld, when there is something to say.
pub fn describe_firewall(f: &mirror_core::runtime::FirewallReport) -> Option<String> {
    let zone = f
        .zone
        .as_deref()
        .map(|z| format!(" (zone {z})"))
        .unwrap_or_default();
    let port = f.port;
    Some(match f.action {
        FirewallAction::Opened => {
            format!("firewall: opened {port}/tcp in firewalld{zone}, now and permanently")
        }
        FirewallAction::AlreadyOpen => format!("firewall: {port}/tcp was open already{zone}"),
        FirewallAction::Closed => format!("firewall: closed {port}/tcp in firewalld{zone}"),
        FirewallAction::AlreadyClosed => format!("firewall: {port}/tcp was closed already{zone}"),
        _ => return None,
    })
}

/// Prints what went wrong with firewalld (stderr); exit 1 when it failed, else 0.
pub fn firewall_exit(f: &mirror_core::runtime::FirewallReport) -> u8 {
    match f.action {
        FirewallAction::Failed => {
            eprintln!(
                "error: port {}/tcp in firewalld: {}",
                f.port,
                f.detail.as_deref().unwrap_or("firewall-cmd failed")
            );
            if let Some(h) = crate::output::hint_text(f.hint()) {
                eprintln!("hint: {h}");
            }
            EXIT_PROBLEM
        }
        FirewallAction::NotRunning if f.detail.is_some() => {
            eprintln!("note: {}", f.detail.as_deref().unwrap_or_default());
            EXIT_OK
        }
        _ => EXIT_OK,
    }
}

/// `image: docker.io/library/registry:2 = sha256:... (loaded from FILE)`.
pub fn describe_loaded(l: &mirror_core::runtime::LoadedImage) -> String {
    let name = l
        .image
        .names
        .first()
        .map(|n| format!("{n} = "))
        .unwrap_or_default();
    let how = if l.loaded {
        format!("loaded from {}", l.archive.display())
    } else {
        format!("already in podman's storage, as in {}", l.archive.display())
    };
    format!("image: {name}{} ({how})", l.image.id)
}

async fn status(args: StatusArgs) -> u8 {
    let credential = match &args.username {
        None => None,
        Some(u) => match args.password.read(&format!("Password for `{u}`: "), false) {
            Ok(p) => Some(Credential {
                username: u.clone(),
                password: p.0,
            }),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let report = mirror_core::runtime::registry_status(&StatusOptions {
        root: args.root.root.clone(),
        registry: args.registry.clone(),
        credential,
    })
    .await;
    match args.output {
        OutputFormat::Json => {
            let mut v = serde_json::json!({
                "apiVersion": "mirrorctl.openshift.io/v1alpha1",
                "kind": "RegistryStatus",
            });
            if let (Some(obj), Ok(serde_json::Value::Object(rest))) =
                (v.as_object_mut(), serde_json::to_value(&report))
            {
                obj.extend(rest);
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => {
            println!("registry:  {}", report.registry);
            if let Some(s) = &report.storage {
                println!("storage:   {s}");
            }
            for c in &report.checks {
                let mark = match c.state {
                    CheckState::Pass => "ok  ",
                    CheckState::Fail => "FAIL",
                    CheckState::Skip => "skip",
                };
                println!("{mark}  {:8} {}", c.name, c.detail);
            }
            for c in report.checks.iter().filter(|c| c.state == CheckState::Fail) {
                if let Some(h) = &c.hint {
                    eprintln!("hint: {}: {h}", c.name);
                }
            }
        }
    }
    if report.ok { EXIT_OK } else { EXIT_PROBLEM }
}

fn down(args: DownArgs) -> u8 {
    let root = &args.root.root;
    let r = match mirror_core::runtime::registry_down(root) {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    // With --purge, the port `up` opened; a failure is reported after what was stopped.
    let firewall = if args.purge {
        mirror_core::runtime::close_registry_ports(root, false)
    } else {
        Ok(Vec::new())
    };
    let closed = firewall.as_deref().unwrap_or_default();
    let layout = RegistryLayout::new(root);
    stdout(&match (args.output, r.stopped, r.removed, &r.run) {
        (OutputFormat::Json, ..) => json_report(
            "RegistryDown",
            serde_json::json!({
                "root": root,
                "changed": r.stopped || r.removed || closed.iter().any(|f| f.action == FirewallAction::Closed),
                "stopped": r.stopped,
                "removed": r.removed,
                "run": r.run.as_ref().map(|run| run.describe(&layout)),
                "firewall": closed,
            }),
        ),
        (_, true, _, Some(run)) => format!("stopped: {}\n", run.describe(&layout)),
        (_, true, _, None) => "stopped: the background registry\n".to_string(),
        (_, false, true, Some(run)) => {
            format!("removed (it was not running): {}\n", run.describe(&layout))
        }
        (_, false, true, None) => format!(
            "removed (it was not running): podman container `{}`\n",
            mirror_core::runtime::CONTAINER_NAME
        ),
        (_, false, false, _) => "not running (already right)\n".to_string(),
    });
    if args.output == OutputFormat::Text {
        let lines: String = closed
            .iter()
            .filter_map(describe_firewall)
            .map(|l| l + "\n")
            .collect();
        stdout(&lines);
    }
    match &firewall {
        Ok(f) => f.iter().map(firewall_exit).max().unwrap_or(EXIT_OK),
        Err(e) => core_error(e),
    }
}

fn logs(args: LogsArgs) -> u8 {
    let source = match mirror_core::runtime::registry_logs(&args.root.root) {
        Ok(s) => s,
        Err(e) => return core_error(&e),
    };
    match source {
        LogSource::File(path) => {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot read `{}`: {e}", path.display());
                    return EXIT_PROBLEM;
                }
            };
            let lines: Vec<&str> = text.lines().collect();
            let from = args.tail.map_or(0, |n| lines.len().saturating_sub(n));
            let mut out = std::io::stdout().lock();
            for l in &lines[from..] {
                if writeln!(out, "{l}").is_err() {
                    return EXIT_OK;
                }
            }
            EXIT_OK
        }
        LogSource::Command(mut argv) => {
            if let Some(n) = args.tail {
                let flag = if argv[0].ends_with("journalctl") {
                    "-n"
                } else {
                    "--tail"
                };
                argv.push(flag.into());
                argv.push(n.to_string());
            }
            match std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .status()
            {
                Ok(s) if s.success() => EXIT_OK,
                Ok(_) => EXIT_PROBLEM,
                Err(e) => {
                    eprintln!("error: cannot run `{}`: {e}", argv.join(" "));
                    EXIT_PROBLEM
                }
            }
        }
    }
}
