//! `firewall`: whether firewalld lets clients on other hosts reach the registry port. Before
//! the registry starts the port is usually closed, which is fine: `registry up` opens it.
//! Open only until the next reload, or only in the permanent configuration, warns.

use super::{FirewallFacts, HostFacts, Outcome, PreflightOptions};

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let port = opts.port;
    let open_both = format!(
        "`firewall-cmd --add-port={port}/tcp && firewall-cmd --permanent --add-port={port}/tcp`"
    );
    match &facts.firewall {
        Err(e) => Outcome::error(e),
        Ok(FirewallFacts::NotInstalled) => Outcome::pass("firewalld is not installed"),
        Ok(FirewallFacts::NotRunning) => Outcome::pass("firewalld does not run"),
        Ok(FirewallFacts::Running(p)) => {
            let zone = &p.zone;
            match (p.runtime, p.permanent) {
                (true, true) => Outcome::pass(format!(
                    "port {port}/tcp is open in firewalld (zone {zone})"
                )),
                (false, false) => Outcome::pass(format!(
                    "port {port}/tcp is not open in firewalld yet (zone {zone}): `mirrorctl registry up` opens it"
                )),
                (true, false) => Outcome::warn(format!(
                    "port {port}/tcp is open in firewalld (zone {zone}) only until the next reload or reboot: it is not in the permanent configuration"
                ))
                .hint(format!(
                    "`mirrorctl registry up` adds it, or {open_both}"
                )),
                (false, true) => Outcome::warn(format!(
                    "port {port}/tcp is in firewalld's permanent configuration (zone {zone}) but not open now"
                ))
                .hint(format!("`mirrorctl registry up` opens it, or {open_both}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{FirewallFacts, PortOpen, PreflightOptions};
    use crate::error::Error;

    #[test]
    fn firewall_states() {
        let opts = PreflightOptions::default();
        let open = |runtime, permanent| {
            Ok(FirewallFacts::Running(PortOpen {
                zone: "public".into(),
                runtime,
                permanent,
            }))
        };
        for (fact, want) in [
            (
                Ok(FirewallFacts::NotInstalled),
                "pass | firewalld is not installed",
            ),
            (
                Ok(FirewallFacts::NotRunning),
                "pass | firewalld does not run",
            ),
            (
                open(true, true),
                "pass | port 5000/tcp is open in firewalld (zone public)",
            ),
            (
                open(false, false),
                "pass | port 5000/tcp is not open in firewalld yet (zone public): `mirrorctl registry up` opens it",
            ),
            (
                open(true, false),
                "warn | port 5000/tcp is open in firewalld (zone public) only until the next reload or reboot: it is not in the permanent configuration | hint: `mirrorctl registry up` adds it, or `firewall-cmd --add-port=5000/tcp && firewall-cmd --permanent --add-port=5000/tcp`",
            ),
            (
                open(false, true),
                "warn | port 5000/tcp is in firewalld's permanent configuration (zone public) but not open now | hint: `mirrorctl registry up` opens it, or `firewall-cmd --add-port=5000/tcp && firewall-cmd --permanent --add-port=5000/tcp`",
            ),
            (
                Err(std::sync::Arc::new(Error::CommandFailed {
                    command: "firewall-cmd --query-port=5000/tcp".into(),
                    detail: "exit status: 11: Authorization failed.".into(),
                })),
                "error | `firewall-cmd --query-port=5000/tcp` failed: exit status: 11: Authorization failed.",
            ),
        ] {
            let mut facts = healthy();
            facts.firewall = fact;
            assert_eq!(run_one("firewall", &facts, &opts), want);
        }
    }
}
