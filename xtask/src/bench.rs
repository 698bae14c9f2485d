//! `cargo xtask bench`: kproducer, librdkafka and krafka side by side, on
//! tansu and on the fake broker, written to `docs/benchmarks.md`.
//!
//! It builds the three clients in release (installing the librdkafka 2.16
//! that `rdkafka-perf` links, as the kcat peer does), then for each broker
//! kind runs every workload `--rounds` times per client, the clients taking
//! turns, each run on a fresh broker; then the latency run (the idempotent
//! workload offered at half of librdkafka's median maximum). Every child is bounded
//! in time and killed on failure; brokers die with their run. `--quick`
//! writes its smoke-test report to `target/bench/benchmarks-quick.md`.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;
use std::{env, fs};

use crate::bench_broker::{self, BrokerBinaries, BrokerKind};
use crate::bench_child::{last_line, run_captured};
use crate::bench_plan::{self, Client, ClientBinaries, Workload};
use crate::bench_report::{self, BrokerResults, Cell, Context, Row, Sample};
use crate::peer::Peer;
use crate::process::{self, Bounded, cargo, repo_root};
use crate::tansu;

const USAGE: &str = "\
usage: cargo xtask bench [--rounds N] [--quick] [--only tansu|fake]
                         [--clients NAME,NAME…] [--no-build]

Builds kproducer, librdkafka's and krafka's perf drivers in release (the
librdkafka driver links librdkafka 2.16, installed first by
tools/install-librdkafka-peer.sh into the tool cache), runs
them alternately on the same broker — tansu and the fake broker (1 ms +
10 µs/KiB per request), fresh per run — on 1M × 100 B idempotent and not,
200k × 1 KiB, and 5M × 100 B idempotent (the sustained run; 6 partitions,
linger.ms 5, batch.size 1 MiB), plus a latency run at half of librdkafka's maximum, and writes the medians and
ratios to docs/benchmarks.md (section \"Clients side by side\").

  --rounds N        runs per client, workload and broker (default 3)
  --quick           records ÷ 20 and 1 round unless --rounds: a smoke test,
                    written to target/bench/benchmarks-quick.md instead
  --only KIND       only tansu or only the fake broker
  --clients LIST    a subset of kproducer,librdkafka,krafka (default all)
  --no-build        use the release binaries already built

Exit status 0 when every run succeeded; 1 when some failed (the report is
written anyway and lists them); 2 for bad arguments.";

/// The bundled librdkafka 2.12.1, if asked for by hand, takes ~10 minutes
/// to build on two busy cores; this bounds a build that hangs.
const BUILD_LIMIT: Duration = Duration::from_secs(60 * 60);

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rounds: u32,
    quick: bool,
    brokers: Vec<BrokerKind>,
    clients: Vec<Client>,
    build: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut rounds = None;
    let mut quick = false;
    let mut brokers = vec![BrokerKind::Tansu, BrokerKind::Fake];
    let mut clients = Client::ALL.to_vec();
    let mut build = true;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .ok_or_else(|| format!("`{flag}` needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--rounds" => {
                let v = value()?;
                match v.parse::<u32>() {
                    Ok(n) if (1..=100).contains(&n) => rounds = Some(n),
                    _ => return Err(format!("--rounds `{v}` must be a whole number 1–100")),
                }
            }
            "--quick" => quick = true,
            "--only" => {
                let v = value()?;
                brokers = match v.as_str() {
                    "tansu" => vec![BrokerKind::Tansu],
                    "fake" => vec![BrokerKind::Fake],
                    _ => return Err(format!("--only `{v}`: expected `tansu` or `fake`")),
                };
            }
            "--clients" => {
                let v = value()?;
                clients = Vec::new();
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let client = Client::from_name(name).ok_or_else(|| {
                        format!(
                            "--clients: unknown client `{name}`; \
                             expected kproducer, librdkafka or krafka"
                        )
                    })?;
                    if !clients.contains(&client) {
                        clients.push(client);
                    }
                }
                if clients.is_empty() {
                    return Err("--clients names no client".to_string());
                }
                clients.sort();
            }
            "--no-build" => build = false,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Options {
        rounds: rounds.unwrap_or(if quick { 1 } else { 3 }),
        quick,
        brokers,
        clients,
        build,
    })
}

