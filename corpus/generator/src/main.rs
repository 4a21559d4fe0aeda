//! `dpi-samples [--check] DIR`: writes the sample captures into DIR, or with
//! `--check` regenerates them in memory and fails if DIR differs.
//! `dpi-samples flood ...` writes a capture of many distinct flows (see `flood`).
//! `dpi-samples readdress ...` copies a capture with its IP addresses moved
//! (see `readdress`).
//! `dpi-samples mutate ...` writes damaged captures of a mutation campaign
//! (see `dpi_samples::mutate`).

use std::path::PathBuf;
use std::process::ExitCode;

mod flood;

const USAGE: &str = "usage: dpi-samples [--check] DIR\n       dpi-samples flood [--flows N] [--packets-per-flow P] -o FILE.pcap\n       dpi-samples mutate [--seed S] [--first I] [--count N] -o DIR\n       dpi-samples readdress --shift K -o OUT.pcap IN.pcap";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("flood") {
        return flood::main(std::env::args().skip(2));
    }
    if std::env::args().nth(1).as_deref() == Some("readdress") {
        return dpi_samples::readdress::main(std::env::args().skip(2));
    }
    if std::env::args().nth(1).as_deref() == Some("mutate") {
        return mutate_main(std::env::args().skip(2));
    }
    let mut check = false;
    let mut dir: Option<PathBuf> = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let files = dpi_samples::generate();
    if check {
        match dpi_samples::check(&dir, &files) {
            Ok(problems) if problems.is_empty() => {
                println!(
                    "{}: {} files match the generator",
                    dir.display(),
                    files.len()
                );
                ExitCode::SUCCESS
            }
            Ok(problems) => {
                for p in &problems {
                    eprintln!("{}/{p}", dir.display());
                }
                eprintln!(
                    "run `cargo run -p dpi-samples -- {}` to regenerate",
                    dir.display()
                );
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                ExitCode::FAILURE
            }
        }
    } else {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        let mut total = 0;
        for (name, bytes) in &files {
            let path = dir.join(name);
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("{}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            total += bytes.len();
            println!("{} ({} bytes)", path.display(), bytes.len());
        }
        println!("{} files, {total} bytes", files.len());
        ExitCode::SUCCESS
    }
}

/// `dpi-samples mutate`: writes mutants `first..first + count` of campaign
/// `seed` as `DIR/mutant-<index>-<base>`, and their descriptions to
/// `DIR/mutants.txt`.
fn mutate_main(args: impl Iterator<Item = String>) -> ExitCode {
    let (mut seed, mut first, mut count, mut dir) = (1u64, 0u64, 100u64, None::<PathBuf>);
    let mut args = args;
    while let Some(a) = args.next() {
        let value = args.next();
        let number = value.as_deref().and_then(|v| v.parse::<u64>().ok());
        match (a.as_str(), number) {
            ("--seed", Some(n)) => seed = n,
            ("--first", Some(n)) => first = n,
            ("--count", Some(n)) => count = n,
            ("-o", _) if value.is_some() => dir = value.map(PathBuf::from),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let bases = dpi_samples::mutate::bases();
    let bytes: Vec<Vec<u8>> = bases.iter().map(|(_, b)| b.clone()).collect();
    let mut list = String::new();
    let result = std::fs::create_dir_all(&dir).and_then(|()| {
        for i in first..first.saturating_add(count) {
            let m = dpi_samples::mutate::mutant(&bytes, seed, i);
            let name = format!("mutant-{i:05}-{}", bases[m.base].0);
            std::fs::write(dir.join(&name), &m.bytes)?;
            list.push_str(&format!("{name}\t{}\n", m.what));
        }
        std::fs::write(dir.join("mutants.txt"), &list)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
