//! Stable 64-bit hashing: the same bytes give the same hash on every
//! machine and in every release, so samples and splits do not depend on
//! how a corpus was cut or where it ran.

/// FNV-1a over `bytes`, then a SplitMix64 finaliser so that every bit of
/// the result depends on every input byte.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// SplitMix64's finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hash of several fields, each length-prefixed so that field
/// boundaries count (`("ab", "c")` differs from `("a", "bc")`).
pub fn hash_fields(fields: &[&[u8]]) -> u64 {
    let mut buf = Vec::new();
    for f in fields {
        buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
        buf.extend_from_slice(f);
    }
    stable_hash(&buf)
}

/// The training fold (`0..folds`) of a capture: the hash of its file name
/// salted with `"dpi-train-fold"`, modulo `folds`. Candidates mined on the
/// other folds are validated on this one.
pub fn fold_of(capture: &str, folds: u8) -> u8 {
    (hash_fields(&[b"dpi-train-fold", capture.as_bytes()]) % u64::from(folds.max(1))) as u8
}

/// A deterministic split of captures by file name into `parts` parts
/// (salted differently from [`fold_of`], so an evaluation split and the
/// training folds are independent).
pub fn part_of(capture: &str, salt: &str, parts: u64) -> u64 {
    hash_fields(&[salt.as_bytes(), capture.as_bytes()]) % parts.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_field_aware() {
        assert_eq!(stable_hash(b"abc"), stable_hash(b"abc"));
        assert_ne!(stable_hash(b"abc"), stable_hash(b"abd"));
        assert_ne!(hash_fields(&[b"ab", b"c"]), hash_fields(&[b"a", b"bc"]));
        // Pinned: a change here changes every split and sample.
        assert_eq!(stable_hash(b""), mix(0xcbf2_9ce4_8422_2325));
    }

    #[test]
    fn folds_split_names() {
        let n = (0..200)
            .filter(|i| fold_of(&format!("capture-{i}.pcap"), 2) == 0)
            .count();
        assert!((60..140).contains(&n), "{n}");
    }
}