/// Entry point for `cargo xtask bench ARGS`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("xtask bench: {why}");
            return ExitCode::from(2);
        }
    };
    let command = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    match run(&options, command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("xtask bench: some runs failed; the report lists them");
            ExitCode::FAILURE
        }
        Err(why) => {
            eprintln!("xtask bench: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything; `Ok(false)` when some run failed.
fn run(options: &Options, command: String) -> Result<bool, String> {
    let root = repo_root();
    let load_before = load_average();
    let date = output_of(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    if options.build {
        build(options, &root)?;
    }
    let clients = ClientBinaries::under(&root);
    for client in &options.clients {
        let (program, _) = client.program(&clients);
        if !program.is_file() {
            return Err(format!(
                "{} is missing: build it (drop --no-build) or leave {} out with --clients",
                program.display(),
                client.name()
            ));
        }
    }
    let brokers = BrokerBinaries {
        tansu: if options.brokers.contains(&BrokerKind::Tansu) {
            Some(tansu::ensure_installed()?)
        } else {
            None
        },
        fake: root
            .join("target")
            .join("release")
            .join("kproducer-fake-broker"),
        work_dir: root.join("target").join("bench"),
    };
    if options.brokers.contains(&BrokerKind::Fake) && !brokers.fake.is_file() {
        return Err(format!(
            "{} is missing: build it (drop --no-build) or use --only tansu",
            brokers.fake.display()
        ));
    }
    let mut results = Vec::new();
    for &kind in &options.brokers {
        results.push(bench_broker_kind(kind, options, &clients, &brokers));
    }
    let context = Context {
        command,
        date,
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model: fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model(&text))
            .unwrap_or_else(|| "CPU model unknown".to_string()),
        load: (load_before, load_average()),
        rustc: output_of(Command::new("rustc").arg("-V")),
        rounds: options.rounds,
        quick: options.quick,
    };
    let section = bench_report::render(&context, &results);
    let doc_path = root.join("docs").join("benchmarks.md");
    let doc = fs::read_to_string(&doc_path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    // A smoke test must not replace the real numbers: it writes a copy.
    let out_path = if options.quick {
        brokers.work_dir.join("benchmarks-quick.md")
    } else {
        doc_path
    };
    fs::create_dir_all(&brokers.work_dir)
        .map_err(|e| format!("cannot create {}: {e}", brokers.work_dir.display()))?;
    fs::write(&out_path, bench_report::replace_section(&doc, &section))
        .map_err(|e| format!("cannot write {}: {e}", out_path.display()))?;
    println!("\nwrote {}; targets:", out_path.display());
    for line in bench_report::targets(&results) {
        println!("  {line}");
    }
    Ok(results.iter().all(|b| {
        b.rows
            .iter()
            .all(|r| r.cells.values().all(|c| c.failures.is_empty()))
    }))
}

/// Release builds of what the options need.
fn build(options: &Options, root: &Path) -> Result<(), String> {
    let mut packages = Vec::new();
    if options.clients.contains(&Client::Kproducer) {
        packages.extend(["-p", "kproducer-cli"]);
    }
    if options.brokers.contains(&BrokerKind::Fake) {
        packages.extend(["-p", "kproducer-fake-broker"]);
    }
    if !packages.is_empty() {
        let mut args = vec!["build", "--release"];
        args.extend(packages);
        bounded(&mut cargo(&args))?;
    }
    if options
        .clients
        .iter()
        .any(|c| matches!(c, Client::Librdkafka | Client::Krafka))
    {
        // rdkafka-perf links librdkafka 2.16, the library the kcat peer runs
        // on: install it (once; the installer reuses what is there) and let
        // pkg-config find it (bench/peers/README.md, "Which librdkafka").
        let peer = Peer::ensure_installed()?;
        let pkg_config_dir = peer.lib_dir().join("pkgconfig");
        if !pkg_config_dir.join("rdkafka.pc").is_file() {
            return Err(format!(
                "{} has no rdkafka.pc for bench/peers to link librdkafka 2.16 with:                  run tools/install-librdkafka-peer.sh {} (it writes one), or unset                  KPRODUCER_LIBRDKAFKA_LIB",
                peer.lib_dir().display(),
                peer.lib_dir().parent().unwrap_or(peer.lib_dir()).display()
            ));
        }
        let search = pkg_config_path(&pkg_config_dir, env::var_os("PKG_CONFIG_PATH").as_deref())?;
        let mut cmd = Command::new("cargo");
        cmd.args(["build", "--release"])
            .env("PKG_CONFIG_PATH", search)
            .current_dir(root.join("bench").join("peers"));
        bounded(&mut cmd)?;
    }
    Ok(())
}

/// `PKG_CONFIG_PATH` with `ours` first, so it wins over any other
/// librdkafka on the search path.
fn pkg_config_path(ours: &Path, existing: Option<&OsStr>) -> Result<OsString, String> {
    let rest = existing.map(env::split_paths).into_iter().flatten();
    env::join_paths(std::iter::once(ours.to_path_buf()).chain(rest))
        .map_err(|e| format!("cannot put {} on PKG_CONFIG_PATH: {e}", ours.display()))
}

/// Removes what `cargo run` (which started xtask) told xtask about its own
/// package. A nested `cargo build` passes these on, and build scripts that
/// watch them (ring's does: `rerun-if-env-changed=CARGO_PKG_NAME`) would
/// then rebuild, here and again at the next build from a plain shell.
fn without_outer_cargo_package(cmd: &mut Command) -> &mut Command {
    for (key, _) in env::vars_os() {
        let key_text = key.to_string_lossy();
        let about_xtask = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| key_text.starts_with(prefix))
            || key_text == "CARGO_PRIMARY_PACKAGE"
            || key_text == "OUT_DIR";
        if about_xtask {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn bounded(cmd: &mut Command) -> Result<(), String> {
    without_outer_cargo_package(cmd);
    match process::run_bounded(cmd, BUILD_LIMIT) {
        Bounded::Succeeded => Ok(()),
        Bounded::Failed(why) => Err(format!("the build {why}; its output is above")),
        Bounded::TimedOut(limit) => Err(format!(
            "the build was still running after {} and was killed",
            process::secs(limit)
        )),
    }
}

/// Every workload and the latency run on fresh brokers of `kind`.
fn bench_broker_kind(
    kind: BrokerKind,
    options: &Options,
    clients: &ClientBinaries,
    brokers: &BrokerBinaries,
) -> BrokerResults {
    println!("\n== {} ==", kind.describe());
    let empty_row = |workload: Workload| Row {
        workload,
        cells: options
            .clients
            .iter()
            .map(|&c| (c, Cell::default()))
            .collect(),
    };
    let mut rows: Vec<Row> = bench_plan::workloads(options.quick)
        .into_iter()
        .map(empty_row)
        .collect();
    let mut notes = Vec::new();
    run_rounds(kind, options, clients, brokers, &mut rows);
    let rdkafka_max = rows[0]
        .cells
        .get(&Client::Librdkafka)
        .and_then(Cell::medians)
        .map(|m| m.records_per_sec);
    match rdkafka_max {
        Some(max) if max >= 2.0 => {
            // Whole thousands, so the label reads well.
            let rate = ((max / 2.0 / 1000.0).round() as u64).max(1) * 1000;
            let mut latency = vec![empty_row(bench_plan::latency_workload(options.quick, rate))];
            run_rounds(kind, options, clients, brokers, &mut latency);
            rows.extend(latency);
        }
        _ => notes.push(
            "The latency run was skipped: it offers half of librdkafka's maximum on \
             1M × 100 B idempotent, which was not measured here."
                .to_string(),
        ),
    }
    BrokerResults { kind, rows, notes }
}

/// `--rounds` rounds over `rows`; within a round each workload runs every
/// client once, the starting client rotating from round to round so that
/// no client always runs first (or right after the heaviest one).
fn run_rounds(
    kind: BrokerKind,
    options: &Options,
    clients: &ClientBinaries,
    brokers: &BrokerBinaries,
    rows: &mut [Row],
) {
    let n = options.clients.len();
    let total = options.rounds as usize * rows.len() * n;
    let mut done = 0;
    for round in 0..options.rounds as usize {
        for row in rows.iter_mut() {
            for i in 0..n {
                let client = options.clients[(round + i) % n];
                done += 1;
                println!(
                    "[{} {done}/{total}] {} on {}",
                    kind.name(),
                    client.name(),
                    row.workload.label()
                );
                let outcome = run_one(kind, client, &row.workload, clients, brokers);
                let cell = row.cells.entry(client).or_default();
                match outcome {
                    Ok(sample) => {
                        println!(
                            "    {} records/s, {:.1} MB/s, p99 {:.1} ms, CPU {:.2} s ({:.3} s per 1M), {} connection(s)",
                            bench_report::thousands(sample.records_per_sec),
                            sample.mb_per_sec,
                            sample.p99_ms,
                            sample.cpu_s,
                            sample.cpu_per_million(),
                            sample.connections
                        );
                        cell.samples.push(sample);
                    }
                    Err(why) => {
                        println!("    FAILED: {why}");
                        cell.failures.push(why);
                    }
                }
            }
        }
    }
}

/// One client run on a fresh broker, which is gone when this returns.
fn run_one(
    kind: BrokerKind,
    client: Client,
    workload: &Workload,
    clients: &ClientBinaries,
    brokers: &BrokerBinaries,
) -> Result<Sample, String> {
    let broker = bench_broker::start(kind, brokers)
        .map_err(|why| format!("the {} did not start: {why}", kind.name()))?;
    let mut cmd = bench_plan::command(client, clients, workload, broker.bootstrap());
    println!("    {}", process::describe(&cmd));
    let limit = workload.time_limit();
    let captured = run_captured(&mut cmd, limit)?;
    drop(broker);
    let line = last_line(&captured.stdout)
        .ok_or_else(|| "it printed nothing on stdout (expected the JSON line)".to_string())?;
    bench_report::parse_sample(line)
}

/// `/proc/loadavg`'s first three fields.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// The first line a command prints, or why there is none.
fn output_of(cmd: &mut Command) -> String {
    match cmd.output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        _ => format!("unknown (`{}` failed)", cmd.get_program().to_string_lossy()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_are_three_rounds_everything() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.rounds, 3);
        assert!(!o.quick && o.build);
        assert_eq!(o.brokers, [BrokerKind::Tansu, BrokerKind::Fake]);
        assert_eq!(o.clients, Client::ALL);
    }

    #[test]
    fn quick_means_one_round_unless_told_otherwise() {
        assert_eq!(parse(&args("--quick")).unwrap().rounds, 1);
        assert_eq!(parse(&args("--rounds 2 --quick")).unwrap().rounds, 2);
    }

    #[test]
    fn only_and_clients_narrow_the_plan() {
        let o = parse(&args("--only fake --clients krafka,librdkafka --no-build")).unwrap();
        assert_eq!(o.brokers, [BrokerKind::Fake]);
        assert_eq!(o.clients, [Client::Librdkafka, Client::Krafka]);
        assert!(!o.build);
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (input, expected) in [
            ("--rounds 0", "1–100"),
            ("--rounds x", "1–100"),
            ("--rounds", "needs a value"),
            ("--only kafka", "`tansu` or `fake`"),
            ("--clients java", "unknown client `java`"),
            ("--clients ,", "names no client"),
            ("--fast", "unknown argument `--fast`"),
        ] {
            let err = parse(&args(input)).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn nested_builds_do_not_see_xtasks_package() {
        // `cargo test` sets these for the test binary, as `cargo run` does
        // for xtask.
        assert!(env::var_os("CARGO_PKG_NAME").is_some());
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo \"${CARGO_PKG_NAME-unset} ${CARGO_MANIFEST_DIR-unset}\"",
        ]);
        let out = without_outer_cargo_package(&mut cmd).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "unset unset");
    }

    #[test]
    fn the_installed_librdkafka_comes_first_on_pkg_config_path() {
        let ours = Path::new("/cache/librdkafka-2.16/lib/pkgconfig");
        assert_eq!(
            pkg_config_path(ours, None).unwrap(),
            OsString::from("/cache/librdkafka-2.16/lib/pkgconfig")
        );
        assert_eq!(
            pkg_config_path(ours, Some(OsStr::new("/usr/lib/pkgconfig:/opt/pc"))).unwrap(),
            OsString::from("/cache/librdkafka-2.16/lib/pkgconfig:/usr/lib/pkgconfig:/opt/pc")
        );
        let err = pkg_config_path(Path::new("/a:b"), None).unwrap_err();
        assert!(err.contains("/a:b"), "{err}");
    }

    #[test]
    fn cpu_model_is_read_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }
}
