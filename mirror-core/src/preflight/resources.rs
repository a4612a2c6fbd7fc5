//! `memory` and `cpu`: warn below sensible minimums.
//!
//! The registry itself needs little; the minimums leave room for podman, for mirroring a release
//! (several concurrent transfers, each hashing as it streams) and for the OS.

use super::{HostFacts, Outcome, PreflightOptions};
use crate::size::format_size;

/// Total memory below this warns: 4 GiB (less 10%: kernels report RAM below the installed size).
pub const MIN_MEMORY_BYTES: u64 = 4 << 30;
/// Fewer logical CPUs than this warns: 2.
pub const MIN_CPUS: usize = 2;

pub(super) fn check_memory(facts: &HostFacts, _opts: &PreflightOptions) -> Outcome {
    match &facts.memory_bytes {
        Err(e) => Outcome::error(e),
        // Kernels report total RAM below the installed size (firmware, crash kernel); allow 10%.
        Ok(bytes) if *bytes < MIN_MEMORY_BYTES / 10 * 9 => Outcome::warn(format!(
            "{} of memory, below the {} recommended",
            format_size(*bytes),
            format_size(MIN_MEMORY_BYTES)
        ))
        .hint(format!(
            "the registry itself needs little; {} leaves room for podman and for mirroring",
            format_size(MIN_MEMORY_BYTES)
        )),
        Ok(bytes) => Outcome::pass(format!("{} of memory", format_size(*bytes))),
    }
}

pub(super) fn check_cpu(facts: &HostFacts, _opts: &PreflightOptions) -> Outcome {
    match &facts.cpus {
        Err(e) => Outcome::error(e),
        Ok(n) if *n < MIN_CPUS => Outcome::warn(format!(
            "{n} CPU{}, below the {MIN_CPUS} recommended",
            if *n == 1 { "" } else { "s" }
        ))
        .hint(
            "mirroring hashes every byte as it streams; with one CPU it competes with the registry"
                .to_string(),
        ),
        Ok(n) => Outcome::pass(format!("{n} CPUs")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::PreflightOptions;
    use super::super::facts::unreadable;
    use super::super::test_support::{healthy, run_one};

    #[test]
    fn memory_table() {
        let cases = [
            (Ok(16 << 30), "pass | 16GiB of memory"),
            (Ok(3_900_000_000), "pass | 3.632GiB of memory"),
            (
                Ok(2 << 30),
                "warn | 2GiB of memory, below the 4GiB recommended | hint: the registry itself needs little; 4GiB leaves room for podman and for mirroring",
            ),
            (
                unreadable("read memory size: denied"),
                "error | read memory size: denied",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(m, _)| {
                let mut f = healthy();
                f.memory_bytes = m.clone();
                run_one("memory", &f, &PreflightOptions::default())
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.1).collect::<Vec<_>>());
    }

    #[test]
    fn cpu_table() {
        let cases = [
            (Ok(8), "pass | 8 CPUs"),
            (Ok(2), "pass | 2 CPUs"),
            (
                Ok(1),
                "warn | 1 CPU, below the 2 recommended | hint: mirroring hashes every byte as it streams; with one CPU it competes with the registry",
            ),
            (
                unreadable("count CPUs: denied"),
                "error | count CPUs: denied",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(n, _)| {
                let mut f = healthy();
                f.cpus = n.clone();
                run_one("cpu", &f, &PreflightOptions::default())
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.1).collect::<Vec<_>>());
    }
}
