//! Against tansu, once per compression codec: 50,000 idempotent records,
//! adaptive connections up to 4, checked like the million-record run
//! (codec `none` is that run).
//!
//! Needs a broker (`cargo xtask broker start`); prints why it skips
//! without one, fails without one under CI.

use kproducer_integration_tests::suite;
use kproducer_integration_tests::target::BrokerTarget;

fn run(test: &str, codec: &'static str, name: &'static str) {
    let Some(target) = BrokerTarget::tansu_from_env(test) else {
        return;
    };
    suite::run(test, &target, &suite::codec(name, codec));
}

#[test]
fn tansu_codec_gzip() {
    run("tansu_codec_gzip", "gzip", "codec-gzip");
}

#[test]
fn tansu_codec_snappy() {
    run("tansu_codec_snappy", "snappy", "codec-snappy");
}

#[test]
fn tansu_codec_lz4() {
    run("tansu_codec_lz4", "lz4", "codec-lz4");
}

#[test]
fn tansu_codec_zstd() {
    run("tansu_codec_zstd", "zstd", "codec-zstd");
}
