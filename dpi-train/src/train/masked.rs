//! Positional masked patterns: clusters of a protocol's first bytes.
//!
//! The first [`MASKED_MAX`] bytes of the protocol's payloads in one
//! direction are clustered bottom-up; two clusters merge when their
//! consensus keeps the most weight, where byte `i` weighs `1 / (1 + i/8)`
//! (earlier bytes weigh more) and a byte counts fully when both nibbles
//! agree, half when one does. The consensus of a cluster masks what its
//! members disagree on (whole nibbles). The tree is walked from the root:
//! the first node whose consensus passes on the mining folds becomes a
//! candidate (made as general as the mining folds allow, see
//! `generalise`), otherwise its children are tried.

use std::collections::BTreeMap;

use dpi_core::signature::{MaskedByte, Pattern, PatternKind, Signature};

use super::hash::stable_hash;
use super::mine::{base_sig, direction, Ctx, Fitted};
use super::score::PoolItem;

/// Most bytes of a positional masked pattern (what std.sig can carry).
pub const MASKED_MAX: usize = 32;
/// Most distinct payload prefixes clustered per protocol, direction and fold.
pub const CLUSTER_MAX: usize = 256;
/// Least constrained bits for a byte pattern to be a candidate (see
/// [`bits`]: a zero nibble counts one bit).
pub const MIN_BITS: u32 = 16;

/// Constrained bits of masked bytes, a constrained nibble counting 4
/// bits, or 1 when it is zero: zeros (padding, high bytes of lengths,
/// reserved fields) are common to most binary protocols and tell little
/// about which one a payload is.
pub fn bits(bytes: &[MaskedByte]) -> u32 {
    bytes
        .iter()
        .map(|b| {
            [0xf0u8, 0x0f]
                .iter()
                .filter(|&&n| b.mask & n == n)
                .map(|&n| if b.value & n == 0 { 1 } else { 4 })
                .sum::<u32>()
        })
        .sum()
}

/// Byte weight: earlier bytes weigh more.
fn weight_at(i: usize) -> f64 {
    1.0 / (1.0 + i as f64 / 8.0)
}

/// The nibble-wise consensus of two masked prefixes.
pub fn consensus(a: &[MaskedByte], b: &[MaskedByte]) -> Vec<MaskedByte> {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let mut mask = 0u8;
            for nib in [0xf0u8, 0x0f] {
                if x.mask & nib == nib && y.mask & nib == nib && x.value & nib == y.value & nib {
                    mask |= nib;
                }
            }
            MaskedByte::new(x.value, mask)
        })
        .collect()
}

/// The weight a consensus keeps.
pub fn score(c: &[MaskedByte]) -> f64 {
    c.iter()
        .enumerate()
        .map(|(i, b)| weight_at(i) * f64::from(b.mask.count_ones()) / 8.0)
        .sum()
}

/// Drops trailing wildcard bytes.
pub fn trim(mut c: Vec<MaskedByte>) -> Vec<MaskedByte> {
    while c.last().is_some_and(|b| b.is_any()) {
        c.pop();
    }
    c
}

struct Node {
    cons: Vec<MaskedByte>,
    weight: f64,
    children: Option<(usize, usize)>,
}

/// Agglomerative clustering of weighted prefixes; returns the nodes (leaves
/// first) and the roots.
fn cluster(prefixes: Vec<(Vec<u8>, f64)>) -> (Vec<Node>, Vec<usize>) {
    let mut nodes: Vec<Node> = prefixes
        .into_iter()
        .map(|(p, w)| Node {
            cons: p.iter().map(|&b| MaskedByte::exact(b)).collect(),
            weight: w,
            children: None,
        })
        .collect();
    let n = nodes.len();
    // slot -> node; slots merged away become None.
    let mut slots: Vec<Option<usize>> = (0..n).map(Some).collect();
    let mut sim = vec![vec![f64::NEG_INFINITY; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            sim[i][j] = score(&consensus(&nodes[i].cons, &nodes[j].cons));
        }
    }
    for _ in 1..n {
        let mut best: Option<(usize, usize, f64)> = None;
        for i in 0..n {
            if slots[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if slots[j].is_none() {
                    continue;
                }
                if best.is_none_or(|(_, _, s)| sim[i][j] > s) {
                    best = Some((i, j, sim[i][j]));
                }
            }
        }
        let Some((i, j, _)) = best else { break };
        let (a, b) = (slots[i].expect("active"), slots[j].expect("active"));
        let node = Node {
            cons: consensus(&nodes[a].cons, &nodes[b].cons),
            weight: nodes[a].weight + nodes[b].weight,
            children: Some((a, b)),
        };
        nodes.push(node);
        slots[i] = Some(nodes.len() - 1);
        slots[j] = None;
        let ci = nodes.len() - 1;
        for k in 0..n {
            if k == i || slots[k].is_none() {
                continue;
            }
            let s = score(&consensus(
                &nodes[ci].cons,
                &nodes[slots[k].expect("active")].cons,
            ));
            if k < i {
                sim[k][i] = s;
            } else {
                sim[i][k] = s;
            }
        }
    }
    let roots = slots.into_iter().flatten().collect();
    (nodes, roots)
}

