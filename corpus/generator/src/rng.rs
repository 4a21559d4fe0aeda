//! A tiny deterministic pseudo-random generator (xorshift64*).
//!
//! The samples must be byte-for-byte reproducible, so every "random" field
//! (ports, sequence numbers, nonces, encrypted-looking payloads) comes from
//! one of these, seeded with a fixed value per capture.

/// xorshift64* generator; never yields the same stream for different seeds.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Creates a generator from a seed (zero is remapped, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Next 16 random bits.
    pub fn next_u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// A value in `lo..hi` (`hi` exclusive, `hi > lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }

    /// An ephemeral client port in the Linux default range 32768..60999.
    pub fn ephemeral_port(&mut self) -> u16 {
        self.range(32768, 61000) as u16
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// A fixed-size array of random bytes.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes(N));
        out
    }

    /// `n` random characters from `[0-9a-z]`.
    pub fn alnum(&mut self, n: usize) -> String {
        const SET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..n)
            .map(|_| SET[(self.next_u64() % SET.len() as u64) as usize] as char)
            .collect()
    }

    /// `n` random upper-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        const SET: &[u8] = b"0123456789ABCDEF";
        (0..n)
            .map(|_| SET[(self.next_u64() % 16) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn range_and_bytes() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            let v = r.range(10, 20);
            assert!((10..20).contains(&v));
        }
        assert_eq!(r.bytes(13).len(), 13);
        assert!((32768..61000).contains(&r.ephemeral_port()));
    }
}
