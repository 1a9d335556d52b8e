//! What the crash tests share: a seeded generator, settings from the environment, and the
//! harness's side of a `harness = false` binary that is both the test and the processes it kills.

use std::process::ExitCode;

/// splitmix64: a small seeded generator.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The variable `name` as a number, or `default`.
pub(crate) fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Dispatches like the default test harness for the one test `name`: `--child …` runs `child`
/// with the arguments after it, `--list` lists the test, a name filter that does not match runs
/// nothing, anything else runs `test`.
pub(crate) fn main(
    name: &str,
    test: impl FnOnce() -> ExitCode,
    child: impl FnOnce(&[String]) -> ExitCode,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => child(&args[1..]),
        _ if args.iter().any(|a| a == "--list") => {
            println!("{name}: test");
            ExitCode::SUCCESS
        }
        _ if args
            .iter()
            .any(|a| !a.starts_with('-') && !name.contains(a.as_str())) =>
        {
            ExitCode::SUCCESS
        }
        _ => test(),
    }
}
