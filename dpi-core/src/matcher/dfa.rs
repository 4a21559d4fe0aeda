//! The atom automaton as a plain table: every state's transition for every
//! byte class, with ASCII case folded into the classes.
//!
//! The automaton is built by `aho-corasick` (standard semantics, so every
//! occurrence of every atom is reported) and then read out, state by state,
//! through its [`Automaton`] interface into the layout below. Owning the
//! table has two uses: the search needs no pass that folds the bytes to
//! lower case first (an upper-case letter has its lower-case letter's
//! class), and the table is plain integers, so a compiled set can be
//! written out and read back ([`super::snapshot`]) after checking that
//! every entry stays in bounds.
//!
//! Layout: `trans[s + class[b]]` is the state after byte `b` in state `s`.
//! State ids are *premultiplied* (a multiple of the number of classes), so
//! a step is one load. Match states come first: a state id below
//! `match_limit` is a match state, and its atoms are listed in `matches`.

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::{dfa, Anchored, MatchKind, StartKind};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// `aho-corasick`'s DFA of `atoms` with standard semantics (every
/// occurrence), unanchored, with a prefilter when `prefilter` and the
/// crate finds one worth it (few atoms).
pub(crate) fn automaton(atoms: &[Vec<u8>], prefilter: bool) -> Result<dfa::DFA, String> {
    dfa::Builder::new()
        .match_kind(MatchKind::Standard)
        .start_kind(StartKind::Unanchored)
        .prefilter(prefilter)
        .build(atoms)
        .map_err(|e| e.to_string())
}

/// The atom automaton: a DFA over byte classes (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dfa {
    /// Byte → class. An ASCII upper-case letter has its lower-case letter's
    /// class: the automaton matches its (lower-case) atoms case-insensitively.
    #[serde(with = "byte_table")]
    pub(super) classes: [u8; 256],
    /// The number of classes: the width of a row.
    pub(super) stride: u32,
    /// Transitions, a row of `stride` premultiplied state ids per state.
    #[serde(with = "words")]
    pub(super) trans: Box<[u32]>,
    /// The start state (premultiplied).
    pub(super) start: u32,
    /// States below this (premultiplied) are match states.
    pub(super) match_limit: u32,
    /// Match state `k` (`id / stride`) reports the atoms
    /// `matches[match_ranges[k]..match_ranges[k + 1]]`.
    pub(super) match_ranges: Box<[u32]>,
    pub(super) matches: Box<[u32]>,
    /// The length of each atom (to tell where an occurrence starts).
    pub(super) atom_lens: Box<[u32]>,
}

impl Dfa {
    /// Builds the automaton of `atoms`, which are in ASCII lower case (an
    /// upper-case byte in an atom could never match).
    #[cfg(test)]
    pub(crate) fn build(atoms: &[Vec<u8>]) -> Result<Dfa, String> {
        Dfa::from_automaton(&automaton(atoms, false)?, atoms)
    }

