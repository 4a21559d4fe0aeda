//! A mutation campaign over valid captures (`dpi_samples::mutate`): the
//! project's sample captures and small captures over every link type the
//! decoder reads, damaged by truncation, bit flips, corrupted record and
//! block lengths, swapped headers and byte order, shuffled, duplicated,
//! dropped and foreign records, another link type, inserted garbage.
//!
//! For every mutant: no panic, no hang, at most one frame per 12 bytes, and
//! no flow lost before the damage: the records that end before the first
//! damaged byte are read back as they were, and every flow they make is
//! among the mutant's flows.
//!
//! The seed is fixed; `DPI_MUTATIONS=N` sets the number of mutants (300 by
//! default, 10,000 for the full campaign), `DPI_MUTATION_SEED=S` the seed.
//! A failing mutant is written to the temporary directory and named with
//! its seed and index, so `dpi-samples mutate --seed S --first I --count 1`
//! writes it again.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use dpi_core::{CaptureReader, Flow, FlowConfig, FlowMeter, LinkType};
use dpi_samples::mutate;

/// A frame as read: data, wire length, link type, time, offset.
type Read = (Vec<u8>, u32, LinkType, u64, u64);

/// A flow by its endpoints, direction left out.
type Key = (u8, (IpAddr, u16), (IpAddr, u16), u16);

fn key(f: &Flow) -> Key {
    let a = (f.client, f.client_port);
    let b = (f.server, f.server_port);
    (f.protocol, a.min(b), a.max(b), f.vlan)
}

/// The frames of `bytes` (until the end or the first error) and whether it
/// ended with an error.
fn frames(bytes: &[u8]) -> (Vec<Read>, bool) {
    let Ok(mut r) = CaptureReader::with_buffer_size(bytes, 256) else {
        return (Vec::new(), true);
    };
    let mut out = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Some(f)) => {
                out.push((
                    f.data.to_vec(),
                    f.orig_len,
                    f.link_type,
                    f.ts.as_nanos(),
                    f.offset,
                ));
                assert!(
                    out.len() <= bytes.len() / 12 + 1,
                    "more frames than the bytes allow"
                );
            }
            Ok(None) => return (out, false),
            Err(_) => return (out, true),
        }
    }
}

fn flows(frames: &[Read]) -> BTreeSet<Key> {
    let mut meter = FlowMeter::new(FlowConfig::default());
    let mut keys = BTreeSet::new();
    for (data, orig, link, ts, _) in frames {
        meter.push_frame(
            *link,
            dpi_core::Timestamp::from_nanos(*ts),
            data,
            *orig,
            &mut |f| {
                keys.insert(key(&f));
            },
        );
    }
    meter.flush(&mut |f| {
        keys.insert(key(&f));
    });
    keys
}

struct Base {
    name: String,
    bytes: Vec<u8>,
    frames: Vec<Read>,
    /// For each frame, where its record ends (the next frame's record
    /// starts there or later).
    ends: Vec<usize>,
}

fn bases() -> Vec<Base> {
    mutate::bases()
        .into_iter()
        .map(|(name, bytes)| {
            let (frames, failed) = frames(&bytes);
            assert!(!failed, "{name}: the unmutated capture reads without error");
            let mut ends: Vec<usize> = frames.iter().skip(1).map(|f| f.4 as usize).collect();
            ends.push(bytes.len());
            Base {
                name,
                bytes,
                frames,
                ends,
            }
        })
        .collect()
}

/// What one mutant showed: flows made before the damage, and whether
/// reading it ended with an error.
struct Seen {
    flows_before: usize,
    error: bool,
}

fn check(bases: &[Base], raw: &[Vec<u8>], seed: u64, index: u64) -> Result<Seen, String> {
    let m = mutate::mutant(raw, seed, index);
    let base = &bases[m.base];
    let damage = mutate::first_difference(&base.bytes, &m.bytes);
    let (got, error) = frames(&m.bytes);
    let intact = base.ends.iter().take_while(|&&end| end <= damage).count();
    if got.len() < intact || got[..intact] != base.frames[..intact] {
        return Err(format!(
            "{} frames end before the damage at byte {damage}, {} read back unchanged",
            intact,
            got.iter()
                .zip(&base.frames)
                .take_while(|(a, b)| a == b)
                .count()
        ));
    }
    let want = flows(&base.frames[..intact]);
    let have = flows(&got);
    if let Some(lost) = want.difference(&have).next() {
        return Err(format!("flow {lost:?} made before the damage is lost"));
    }
    Ok(Seen {
        flows_before: want.len(),
        error,
    })
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_link_type_of_the_zoo_makes_flows() {
    for b in bases() {
        let keys = flows(&b.frames);
        assert!(keys.len() >= 2, "{}: {} flows", b.name, keys.len());
    }
}

#[test]
fn mutation_campaign() {
    let count = env("DPI_MUTATIONS", 300);
    let seed = env("DPI_MUTATION_SEED", 0x00d1_5ea5_e5ca_1ab1);
    let (tx, rx) = mpsc::channel::<Result<Seen, String>>();
    let worker = std::thread::spawn(move || {
        let bases = bases();
        let raw: Vec<Vec<u8>> = bases.iter().map(|b| b.bytes.clone()).collect();
        for i in 0..count {
            let result = std::panic::catch_unwind(|| check(&bases, &raw, seed, i));
            let failure = match result {
                Ok(Ok(seen)) => {
                    if tx.send(Ok(seen)).is_err() {
                        return;
                    }
                    continue;
                }
                Ok(Err(e)) => Some(e),
                Err(p) => Some(format!(
                    "panic: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                )),
            };
            if failure.is_some() {
                let m = mutate::mutant(&raw, seed, i);
                let path = std::env::temp_dir().join(format!("dpi-mutant-{seed}-{i}"));
                let _ = std::fs::write(&path, &m.bytes);
                let note = format!(
                    "mutant {i} of seed {seed} ({}, {}) written to {}: {}",
                    bases[m.base].name,
                    m.what,
                    path.display(),
                    failure.unwrap_or_default()
                );
                let _ = tx.send(Err(note));
                return;
            }
        }
    });
    let (mut done, mut with_flows, mut errors) = (0, 0, 0);
    while done < count {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(seen)) => {
                done += 1;
                with_flows += u64::from(seen.flows_before > 0);
                errors += u64::from(seen.error);
            }
            Ok(Err(failure)) => panic!("{failure}"),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "mutant {done} of seed {seed} takes more than 20 s: a hang \
                 (dpi-samples mutate --seed {seed} --first {done} --count 1 -o DIR writes it)"
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    worker.join().expect("the campaign thread ends");
    assert_eq!(done, count, "every mutant was checked");
    eprintln!(
        "{count} mutants of seed {seed}: no panic, no hang, no flow lost before the damage \
         ({with_flows} with flows before the damage, {errors} ending in a reader error)"
    );
    // The campaign is not vacuous: many mutants keep flows ahead of their
    // damage, and many are damaged enough for the reader to stop.
    assert!(
        with_flows * 2 >= count,
        "{with_flows} of {count} with flows before the damage"
    );
    assert!(
        errors * 5 >= count,
        "{errors} of {count} ending in an error"
    );
}
