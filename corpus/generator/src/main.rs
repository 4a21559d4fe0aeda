//! `dpi-samples [--check] DIR`: writes the sample captures into DIR, or with
//! `--check` regenerates them in memory and fails if DIR differs.
//! `dpi-samples flood ...` writes a capture of many distinct flows (see `flood`).

use std::path::PathBuf;
use std::process::ExitCode;

mod flood;

const USAGE: &str = "usage: dpi-samples [--check] DIR\n       dpi-samples flood [--flows N] [--packets-per-flow P] -o FILE.pcap";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("flood") {
        return flood::main(std::env::args().skip(2));
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
