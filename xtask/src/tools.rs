//! Cargo subcommands xtask needs (cargo-deny, cargo-fuzz): found, or
//! installed from crates.io with `cargo install --locked`.

use std::time::Instant;

use crate::process::{self, cargo, secs};

/// A cargo subcommand installed from a crates.io package.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CargoTool {
    /// The subcommand: `deny` for `cargo deny`.
    pub(crate) subcommand: &'static str,
    /// The crates.io package that provides it.
    pub(crate) package: &'static str,
    /// The version installed when it is missing. Pinned so that a fresh
    /// machine checks with the same tool (and config format) as a developer's.
    pub(crate) version: &'static str,
}

/// cargo-deny: licences, bans, sources and advisories (`deny.toml`).
pub(crate) const CARGO_DENY: CargoTool = CargoTool {
    subcommand: "deny",
    package: "cargo-deny",
    version: "0.20.2",
};

/// cargo-fuzz: libFuzzer targets under `fuzz/`.
pub(crate) const CARGO_FUZZ: CargoTool = CargoTool {
    subcommand: "fuzz",
    package: "cargo-fuzz",
    version: "0.13.2",
};

impl CargoTool {
    /// True when `cargo <subcommand> --version` works.
    pub(crate) fn is_installed(self) -> bool {
        process::succeeds_quietly(&mut cargo(&[self.subcommand, "--version"]))
    }

    /// Makes sure the subcommand exists, installing it when it does not.
    /// Installing compiles it from source and takes minutes, so it says so
    /// first, and then how long it took.
    pub(crate) fn ensure_installed(self) -> Result<(), String> {
        if self.is_installed() {
            return Ok(());
        }
        println!(
            "`cargo {}` not found: installing {} {} from crates.io \
             (compiles from source; takes several minutes) …",
            self.subcommand, self.package, self.version
        );
        let start = Instant::now();
        process::run(&mut cargo(&[
            "install",
            "--locked",
            self.package,
            "--version",
            self.version,
        ]))
        .map_err(|e| format!("installing {} failed: {e}", self.package))?;
        println!(
            "installed {} {} in {}",
            self.package,
            self.version,
            secs(start.elapsed())
        );
        if self.is_installed() {
            Ok(())
        } else {
            Err(format!(
                "{} installed but `cargo {} --version` still fails: \
                 is ~/.cargo/bin on PATH?",
                self.package, self.subcommand
            ))
        }
    }
}