    /// Reads out `ac`, the automaton of `atoms` (in ASCII lower case) built
    /// by [`automaton`].
    pub(crate) fn from_automaton(ac: &dfa::DFA, atoms: &[Vec<u8>]) -> Result<Dfa, String> {
        // One class per byte an atom holds, one for all the others.
        let mut seen = [false; 256];
        for a in atoms {
            for &b in a {
                seen[usize::from(b)] = true;
            }
        }
        let mut classes = [0u8; 256];
        let mut reps: Vec<u8> = Vec::new();
        if let Some(rep) = (0..=255u8).find(|&b| !seen[usize::from(b)]) {
            // Class 0: the bytes no atom holds; any of them stands for it.
            reps.push(rep);
        }
        for b in 0..=255u8 {
            if seen[usize::from(b)] {
                classes[usize::from(b)] = reps.len() as u8;
                reps.push(b);
            }
        }
        for b in b'A'..=b'Z' {
            classes[usize::from(b)] = classes[usize::from(b.to_ascii_lowercase())];
        }
        let stride = reps.len();
        let start = ac
            .start_state(Anchored::No)
            .map_err(|e| format!("no unanchored start state: {e}"))?;

        // Breadth-first over the states reachable from the start: their
        // rows (by discovery index) and their atoms. `index` maps the
        // automaton's state ids (offsets into its own table, so bounded by
        // its size) to discovery indices.
        const UNSEEN: u32 = u32::MAX;
        let mut index: Vec<u32> = Vec::new();
        let mut ids = Vec::new();
        let mut queue = VecDeque::new();
        let mut visit = |sid: StateID, ids: &mut Vec<StateID>, queue: &mut VecDeque<StateID>| {
            let i = sid.as_usize();
            if i >= index.len() {
                index.resize(i + 1, UNSEEN);
            }
            if index[i] == UNSEEN {
                index[i] = ids.len() as u32;
                ids.push(sid);
                queue.push_back(sid);
            }
            index[i]
        };
        visit(start, &mut ids, &mut queue);
        let mut rows: Vec<u32> = Vec::new();
        let mut is_match: Vec<bool> = Vec::new();
        let mut lists: Vec<Vec<u32>> = Vec::new();
        while let Some(sid) = queue.pop_front() {
            for &rep in &reps {
                let next = ac.next_state(Anchored::No, sid, rep);
                rows.push(visit(next, &mut ids, &mut queue));
            }
            let m = ac.is_match(sid);
            is_match.push(m);
            lists.push(if m {
                (0..ac.match_len(sid))
                    .map(|i| ac.match_pattern(sid, i).as_u32())
                    .collect()
            } else {
                Vec::new()
            });
        }

        // Match states first, each keeping its relative order.
        let n = ids.len();
        let mut order: Vec<usize> = (0..n).filter(|&k| is_match[k]).collect();
        let matching = order.len();
        order.extend((0..n).filter(|&k| !is_match[k]));
        let mut renum = vec![0u32; n];
        for (new, &old) in order.iter().enumerate() {
            renum[old] = new as u32;
        }
        let premul = |k: u32| -> Result<u32, String> {
            (k as usize)
                .checked_mul(stride)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| format!("{n} states of {stride} classes do not fit"))
        };
        let mut trans = vec![0u32; n * stride];
        for (old, row) in rows.chunks_exact(stride).enumerate() {
            let at = renum[old] as usize * stride;
            for (c, &t) in row.iter().enumerate() {
                trans[at + c] = premul(renum[t as usize])?;
            }
        }
        let mut match_ranges = Vec::with_capacity(matching + 1);
        let mut matches = Vec::new();
        match_ranges.push(0);
        for &old in &order[..matching] {
            matches.extend_from_slice(&lists[old]);
            match_ranges.push(matches.len() as u32);
        }
        Ok(Dfa {
            classes,
            stride: stride as u32,
            trans: trans.into_boxed_slice(),
            start: premul(renum[0])?,
            match_limit: premul(matching as u32)?,
            match_ranges: match_ranges.into_boxed_slice(),
            matches: matches.into_boxed_slice(),
            atom_lens: atoms.iter().map(|a| a.len() as u32).collect(),
        })
    }

    /// Calls `f(atom, start, end)` for every occurrence of every atom in
    /// `hay`, ASCII case aside, in the order their ends are reached.
    #[inline]
    pub(crate) fn for_each_match(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        self.matches_from(hay, 0, self.start, &mut f);
    }

    /// [`Dfa::for_each_match`] over two byte strings at once: `f(lane,
    /// atom, start, end)` for every occurrence in `hays[lane]`, each lane's
    /// in the order its ends are reached (the lanes' calls interleave).
    ///
    /// The two walks step together while both have bytes left: a step of
    /// one waits for the load of its last one, so two independent walks
    /// take little longer than one.
    pub(crate) fn for_each_match_pair(
        &self,
        hays: [&[u8]; 2],
        mut f: impl FnMut(usize, usize, usize, usize),
    ) {
        let mut s = [self.start; 2];
        let mut at = [0usize; 2];
        loop {
            let n = (hays[0].len() - at[0]).min(hays[1].len() - at[1]);
            if n == 0 {
                break;
            }
            let (k, after) = self.step_pair(hays, at, s, n);
            at = [at[0] + k, at[1] + k];
            s = after;
            // A state below the limit after the last step was entered by
            // it: one of the walks stopped there.
            for lane in 0..2 {
                if s[lane] < self.match_limit {
                    self.report(s[lane], at[lane], &mut |a, st, e| f(lane, a, st, e));
                }
            }
        }
        for lane in 0..2 {
            self.matches_from(hays[lane], at[lane], s[lane], &mut |a, st, e| {
                f(lane, a, st, e)
            });
        }
    }

    /// Every occurrence ending past `at`, where the walk is in state `s`.
    #[inline]
    fn matches_from(
        &self,
        hay: &[u8],
        mut at: usize,
        mut s: u32,
        f: &mut impl FnMut(usize, usize, usize),
    ) {
        while let Some((end, state)) = self.next_match(hay, at, s) {
            self.report(state, end, f);
            (at, s) = (end, state);
        }
    }

    /// The atoms of match state `state`, entered at `end`.
    #[inline]
    fn report(&self, state: u32, end: usize, f: &mut impl FnMut(usize, usize, usize)) {
        let k = state as usize / self.stride as usize;
        let (lo, hi) = (self.match_ranges[k], self.match_ranges[k + 1]);
        for &a in &self.matches[lo as usize..hi as usize] {
            let a = a as usize;
            // An atom ends where its match state is entered, so it starts
            // its length before (saturating: a doctored table read back
            // may give a length longer than the bytes seen).
            f(a, end.saturating_sub(self.atom_lens[a] as usize), end);
        }
    }

    /// Steps both walks over at most `n` bytes each (`n` at least 1, and
    /// both `hays[lane][at[lane]..]` that long), up to the first step
    /// after which either is in a match state: the steps taken and the
    /// states then.
    #[inline(never)]
    fn step_pair(
        &self,
        hays: [&[u8]; 2],
        at: [usize; 2],
        s: [u32; 2],
        n: usize,
    ) -> (usize, [u32; 2]) {
        let trans = &self.trans[..];
        let classes = &self.classes;
        let limit = self.match_limit;
        let (a, b) = (&hays[0][at[0]..at[0] + n], &hays[1][at[1]..at[1] + n]);
        let (mut sa, mut sb) = (s[0], s[1]);
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            sa = trans[sa as usize + usize::from(classes[usize::from(x)])];
            sb = trans[sb as usize + usize::from(classes[usize::from(y)])];
            if sa < limit || sb < limit {
                return (i + 1, [sa, sb]);
            }
        }
        (n, [sa, sb])
    }

    /// Runs from state `s` over `hay[at..]` up to the first match state:
    /// the offset just past the byte that entered it, and the state. A loop
    /// of its own, so that the state stays in a register.
    #[inline(never)]
    fn next_match(&self, hay: &[u8], at: usize, mut s: u32) -> Option<(usize, u32)> {
        let trans = &self.trans[..];
        let classes = &self.classes;
        let limit = self.match_limit;
        for (i, &b) in hay.get(at..)?.iter().enumerate() {
            s = trans[s as usize + usize::from(classes[usize::from(b)])];
            if s < limit {
                return Some((at + i + 1, s));
            }
        }
        None
    }

    /// Heap bytes of the tables.
    pub(crate) fn memory(&self) -> usize {
        self.trans.len() * 4
            + self.match_ranges.len() * 4
            + self.matches.len() * 4
            + self.atom_lens.len() * 4
    }

    /// Checks that every id and range of the tables stays in bounds, so
    /// that a search can never index out of them or report an atom that
    /// does not exist (a table read back from bytes must pass this).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let stride = self.stride as usize;
        if stride == 0 || stride > 256 {
            return Err(format!("{stride} byte classes (1 to 256)"));
        }
        if let Some(b) = (0..256).find(|&b| usize::from(self.classes[b]) >= stride) {
            return Err(format!(
                "byte {b} has class {} of {stride}",
                self.classes[b]
            ));
        }
        let len = self.trans.len();
        if len == 0 || len % stride != 0 {
            return Err(format!("{len} transitions are not whole rows of {stride}"));
        }
        let state_ok = |s: u32| (s as usize) < len && s as usize % stride == 0;
        if let Some(i) = self.trans.iter().position(|&s| !state_ok(s)) {
            return Err(format!(
                "transition {i} leads to no state ({})",
                self.trans[i]
            ));
        }
        if !state_ok(self.start) {
            return Err(format!("start state {} is not a state", self.start));
        }
        let limit = self.match_limit as usize;
        if limit % stride != 0 || limit > len {
            return Err(format!("match limit {limit} is not a state boundary"));
        }
        let ranges = &self.match_ranges;
        if ranges.len() != limit / stride + 1 || ranges.first() != Some(&0) {
            return Err(format!(
                "{} match ranges for {} match states",
                ranges.len(),
                limit / stride
            ));
        }
        if ranges.windows(2).any(|w| w[0] > w[1])
            || ranges.last().copied() != Some(self.matches.len() as u32)
        {
            return Err("match ranges are not in order over the match list".into());
        }
        let atoms = self.atom_lens.len();
        if let Some(i) = self.matches.iter().position(|&a| a as usize >= atoms) {
            return Err(format!(
                "match {i} names atom {} of {atoms}",
                self.matches[i]
            ));
        }
        if let Some(a) = self.atom_lens.iter().position(|&l| l == 0) {
            return Err(format!("atom {a} is empty"));
        }
        Ok(())
    }
}

