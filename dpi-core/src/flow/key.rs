//! The canonical bidirectional flow key.
//!
//! Both directions of a conversation map to the same key: the two
//! (address, port) endpoints are stored in a fixed order (the smaller one
//! first), together with the IP protocol and the VLAN id (of the last tag
//! walked). The tunnel a packet arrived in does not take part, so a flow
//! seen partly inside and partly outside a tunnel stays one flow.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Packet;

/// Address family marker, so that an IPv4 address and the IPv6 address
/// with the same 128-bit value never collide.
const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// One (address, port) endpoint while a key is made: the address as two
/// 64-bit halves (IPv4 in the low half), ordered by (family, address, port).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    family: u8,
    addr_hi: u64,
    addr_lo: u64,
    port: u16,
}

impl Endpoint {
    fn new(addr: IpAddr, port: u16) -> Self {
        let (family, bits) = match addr {
            IpAddr::V4(a) => (FAMILY_V4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (FAMILY_V6, u128::from(a)),
        };
        Endpoint {
            family,
            addr_hi: (bits >> 64) as u64,
            addr_lo: bits as u64,
            port,
        }
    }
}

/// The canonical key of a bidirectional flow, in 40 bytes: the two
/// addresses as 64-bit halves, then the ports, the VLAN id, the IP protocol
/// and both address families in one byte.
///
/// `lo` is the smaller endpoint in the (family, address, port) order, `hi`
/// the other one; equal endpoints (a packet sent to itself) are both `lo`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    /// `lo`'s address halves, then `hi`'s.
    addr: [u64; 4],
    lo_port: u16,
    hi_port: u16,
    vlan: u16,
    protocol: u8,
    /// `lo`'s family in the low nibble, `hi`'s in the high one.
    families: u8,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Five word-sized writes instead of one per field.
        for w in self.words() {
            h.write_u64(w);
        }
    }
}

/// A hash of the flow of `pkt` that is the same for both directions and in
/// every process: which shard the flow goes to. It reads the packet's
/// fields as they are, without making the canonical key (the reading
/// thread of a sharded meter computes it for every packet): each
/// endpoint is mixed on its own and the two are added, which does not
/// depend on their order; the IP protocol and the VLAN id are mixed in
/// after. The fields are those of [`FlowKey`], so packets of one key get
/// one hash.
#[inline]
pub(crate) fn shard_hash(pkt: &Packet<'_>) -> u64 {
    // Multiplications by an odd constant (as FxHash does), and the high
    // bits mixed down at the end (the shard is taken modulo a small count).
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    fn endpoint(addr: IpAddr, port: u16) -> u64 {
        let (family, hi, lo) = match addr {
            IpAddr::V4(a) => (FAMILY_V4, 0, u64::from(u32::from(a))),
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                (FAMILY_V6, (bits >> 64) as u64, bits as u64)
            }
        };
        let h = (lo ^ u64::from(port) << 40 ^ u64::from(family) << 56).wrapping_mul(K);
        (h.rotate_left(23) ^ hi).wrapping_mul(K)
    }
    let ends = endpoint(pkt.src, pkt.src_port).wrapping_add(endpoint(pkt.dst, pkt.dst_port));
    let h =
        (ends.rotate_left(17) ^ u64::from(pkt.protocol) ^ u64::from(pkt.vlan) << 8).wrapping_mul(K);
    h ^ (h >> 29) ^ (h >> 47)
}

impl FlowKey {
    /// The key of `pkt` and whether its sender is the `lo` endpoint.
    #[inline]
    pub(crate) fn of(pkt: &Packet<'_>) -> (FlowKey, bool) {
        let src = Endpoint::new(pkt.src, pkt.src_port);
        let dst = Endpoint::new(pkt.dst, pkt.dst_port);
        let src_is_lo = src <= dst;
        let (lo, hi) = if src_is_lo { (src, dst) } else { (dst, src) };
        let key = FlowKey {
            addr: [lo.addr_hi, lo.addr_lo, hi.addr_hi, hi.addr_lo],
            lo_port: lo.port,
            hi_port: hi.port,
            vlan: pkt.vlan,
            protocol: pkt.protocol,
            families: lo.family | hi.family << 4,
        };
        (key, src_is_lo)
    }

    /// The key as five words: the four address halves, then the ports, the
    /// VLAN id, the protocol and the families.
    #[inline]
    fn words(&self) -> [u64; 5] {
        [
            self.addr[0],
            self.addr[1],
            self.addr[2],
            self.addr[3],
            u64::from(self.lo_port)
                | u64::from(self.hi_port) << 16
                | u64::from(self.vlan) << 32
                | u64::from(self.protocol) << 48
                | u64::from(self.families) << 56,
        ]
    }

