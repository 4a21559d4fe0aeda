//! Training throughput over a fixed synthetic set of examples: counting
//! examples into a partial (map), merging partials, and mining (reduce).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dpi_train::train::hash::stable_hash;
use dpi_train::train::{self, Class, Example, MineOptions, Partial, Settings};

fn settings() -> Settings {
    Settings {
        references: vec!["ndpi".into()],
        bytes: 64,
        sample: 4096,
        folds: 4,
    }
}

fn noise(seed: u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (stable_hash(&[seed.to_le_bytes(), (i as u64).to_le_bytes()].concat()) & 0xff) as u8
        })
        .collect()
}

/// 3,000 UDP flows of six protocols (fixed headers, a magic at offset 4,
/// random payloads) over 60 captures, 64 bytes of user data each.
fn examples() -> Vec<(Example, Class)> {
    let mut out = Vec::new();
    for i in 0..3000u64 {
        let proto = i % 6;
        let body = noise(i, 56);
        let c2s = match proto {
            0 => [b"HELOA".as_slice(), &body].concat(),
            1 => [b"HELOB".as_slice(), &body].concat(),
            2 => [&body[..4], b"\xDE\xAD\xBE\xEF".as_slice(), &body[4..]].concat(),
            3 => [b"\x00\x01".as_slice(), &body].concat(),
            _ => noise(i + 7, 64),
        };
        let capture = format!("cap-{}.pcap", i % 60);
        let class = if proto == 5 {
            Class::Unlabelled
        } else {
            Class::Labelled(format!("P{proto}"))
        };
        out.push((
            Example::initiator_only(&capture, 17, 40000, 1000 + proto as u16, c2s),
            class,
        ));
    }
    out
}

fn partial_of(ex: &[(Example, Class)]) -> Partial {
    let mut p = Partial::new(settings());
    for (e, c) in ex {
        p.add(e.clone(), c.clone());
    }
    p
}

fn bench(c: &mut Criterion) {
    let ex = examples();
    let mut g = c.benchmark_group("train");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ex.len() as u64));
    g.bench_function("partial/3000 examples", |b| {
        b.iter(|| black_box(partial_of(&ex)))
    });
    let (a, rest): (Vec<_>, Vec<_>) = ex
        .iter()
        .cloned()
        .partition(|(e, _)| e.capture.len() % 2 == 0);
    let (pa, pb) = (partial_of(&a), partial_of(&rest));
    g.bench_function("merge/two shards", |b| {
        b.iter(|| black_box(pa.clone().merge(pb.clone()).unwrap()))
    });
    let whole = partial_of(&ex);
    g.bench_function("mine/3000 examples", |b| {
        b.iter(|| {
            black_box(train::train(
                &whole,
                &Default::default(),
                &MineOptions::default(),
                &indicatif::ProgressBar::hidden(),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