/// `[u8; 256]` as a byte string (serde's arrays stop at 32 elements).
mod byte_table {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &[u8; 256], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(t)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 256], D::Error> {
        let v: &[u8] = <&[u8]>::deserialize(d)?;
        v.try_into()
            .map_err(|_| serde::de::Error::invalid_length(v.len(), &"256 bytes"))
    }
}

/// `u32`s as one byte string, little-endian: read back without decoding
/// each one.
mod words {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(w: &[u32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u32]>, D::Error> {
        let v: &[u8] = <&[u8]>::deserialize(d)?;
        if v.len() % 4 != 0 {
            return Err(serde::de::Error::invalid_length(
                v.len(),
                &"whole 4-byte words",
            ));
        }
        Ok(v.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;

    fn ours(atoms: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let dfa = Dfa::build(atoms).unwrap();
        dfa.validate().unwrap();
        let mut v = Vec::new();
        dfa.for_each_match(hay, |a, s, e| v.push((a, s, e)));
        v
    }

    /// The pair walk, each lane's calls in order, as two lists.
    fn ours_pair(atoms: &[Vec<u8>], hays: [&[u8]; 2]) -> [Vec<(usize, usize, usize)>; 2] {
        let dfa = Dfa::build(atoms).unwrap();
        let mut v = [Vec::new(), Vec::new()];
        dfa.for_each_match_pair(hays, |lane, a, s, e| v[lane].push((a, s, e)));
        v
    }

    fn reference(atoms: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let ac = AhoCorasick::new(atoms).unwrap();
        let lower = hay.to_ascii_lowercase();
        ac.find_overlapping_iter(&lower)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect()
    }

    #[test]
    fn finds_every_occurrence_case_folded() {
        let atoms = vec![
            b"he".to_vec(),
            b"she".to_vec(),
            b"hers".to_vec(),
            b"\xff\x00".to_vec(),
        ];
        let hay = b"uSHErs \xff\x00";
        let got = ours(&atoms, hay);
        assert_eq!(got, vec![(1, 1, 4), (0, 2, 4), (2, 2, 6), (3, 7, 9)]);
        assert_eq!(got, reference(&atoms, hay));
        // Two lanes of different lengths, with matches at the same step.
        let other = b"xhe\xff\x00 hers and more";
        let [a, b] = ours_pair(&atoms, [hay, other]);
        assert_eq!(a, got);
        assert_eq!(b, vec![(0, 1, 3), (3, 3, 5), (0, 6, 8), (2, 6, 10)]);
        assert_eq!(b, reference(&atoms, other));
    }

    #[test]
    fn every_byte_value_in_the_atoms() {
        let atoms: Vec<Vec<u8>> = (0..=255u8)
            .filter(|b| !b.is_ascii_uppercase())
            .map(|b| vec![b, b])
            .collect();
        let hay: Vec<u8> = (0..=255u8).flat_map(|b| [b, b, b]).collect();
        assert_eq!(ours(&atoms, &hay), reference(&atoms, &hay));
    }

    #[test]
    fn broken_tables_are_refused() {
        let good = Dfa::build(&[b"ab".to_vec(), b"b".to_vec()]).unwrap();
        good.validate().unwrap();
        let mut d = good.clone();
        d.trans[1] = d.trans.len() as u32;
        assert!(d.validate().unwrap_err().contains("leads to no state"));
        let mut d = good.clone();
        d.trans[0] = 1;
        assert!(d.validate().is_err());
        let mut d = good.clone();
        d.classes[7] = 200;
        assert!(d.validate().unwrap_err().contains("class"));
        let mut d = good.clone();
        d.matches[0] = 9;
        assert!(d.validate().unwrap_err().contains("names atom"));
        let mut d = good.clone();
        d.match_limit += d.stride;
        assert!(d.validate().is_err());
        let mut d = good;
        d.stride = 0;
        assert!(d.validate().is_err());
    }

    /// Up to 12 atoms of 1 to 4 bytes, in lower case.
    fn atom_set() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b'b'), Just(b'\0'), any::<u8>()],
                1..5,
            ),
            1..12,
        )
        .prop_map(|atoms| atoms.iter().map(|a| a.to_ascii_lowercase()).collect())
    }

    /// Up to 64 bytes, upper-case letters among them.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'B'), Just(b'b'), Just(b'\0'), any::<u8>()],
            0..64,
        )
    }

    proptest! {
        #[test]
        fn agrees_with_aho_corasick(atoms in atom_set(), hay in bytes()) {
            prop_assert_eq!(ours(&atoms, &hay), reference(&atoms, &hay));
        }

        #[test]
        fn pair_walk_is_two_walks(atoms in atom_set(), a in bytes(), b in bytes()) {
            let [ga, gb] = ours_pair(&atoms, [&a, &b]);
            prop_assert_eq!(ga, reference(&atoms, &a));
            prop_assert_eq!(gb, reference(&atoms, &b));
        }
    }
}
