//! Small frame builders for examples and tests.

use etherparse::PacketBuilder;

/// An Ethernet II frame with an IPv4/UDP datagram carrying `payload`.
///
/// ```
/// let f = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, b"hi");
/// assert_eq!(f.len(), 14 + 20 + 8 + 2);
/// ```
pub fn udp_ipv4_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}

/// An Ethernet II frame with an IPv4/TCP segment carrying `payload`.
/// `flags` uses the [`TcpInfo`](crate::TcpInfo) bit values.
///
/// ```
/// use dpi_core::TcpInfo;
/// let f = dpi_core::testing::tcp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 1, 0, TcpInfo::SYN, b"");
/// assert_eq!(f.len(), 14 + 20 + 20);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn tcp_ipv4_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 65535);
    if flags & 0x02 != 0 {
        b = b.syn();
    }
    if flags & 0x10 != 0 {
        b = b.ack(ack);
    }
    if flags & 0x01 != 0 {
        b = b.fin();
    }
    if flags & 0x04 != 0 {
        b = b.rst();
    }
    if flags & 0x08 != 0 {
        b = b.psh();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}

/// A pcapng file written block by block (pcapng, IETF
/// draft-ietf-opsawg-pcapng: block layouts and option codes), in the byte
/// order of its section header block.
///
/// ```
/// use dpi_core::testing::{udp_ipv4_frame, PcapNgWriter};
/// use dpi_core::CaptureReader;
///
/// let mut w = PcapNgWriter::new();
/// let frame = udp_ipv4_frame([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, b"hi");
/// w.shb(false).idb(1, 0, Some(9), None).epb(0, 1_500_000_000, &frame, frame.len() as u32);
/// let mut r = CaptureReader::new(&w.out[..]).unwrap();
/// let f = r.next_frame().unwrap().unwrap();
/// assert_eq!((f.ts.as_nanos(), f.offset), (1_500_000_000, w.offsets[2] as u64));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PcapNgWriter {
    /// The file so far.
    pub out: Vec<u8>,
    /// Big-endian: the byte order of the last section header block.
    pub be: bool,
    /// Offset of every block written, in order.
    pub offsets: Vec<usize>,
}

impl PcapNgWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    fn put16(&self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    fn put32(&self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    /// Options (code, value) and the end of options, each value padded
    /// to four bytes; nothing for none.
    fn options(&self, out: &mut Vec<u8>, options: &[(u16, &[u8])]) {
        for (code, value) in options {
            self.put16(out, *code);
            self.put16(out, value.len() as u16);
            out.extend_from_slice(value);
            out.resize(out.len().div_ceil(4) * 4, 0);
        }
        if !options.is_empty() {
            self.put32(out, 0);
        }
    }

    /// A block of any type: its body padded to four bytes, between the
    /// two copies of its total length.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().div_ceil(4) * 4;
        let len = padded as u32 + 12;
        self.offsets.push(self.out.len());
        let mut out = std::mem::take(&mut self.out);
        self.put32(&mut out, block_type);
        self.put32(&mut out, len);
        out.extend_from_slice(body);
        out.resize(out.len() + padded - body.len(), 0);
        self.put32(&mut out, len);
        self.out = out;
        self
    }

    /// A section header block (version 1.0, section length unknown); the
    /// blocks after it are written in its byte order.
    pub fn shb(&mut self, be: bool) -> &mut Self {
        self.be = be;
        let mut b = Vec::new();
        self.put32(&mut b, 0x1a2b_3c4d);
        self.put16(&mut b, 1);
        self.put16(&mut b, 0);
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &b)
    }

    /// An interface description block, with `if_tsresol` (option 9) and
    /// `if_tsoffset` (option 14) when given.
    pub fn idb(
        &mut self,
        link: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let mut b = Vec::new();
        self.put16(&mut b, link);
        self.put16(&mut b, 0);
        self.put32(&mut b, snaplen);
        let offset = tsoffset.map(|o| {
            if self.be {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            }
        });
        let mut options: Vec<(u16, &[u8])> = Vec::new();
        let resol = tsresol.map(|r| [r]);
        if let Some(r) = &resol {
            options.push((9, r));
        }
        if let Some(o) = &offset {
            options.push((14, o));
        }
        self.options(&mut b, &options);
        self.block(1, &b)
    }

    /// An enhanced packet block of interface `if_id` at `ts` units of its
    /// resolution.
    pub fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        self.epb_with_options(if_id, ts, data, orig, &[])
    }

    /// [`epb`](Self::epb) with options, such as `epb_flags` (2).
    pub fn epb_with_options(
        &mut self,
        if_id: u32,
        ts: u64,
        data: &[u8],
        orig: u32,
        options: &[(u16, &[u8])],
    ) -> &mut Self {
        let mut b = Vec::new();
        self.put32(&mut b, if_id);
        self.put32(&mut b, (ts >> 32) as u32);
        self.put32(&mut b, ts as u32);
        self.put32(&mut b, data.len() as u32);
        self.put32(&mut b, orig);
        b.extend_from_slice(data);
        b.resize(b.len().div_ceil(4) * 4, 0);
        self.options(&mut b, options);
        self.block(6, &b)
    }

    /// A simple packet block: no interface, no time.
    pub fn spb(&mut self, data: &[u8], orig: u32) -> &mut Self {
        let mut b = Vec::new();
        self.put32(&mut b, orig);
        b.extend_from_slice(data);
        self.block(3, &b)
    }

    /// An (obsolete) packet block.
    pub fn opb(&mut self, if_id: u16, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        let mut b = Vec::new();
        self.put16(&mut b, if_id);
        self.put16(&mut b, 0);
        self.put32(&mut b, (ts >> 32) as u32);
        self.put32(&mut b, ts as u32);
        self.put32(&mut b, data.len() as u32);
        self.put32(&mut b, orig);
        b.extend_from_slice(data);
        self.block(2, &b)
    }

    /// An interface statistics block of interface `if_id`, no options.
    pub fn isb(&mut self, if_id: u32, ts: u64) -> &mut Self {
        let mut b = Vec::new();
        self.put32(&mut b, if_id);
        self.put32(&mut b, (ts >> 32) as u32);
        self.put32(&mut b, ts as u32);
        self.block(5, &b)
    }
}