/// Masked-pattern candidates of `protocol` in direction `d` from the
/// mining folds' `positives`; each already passes on the mining folds.
pub(super) fn candidates(
    ctx: &Ctx<'_, '_>,
    protocol: &str,
    t: u8,
    d: usize,
    positives: &[&PoolItem<'_>],
) -> Vec<Signature> {
    let mut prefixes: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    for it in positives {
        let p = it.example.payload(d);
        if p.is_empty() {
            continue;
        }
        let p = &p[..p.len().min(MASKED_MAX)];
        *prefixes.entry(p.to_vec()).or_default() += it.weight;
    }
    let mut list: Vec<(u64, Vec<u8>, f64)> = prefixes
        .into_iter()
        .map(|(p, w)| (stable_hash(&p), p, w))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    list.truncate(CLUSTER_MAX);
    let (nodes, roots) = cluster(list.into_iter().map(|(_, p, w)| (p, w)).collect());
    let mut out = Vec::new();
    let mut stack: Vec<usize> = roots;
    stack.sort_unstable_by(|a, b| b.cmp(a));
    while let Some(i) = stack.pop() {
        let node = &nodes[i];
        if node.weight < ctx.opts.min_support {
            continue;
        }
        let pat = trim(node.cons.clone());
        let mut found = false;
        if bits(&pat) >= MIN_BITS {
            let mut sig = base_sig(protocol, t);
            sig.patterns.push(Pattern::masked(direction(d), 0, pat));
            match ctx.try_fit(sig.clone(), false) {
                Fitted::Pass(..) => {
                    out.push(generalise(ctx, sig));
                    found = true;
                }
                Fitted::Near(tp) => ctx.push_near(d, tp, sig),
                Fitted::Fail => {}
            }
        }
        if !found {
            if let Some((a, b)) = node.children {
                stack.push(b);
                stack.push(a);
            }
        }
    }
    out
}

/// Makes a passing masked pattern as general as the mining folds allow
/// without cutting through what the protocol's examples all agree on:
/// the shortest passing prefix, extended to the end of the run of exact
/// bytes it stops in; then each byte that is not part of a run of exact
/// bytes (a nibble, or a lone exact byte) is wildcarded, last first, when
/// the pattern still passes. Chance agreements (a letter of a name) go,
/// magic numbers and fixed headers stay whole.
pub(super) fn generalise(ctx: &Ctx<'_, '_>, sig: Signature) -> Signature {
    let with = |bytes: Vec<MaskedByte>| {
        let mut s = sig.clone();
        if let Some(PatternKind::Masked { bytes: b, .. }) =
            s.patterns.first_mut().map(|p| &mut p.kind)
        {
            *b = trim(bytes);
        }
        s
    };
    let Some(PatternKind::Masked { bytes, .. }) = sig.patterns.first().map(|p| &p.kind) else {
        return sig;
    };
    let exact = |b: &MaskedByte| b.mask == 0xff;
    let mut bytes = bytes.clone();
    for len in 1..bytes.len() {
        if bytes[len - 1].is_any() || bits(&bytes[..len]) < MIN_BITS {
            continue;
        }
        if ctx.fit(with(bytes[..len].to_vec()), false).is_some() {
            let mut end = len;
            if exact(&bytes[len - 1]) {
                while end < bytes.len() && exact(&bytes[end]) {
                    end += 1;
                }
            }
            bytes.truncate(end);
            break;
        }
    }
    for i in (0..bytes.len()).rev() {
        if bytes[i].is_any() {
            continue;
        }
        let in_run = exact(&bytes[i])
            && ((i > 0 && exact(&bytes[i - 1])) || bytes.get(i + 1).is_some_and(exact));
        if in_run {
            continue;
        }
        let mut b = bytes.clone();
        b[i] = MaskedByte::any();
        if bits(&b) >= MIN_BITS && ctx.fit(with(b.clone()), false).is_some() {
            bytes = b;
        }
    }
    with(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consensus_masks_disagreeing_nibbles() {
        let a: Vec<MaskedByte> = [0x12u8, 0x34, 0x56]
            .iter()
            .map(|&b| MaskedByte::exact(b))
            .collect();
        let b: Vec<MaskedByte> = [0x12u8, 0x38, 0x96, 0x00]
            .iter()
            .map(|&b| MaskedByte::exact(b))
            .collect();
        let c = consensus(&a, &b);
        assert_eq!(
            c,
            vec![
                MaskedByte::exact(0x12),
                MaskedByte::new(0x30, 0xf0),
                MaskedByte::new(0x06, 0x0f)
            ]
        );
        assert!(score(&c) > 1.0);
    }

    #[test]
    fn zero_nibbles_count_one_bit() {
        let b = |v: u8, m: u8| MaskedByte::new(v, m);
        assert_eq!(bits(&[b(0x47, 0xff), b(0x45, 0xff)]), 16);
        assert_eq!(bits(&[b(0x00, 0xff), b(0x00, 0xff), b(0x01, 0xff)]), 9);
        assert_eq!(bits(&[b(0x40, 0xf0), MaskedByte::any(), b(0x00, 0x0f)]), 5);
    }
}
