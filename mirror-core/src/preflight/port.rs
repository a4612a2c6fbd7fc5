//! `port`: the registry port is free, or already held by the mirror registry.
//!
//! A distribution registry on the port is the mirror's only when it serves
//! `<root>/config.yml` (the fact [`HostFacts::port_held_by_mirror`]): the same rule
//! `registry up` uses to recognise the process in `<root>/registry.pid`. Any other registry
//! there would make `registry up` refuse the port, so it fails here too.

use mirror_net::PortStatus;

use super::{HostFacts, Outcome, PreflightOptions};
use crate::error::ErrorChain;
use crate::runtime::RegistryLayout;

/// Command names of the distribution registry binary.
const REGISTRY_NAMES: [&str; 2] = ["registry", "docker-registry"];
/// Command names of podman and the helpers that hold a container's published ports.
const CONTAINER_NAMES: [&str; 6] = [
    "podman",
    "conmon",
    "rootlessport",
    "rootlessport-ch",
    "pasta",
    "slirp4netns",
];

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let port = opts.port;
    let root = opts.root.display();
    let config = RegistryLayout::new(&opts.root).config();
    let config = config.display();
    let status = match &facts.port {
        Ok(s) => s,
        // Not a failure to look: the registry could not listen there either.
        Err(e) => {
            return Outcome::fail(format!("port {port} cannot be used: {}", ErrorChain(&**e)))
                .hint(e.hint().map(|h| h.to_string()));
        }
    };
    let elsewhere = || "stop it, or run the registry on another port with `--port`".to_string();
    match status {
        PortStatus::Free => Outcome::pass(format!("port {port} is free")),
        PortStatus::InUse {
            holder: Some(p),
        } if REGISTRY_NAMES.contains(&p.name.as_str()) && facts.port_held_by_mirror => {
            Outcome::pass(format!(
                "port {port} is held by the mirror registry under `{root}` (`{}`, pid {})",
                p.name, p.pid
            ))
        }
        PortStatus::InUse {
            holder: Some(p),
        } if REGISTRY_NAMES.contains(&p.name.as_str()) => Outcome::fail(format!(
            "port {port} is in use by another distribution registry (`{}`, pid {}): it does not serve `{config}`",
            p.name, p.pid
        ))
        .hint(format!(
            "`mirrorctl registry up` would refuse the port: {}; if it is the mirror registry under another root, pass that `--root`",
            elsewhere()
        )),
        PortStatus::InUse {
            holder: Some(p),
        } if CONTAINER_NAMES.contains(&p.name.as_str()) => Outcome::warn(format!(
            "port {port} is held by `{}` (pid {}) for a container: fine if it is the mirror registry's",
            p.name, p.pid
        ))
        .hint(format!(
            "`podman ps --filter publish={port}` shows the container; if it is not the mirror registry, {}",
            elsewhere()
        )),
        PortStatus::InUse {
            holder: Some(p),
        } => Outcome::fail(format!(
            "port {port} is in use by `{}` (pid {})",
            p.name, p.pid
        ))
        .hint(elsewhere()),
        PortStatus::InUse { holder: None } => Outcome::fail(format!(
            "port {port} is in use by a process this user cannot see"
        ))
        .hint(format!(
            "`sudo ss -ltnp 'sport = :{port}'` shows it; {}",
            elsewhere()
        )),
    }
}

#[cfg(test)]
mod tests {
    use mirror_net::{PortStatus, ProcessInfo};

    use super::super::PreflightOptions;
    use super::super::test_support::{healthy, run_one};

    fn held(name: &str) -> PortStatus {
        PortStatus::InUse {
            holder: Some(ProcessInfo {
                pid: 4242,
                name: name.into(),
            }),
        }
    }

    #[test]
    fn port_table() {
        let ours = |name: &str| (Ok(held(name)), true);
        let theirs = |name: &str| (Ok(held(name)), false);
        let cases = [
            ((Ok(PortStatus::Free), false), "pass | port 5000 is free"),
            (
                ours("registry"),
                "pass | port 5000 is held by the mirror registry under `/opt/registry` (`registry`, pid 4242)",
            ),
            (
                ours("docker-registry"),
                "pass | port 5000 is held by the mirror registry under `/opt/registry` (`docker-registry`, pid 4242)",
            ),
            (
                theirs("docker-registry"),
                "fail | port 5000 is in use by another distribution registry (`docker-registry`, pid 4242): it does not serve `/opt/registry/config.yml` | hint: `mirrorctl registry up` would refuse the port: stop it, or run the registry on another port with `--port`; if it is the mirror registry under another root, pass that `--root`",
            ),
            (
                theirs("registry"),
                "fail | port 5000 is in use by another distribution registry (`registry`, pid 4242): it does not serve `/opt/registry/config.yml` | hint: `mirrorctl registry up` would refuse the port: stop it, or run the registry on another port with `--port`; if it is the mirror registry under another root, pass that `--root`",
            ),
            (
                theirs("conmon"),
                "warn | port 5000 is held by `conmon` (pid 4242) for a container: fine if it is the mirror registry's | hint: `podman ps --filter publish=5000` shows the container; if it is not the mirror registry, stop it, or run the registry on another port with `--port`",
            ),
            (
                theirs("rootlessport"),
                "warn | port 5000 is held by `rootlessport` (pid 4242) for a container: fine if it is the mirror registry's | hint: `podman ps --filter publish=5000` shows the container; if it is not the mirror registry, stop it, or run the registry on another port with `--port`",
            ),
            (
                theirs("python3"),
                "fail | port 5000 is in use by `python3` (pid 4242) | hint: stop it, or run the registry on another port with `--port`",
            ),
            (
                (Ok(PortStatus::InUse { holder: None }), false),
                "fail | port 5000 is in use by a process this user cannot see | hint: `sudo ss -ltnp 'sport = :5000'` shows it; stop it, or run the registry on another port with `--port`",
            ),
            (
                (
                    Err(std::sync::Arc::new(crate::Error::Net(
                        mirror_net::Error::Bind {
                            addr: "0.0.0.0:5000".parse().unwrap(),
                            source: std::io::Error::from_raw_os_error(13),
                        },
                    ))),
                    false,
                ),
                "fail | port 5000 cannot be used: bind `0.0.0.0:5000`: Permission denied (os error 13) | hint: ports below 1024 need root or CAP_NET_BIND_SERVICE: use a port like 8443 instead of 5000",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|((s, mirror), _)| {
                let mut f = healthy();
                f.port = s.clone();
                f.port_held_by_mirror = *mirror;
                run_one("port", &f, &PreflightOptions::default())
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.1).collect::<Vec<_>>());
    }
}
