//! With the `librdkafka-2-16` feature, finds librdkafka 2.16 through
//! pkg-config (the `rdkafka.pc` that `tools/install-librdkafka-peer.sh`
//! writes) and records its directory as `rdkafka-perf`'s rpath, so the binary
//! runs on that library wherever it is started from, without
//! `LD_LIBRARY_PATH`. rdkafka-sys's own build script does the linking; it only
//! checks for "at least 2.12.1", which is why the 2.16 check is here.
//!
//! With only `librdkafka-2-12-bundled`, there is nothing to do: rdkafka-sys
//! compiles and links its bundled librdkafka statically.

use std::process::ExitCode;

/// The librdkafka the benchmark is meant to run on (issue 6): 2.16.x.
const WANTED: std::ops::Range<&str> = "2.16".."2.17";

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if std::env::var_os("CARGO_FEATURE_LIBRDKAFKA_2_16").is_none() {
        return ExitCode::SUCCESS;
    }
    let library = match pkg_config::Config::new()
        .cargo_metadata(false)
        .env_metadata(true)
        .range_version(WANTED)
        .probe("rdkafka")
    {
        Ok(library) => library,
        Err(error) => {
            eprintln!(
                "kproducer-bench-peers: librdkafka 2.16.x not found through pkg-config: {error}\n\
                 Install it and point PKG_CONFIG_PATH at its rdkafka.pc:\n\
                 \x20   lib=$(bash ../../tools/install-librdkafka-peer.sh ~/.cache/kproducer/librdkafka-2.16 | tail -n1)\n\
                 \x20   PKG_CONFIG_PATH=$lib/pkgconfig cargo build --release\n\
                 (`cargo xtask bench` does both), or build the bundled 2.12.1 with\n\
                 \x20   --no-default-features --features librdkafka-2-12-bundled"
            );
            return ExitCode::FAILURE;
        }
    };
    for dir in &library.link_paths {
        println!(
            "cargo:rustc-link-arg-bin=rdkafka-perf=-Wl,-rpath,{}",
            dir.display()
        );
    }
    ExitCode::SUCCESS
}
