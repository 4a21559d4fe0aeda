//! Flow-feature candidates on a protocol's main server port: the first
//! payload size of one side (one value, or the observed range), the side
//! that sent the first payload (alone or with a size), the packets one
//! side sent (the observed range). For protocols whose bytes do not
//! decide (encrypted ones): a feature rule must say more than its port
//! (see [`super::mine`]).

use std::collections::BTreeMap;

use dpi_core::signature::{Feature, PortSet, Side, Signature, ValueRange};

use super::mine::{base_sig, MineOptions};
use super::score::PoolItem;

/// The feature candidates of `protocol` for direction `d` from the mining
/// folds' `positives`.
pub fn candidates(
    protocol: &str,
    t: u8,
    d: usize,
    positives: &[&PoolItem<'_>],
    opts: &MineOptions,
) -> Vec<Signature> {
    let mut ports: BTreeMap<u16, f64> = BTreeMap::new();
    for it in positives {
        *ports.entry(it.example.server_port).or_default() += it.weight;
    }
    let Some((&port, &n)) = ports
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
    else {
        return Vec::new();
    };
    if n < opts.min_support {
        return Vec::new();
    }
    let on_port: Vec<&&PoolItem<'_>> = positives
        .iter()
        .filter(|it| it.example.server_port == port)
        .collect();
    let mut sizes: BTreeMap<u32, f64> = BTreeMap::new();
    for it in &on_port {
        if let Some(s) = it.example.first_size(d) {
            *sizes.entry(s).or_default() += it.weight;
        }
    }
    let side = if d == 0 {
        Side::Initiator
    } else {
        Side::Responder
    };
    let make = |range: ValueRange| {
        let mut s = base_sig(protocol, t);
        s.ports = PortSet::single(port);
        s.features.push(Feature::FirstPayloadSize { side, range });
        s
    };
    let mut out: Vec<Signature> = sizes
        .iter()
        .filter(|(_, &w)| w >= opts.min_support)
        .map(|(&s, _)| {
            make(ValueRange {
                min: u64::from(s),
                max: Some(u64::from(s)),
            })
        })
        .collect();
    if let (Some((&lo, _)), Some((&hi, _))) = (sizes.first_key_value(), sizes.last_key_value()) {
        if lo < hi {
            out.push(make(ValueRange {
                min: u64::from(lo),
                max: Some(u64::from(hi)),
            }));
        }
    }
    // The side of the first payload: alone on the port, and with each
    // frequent first size of that side.
    let first_from: f64 = on_port
        .iter()
        .filter(|it| it.example.first_payload == Some(side))
        .map(|it| it.weight)
        .sum();
    if first_from >= opts.min_support {
        let mut s = base_sig(protocol, t);
        s.ports = PortSet::single(port);
        s.features.push(Feature::FirstPayloadFrom(side));
        out.push(s);
        let mut sized: BTreeMap<u32, f64> = BTreeMap::new();
        for it in on_port
            .iter()
            .filter(|it| it.example.first_payload == Some(side))
        {
            if let Some(n) = it.example.first_size(d) {
                *sized.entry(n).or_default() += it.weight;
            }
        }
        for (&n, _) in sized.iter().filter(|(_, &w)| w >= opts.min_support) {
            let mut s = make(ValueRange {
                min: u64::from(n),
                max: Some(u64::from(n)),
            });
            s.features.push(Feature::FirstPayloadFrom(side));
            out.push(s);
        }
    }
    // The packets this side sends: the observed range on the port.
    let packets = |it: &&&PoolItem<'_>| {
        if d == 0 {
            it.example.c2s_packets
        } else {
            it.example.s2c_packets
        }
    };
    if let (Some(lo), Some(hi)) = (
        on_port.iter().map(packets).min(),
        on_port.iter().map(packets).max(),
    ) {
        if lo > 0 || hi < u64::MAX {
            let mut s = base_sig(protocol, t);
            s.ports = PortSet::single(port);
            s.features.push(Feature::Packets {
                side: Some(side),
                range: ValueRange {
                    min: lo,
                    max: Some(hi),
                },
            });
            out.push(s);
        }
    }
    out
}