    /// The `lo` endpoint (`lo == true`) or the `hi` one: the address and
    /// port the key was made from.
    pub(crate) fn endpoint(&self, lo: bool) -> (IpAddr, u16) {
        let (hi_bits, lo_bits, family, port) = if lo {
            (
                self.addr[0],
                self.addr[1],
                self.families & 0x0f,
                self.lo_port,
            )
        } else {
            (self.addr[2], self.addr[3], self.families >> 4, self.hi_port)
        };
        let addr = if family == FAMILY_V4 {
            IpAddr::V4(Ipv4Addr::from(lo_bits as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(
                u128::from(hi_bits) << 64 | u128::from(lo_bits),
            ))
        };
        (addr, port)
    }

    /// IP protocol number.
    pub(crate) fn protocol(&self) -> u8 {
        self.protocol
    }

    /// VLAN id.
    pub(crate) fn vlan(&self) -> u16 {
        self.vlan
    }

    /// Both endpoints are the same (address, port): every packet goes from
    /// `lo` to `lo`.
    pub(crate) fn is_loop(&self) -> bool {
        self.addr[..2] == self.addr[2..]
            && self.lo_port == self.hi_port
            && self.families & 0x0f == self.families >> 4
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::{Fragment, Tunnel};

    fn pkt(src: IpAddr, sp: u16, dst: IpAddr, dp: u16, protocol: u8, vlan: u16) -> Packet<'static> {
        Packet {
            src,
            dst,
            protocol,
            src_port: sp,
            dst_port: dp,
            vlan,
            tunnel: None,
            tcp: None,
            fragment: Fragment::Whole,
            payload: &[],
            payload_len: 0,
        }
    }

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn both_directions_share_a_key() {
        let (k1, lo1) = FlowKey::of(&pkt(A, 1000, B, 80, 6, 0));
        let (k2, lo2) = FlowKey::of(&pkt(B, 80, A, 1000, 6, 0));
        assert_eq!(k1, k2);
        assert_ne!(lo1, lo2);
    }

    #[test]
    fn fields_that_split_the_key() {
        let (base, _) = FlowKey::of(&pkt(A, 1000, B, 80, 6, 0));
        let cases = [
            pkt(A, 1000, B, 80, 17, 0),
            pkt(A, 1000, B, 80, 6, 7),
            pkt(A, 1001, B, 80, 6, 0),
            pkt(A, 1000, B, 81, 6, 0),
            pkt(A, 1000, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 80, 6, 0),
        ];
        for c in cases {
            assert_ne!(FlowKey::of(&c).0, base, "{c:?}");
        }
    }

    #[test]
    fn tunnel_does_not_split_the_key() {
        let plain = pkt(A, 1000, B, 80, 6, 0);
        let mut tunnelled = plain;
        tunnelled.tunnel = Some(Tunnel::Gtp);
        assert_eq!(FlowKey::of(&plain), FlowKey::of(&tunnelled));
    }

    #[test]
    fn shard_hash_is_symmetric_and_spreads() {
        // 1,000 hashes expected in each quarter, by their low bits and by
        // their high ones.
        let spread = |hashes: &[u64]| {
            let (mut low, mut high) = ([0u32; 4], [0u32; 4]);
            for &h in hashes {
                low[(h % 4) as usize] += 1;
                high[(h >> 62) as usize] += 1;
            }
            for per in [low, high] {
                assert!(per.iter().all(|&n| (800..1200).contains(&n)), "{per:?}");
            }
        };
        let mut hashes = Vec::new();
        for i in 0..4000u16 {
            let c = IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8));
            let h1 = shard_hash(&pkt(c, 1024 + i, B, 443, 6, 0));
            let h2 = shard_hash(&pkt(B, 443, c, 1024 + i, 6, 0));
            assert_eq!(h1, h2);
            hashes.push(h1);
        }
        spread(&hashes);
        // Flows that differ in one port only (one client's connections)
        // spread too, over IPv6 as well.
        let v6 = |n: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n));
        let hashes: Vec<u64> = (0..4000u16)
            .map(|i| shard_hash(&pkt(v6(1), 30000 + i, v6(2), 443, 17, 0)))
            .collect();
        spread(&hashes);
    }

    #[test]
    fn shard_hash_follows_the_key() {
        // Whatever differs between two packets, equal keys give equal hashes.
        let v6 = |n: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n));
        let ends = [(A, 1000), (B, 80), (A, 80), (v6(1), 1000), (v6(2), 443)];
        let mut seen = Vec::new();
        for &(s, sp) in &ends {
            for &(d, dp) in &ends {
                for proto in [6, 17] {
                    for vlan in [0, 7] {
                        let mut p = pkt(s, sp, d, dp, proto, vlan);
                        p.tunnel = Some(Tunnel::Gre);
                        seen.push((FlowKey::of(&p).0, shard_hash(&p)));
                    }
                }
            }
        }
        for (k1, h1) in &seen {
            for (k2, h2) in &seen {
                assert_eq!(k1 == k2, h1 == h2, "{k1:?} {k2:?}");
            }
        }
    }

    #[test]
    fn v4_and_v6_with_equal_bits_differ() {
        let v6 = IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(Ipv4Addr::new(
            10, 0, 0, 1,
        )))));
        let v6b = IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(Ipv4Addr::new(
            10, 0, 0, 2,
        )))));
        assert_ne!(
            FlowKey::of(&pkt(A, 1, B, 2, 6, 0)).0,
            FlowKey::of(&pkt(v6, 1, v6b, 2, 6, 0)).0
        );
    }

    #[test]
    fn same_address_differs_by_port() {
        let (k1, lo1) = FlowKey::of(&pkt(A, 2000, A, 1000, 17, 0));
        let (k2, lo2) = FlowKey::of(&pkt(A, 1000, A, 2000, 17, 0));
        assert_eq!(k1, k2);
        assert!(!lo1);
        assert!(lo2);
    }
}
