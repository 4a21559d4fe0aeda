//! Evaluation folds stratified by protocol: each protocol's sources are
//! spread over the folds, so that a protocol seen in two or more sources
//! is, in every fold that tests it, also in the training folds.
//!
//! A split by a hash of the name alone puts the two captures of a
//! protocol in the same fold one time in K: that fold then tests the
//! protocol with nothing to learn it from, and how often that happens
//! depends on the names, not on the learner. Stratified group K-fold
//! removes that noise: sources (a capture and its near-duplicates) stay
//! whole, as before, and are dealt to folds protocol by protocol.
//!
//! The deal ([`stratified`]): protocols in order of how few sources hold
//! them (then by name); for each, its sources not yet dealt, in the order
//! of a salted hash of their names, each to the fold holding the fewest
//! sources of that protocol so far, then the fewest sources of all, then
//! the lowest index. Sources without a labelled flow fall by the salted
//! hash alone. The result depends on the sources, their protocols and the
//! salt only.

use std::collections::{BTreeMap, BTreeSet};

use crate::train::hash::part_of;

/// The fold (`0..k`) of every source of `protocols` (source name → the
/// protocols the reference labels in it; an empty set for none).
///
/// ```
/// use std::collections::{BTreeMap, BTreeSet};
/// use dpi_train::eval::folds::stratified;
/// let mut p: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
/// for (s, protos) in [("a", &["SLP"][..]), ("b", &["SLP"]), ("c", &["DNS"]), ("d", &[])] {
///     p.insert(s.into(), protos.iter().map(|x| x.to_string()).collect());
/// }
/// let f = stratified(&p, 5, "salt");
/// // The two sources of SLP are in different folds.
/// assert_ne!(f["a"], f["b"]);
/// assert_eq!(f.len(), 4);
/// ```
pub fn stratified(
    protocols: &BTreeMap<String, BTreeSet<String>>,
    k: u64,
    salt: &str,
) -> BTreeMap<String, u64> {
    let k = k.max(1);
    let mut by_protocol: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (source, protos) in protocols {
        for p in protos {
            by_protocol
                .entry(p.as_str())
                .or_default()
                .push(source.as_str());
        }
    }
    let mut order: Vec<(&str, Vec<&str>)> = by_protocol.into_iter().collect();
    order.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(b.0)));
    let mut fold: BTreeMap<String, u64> = BTreeMap::new();
    let mut sizes = vec![0u64; k as usize];
    for (_, mut sources) in order {
        sources.sort_by_key(|s| (part_of(s, salt, u64::MAX), *s));
        let mut held = vec![0u64; k as usize];
        for s in &sources {
            if let Some(&f) = fold.get(*s) {
                held[f as usize] += 1;
            }
        }
        for s in sources {
            if fold.contains_key(s) {
                continue;
            }
            let f = (0..k as usize)
                .min_by_key(|&f| (held[f], sizes[f], f))
                .unwrap_or(0);
            held[f] += 1;
            sizes[f] += 1;
            fold.insert(s.to_owned(), f as u64);
        }
    }
    for source in protocols.keys() {
        if !fold.contains_key(source) {
            fold.insert(source.clone(), part_of(source, salt, k));
        }
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(rows: &[(String, Vec<String>)]) -> BTreeMap<String, BTreeSet<String>> {
        rows.iter()
            .map(|(s, p)| (s.clone(), p.iter().cloned().collect()))
            .collect()
    }

    proptest! {
        #[test]
        fn every_protocol_is_spread(
            rows in proptest::collection::vec(
                ("[a-z]{1,6}", proptest::collection::vec("P[0-9]", 0..4)),
                0..60,
            ),
            k in 2u64..8,
        ) {
            let p = map(&rows);
            let f = stratified(&p, k, "s");
            // Every source has one fold below k.
            prop_assert_eq!(f.len(), p.len());
            prop_assert!(f.values().all(|&x| x < k));
            // Deterministic.
            prop_assert_eq!(&f, &stratified(&p, k, "s"));
            // The rarest protocol's sources (the first dealt) are in
            // distinct folds as far as there are folds.
            let mut count: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
            for (s, ps) in &p {
                for x in ps {
                    count.entry(x).or_default().push(s);
                }
            }
            if let Some((_, srcs)) = count.iter().min_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(b.0))) {
                let folds: BTreeSet<u64> = srcs.iter().map(|s| f[*s]).collect();
                prop_assert_eq!(folds.len() as u64, (srcs.len() as u64).min(k));
            }
        }
    }

    #[test]
    fn sources_without_labels_fall_by_hash() {
        let mut p = BTreeMap::new();
        p.insert("x.pcap".to_owned(), BTreeSet::new());
        assert_eq!(stratified(&p, 5, "s")["x.pcap"], part_of("x.pcap", "s", 5));
    }
}
