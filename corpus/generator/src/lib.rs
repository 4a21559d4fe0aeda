//! Writes the dpi project's own sample captures (`corpus/samples/`):
//! small, deterministic pcap and pcapng files with real wire formats for the
//! common protocols, and a manifest of the flows they hold.
//!
//! [`generate`] returns every file as bytes; the binary writes them or
//! compares them with what is on disk.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod capture;
pub mod checksum;
pub mod link;
pub mod manifest;
pub mod mutate;
pub mod pcap;
pub mod pcapng;
pub mod proto;
pub mod readdress;
pub mod rng;
mod samples;
pub mod tcp;

/// Name of the generated manifest inside the samples directory.
pub const MANIFEST: &str = "MANIFEST.md";

/// Every sample file (captures, then the manifest) as `(file name, bytes)`.
pub fn generate() -> Vec<(String, Vec<u8>)> {
    let captures = samples::all();
    let rendered: Vec<Vec<u8>> = captures.iter().map(|c| c.render()).collect();
    let sized: Vec<(&capture::Capture, usize)> = captures
        .iter()
        .zip(&rendered)
        .map(|(c, b)| (c, b.len()))
        .collect();
    let manifest = manifest::render(&sized);
    let mut files: Vec<(String, Vec<u8>)> = captures
        .iter()
        .zip(rendered)
        .map(|(c, b)| (c.file_name.clone(), b))
        .collect();
    files.push((MANIFEST.to_string(), manifest.into_bytes()));
    files
}

/// Compares generated files with the directory `dir`: the names of files that
/// differ, are missing, or are present in `dir` without being generated.
pub fn check(dir: &std::path::Path, files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<String>> {
    let mut problems = Vec::new();
    for (name, bytes) in files {
        match std::fs::read(dir.join(name)) {
            Ok(on_disk) if &on_disk == bytes => {}
            Ok(_) => problems.push(format!("{name}: differs from the generator's output")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("{name}: missing"))
            }
            Err(e) => return Err(e),
        }
    }
    let mut extra = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !files.iter().any(|(n, _)| *n == name) {
            extra.push(format!("{name}: not produced by the generator"));
        }
    }
    extra.sort();
    problems.extend(extra);
    Ok(problems)
}
