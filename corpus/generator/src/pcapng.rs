//! pcapng writer: one Section Header Block, any number of Interface
//! Description Blocks (each with its own link type and timestamp resolution)
//! and Enhanced Packet Blocks.
//!
//! Every block is `type, total length, body, total length`, with the body
//! padded to 32 bits; options are `code, length, value` padded to 32 bits and
//! closed by `opt_endofopt`.

use crate::pcap::Endian;

/// Block type of the Section Header Block.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Block type of the Interface Description Block.
pub const IDB: u32 = 0x0000_0001;
/// Block type of the Enhanced Packet Block.
pub const EPB: u32 = 0x0000_0006;
/// Byte-order magic of the Section Header Block.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_HARDWARE: u16 = 2;
const SHB_OS: u16 = 3;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;

/// Timestamp resolution of one interface, written as `if_tsresol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfTsResol {
    /// 10^-6 s, the default (the option is still written, for clarity).
    Micro,
    /// 10^-9 s.
    Nano,
}

impl IfTsResol {
    fn code(self) -> u8 {
        match self {
            IfTsResol::Micro => 6,
            IfTsResol::Nano => 9,
        }
    }

    fn units(self, ts_ns: u64) -> u64 {
        match self {
            IfTsResol::Micro => ts_ns / 1_000,
            IfTsResol::Nano => ts_ns,
        }
    }
}

/// Description of one capture interface.
#[derive(Debug, Clone)]
pub struct Interface {
    /// LINKTYPE_* value.
    pub linktype: u16,
    /// Snap length.
    pub snaplen: u32,
    /// `if_name`.
    pub name: String,
    /// `if_description`.
    pub description: String,
    /// `if_tsresol`.
    pub tsresol: IfTsResol,
}

/// Writes one pcapng section into memory.
#[derive(Debug)]
pub struct PcapngWriter {
    buf: Vec<u8>,
    endian: Endian,
    interfaces: Vec<Interface>,
}

fn put_option(e: Endian, out: &mut Vec<u8>, code: u16, value: &[u8]) {
    e.put_u16(out, code);
    e.put_u16(out, value.len() as u16);
    out.extend_from_slice(value);
    pad32(out);
}

fn pad32(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

impl PcapngWriter {
    /// Starts a section; the strings become `shb_hardware`, `shb_os` and `shb_userappl`.
    pub fn new(endian: Endian, hardware: &str, os: &str, application: &str) -> Self {
        let mut w = PcapngWriter {
            buf: Vec::with_capacity(64 * 1024),
            endian,
            interfaces: Vec::new(),
        };
        let mut body = Vec::new();
        endian.put_u32(&mut body, BYTE_ORDER_MAGIC);
        endian.put_u16(&mut body, 1);
        endian.put_u16(&mut body, 0);
        body.extend_from_slice(&[0xff; 8]); // section length unknown (-1)
        put_option(endian, &mut body, SHB_HARDWARE, hardware.as_bytes());
        put_option(endian, &mut body, SHB_OS, os.as_bytes());
        put_option(endian, &mut body, SHB_USERAPPL, application.as_bytes());
        put_option(endian, &mut body, OPT_END, &[]);
        w.block(SHB, &body);
        w
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        debug_assert_eq!(body.len() % 4, 0);
        let total = (12 + body.len()) as u32;
        let e = self.endian;
        e.put_u32(&mut self.buf, kind);
        e.put_u32(&mut self.buf, total);
        self.buf.extend_from_slice(body);
        e.put_u32(&mut self.buf, total);
    }

    /// Adds an Interface Description Block and returns its interface id.
    pub fn add_interface(&mut self, iface: Interface) -> u32 {
        let e = self.endian;
        let mut body = Vec::new();
        e.put_u16(&mut body, iface.linktype);
        e.put_u16(&mut body, 0);
        e.put_u32(&mut body, iface.snaplen);
        put_option(e, &mut body, IF_NAME, iface.name.as_bytes());
        put_option(e, &mut body, IF_DESCRIPTION, iface.description.as_bytes());
        put_option(e, &mut body, IF_TSRESOL, &[iface.tsresol.code()]);
        put_option(e, &mut body, OPT_END, &[]);
        self.block(IDB, &body);
        self.interfaces.push(iface);
        (self.interfaces.len() - 1) as u32
    }

    /// Appends an Enhanced Packet Block for interface `iface`, captured at
    /// `ts_ns` nanoseconds since the Unix epoch, with an optional comment.
    ///
    /// # Panics
    ///
    /// When `iface` was not added first (a bug in the caller).
    pub fn write_packet(&mut self, iface: u32, ts_ns: u64, frame: &[u8], comment: Option<&str>) {
        let e = self.endian;
        let info = &self.interfaces[iface as usize];
        let ts = info.tsresol.units(ts_ns);
        let caplen = frame.len().min(info.snaplen as usize);
        let mut body = Vec::with_capacity(32 + frame.len());
        e.put_u32(&mut body, iface);
        e.put_u32(&mut body, (ts >> 32) as u32);
        e.put_u32(&mut body, ts as u32);
        e.put_u32(&mut body, caplen as u32);
        e.put_u32(&mut body, frame.len() as u32);
        body.extend_from_slice(&frame[..caplen]);
        pad32(&mut body);
        if let Some(text) = comment {
            put_option(e, &mut body, OPT_COMMENT, text.as_bytes());
            put_option(e, &mut body, OPT_END, &[]);
        }
        self.block(EPB, &body);
    }

    /// The finished file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a file into (type, body) blocks, checking both length fields.
    fn blocks(file: &[u8], e: Endian) -> Vec<(u32, Vec<u8>)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < file.len() {
            let kind = e.get_u32(file, at);
            let total = e.get_u32(file, at + 4) as usize;
            assert_eq!(total % 4, 0, "block length must be a multiple of 4");
            assert_eq!(e.get_u32(file, at + total - 4) as usize, total);
            out.push((kind, file[at + 8..at + total - 4].to_vec()));
            at += total;
        }
        assert_eq!(at, file.len());
        out
    }

    fn option(e: Endian, opts: &[u8], wanted: u16) -> Option<Vec<u8>> {
        let mut at = 0;
        while at + 4 <= opts.len() {
            let code = e.get_u16(opts, at);
            let len = e.get_u16(opts, at + 2) as usize;
            if code == OPT_END {
                return None;
            }
            if code == wanted {
                return Some(opts[at + 4..at + 4 + len].to_vec());
            }
            at += 4 + len.div_ceil(4) * 4;
        }
        None
    }

    fn sample(e: Endian) -> Vec<u8> {
        let mut w = PcapngWriter::new(e, "x86_64", "Linux 6.1", "dpi-samples");
        let eth = w.add_interface(Interface {
            linktype: 1,
            snaplen: 262144,
            name: "eth0".into(),
            description: "uplink".into(),
            tsresol: IfTsResol::Micro,
        });
        let raw = w.add_interface(Interface {
            linktype: 101,
            snaplen: 262144,
            name: "tun0".into(),
            description: "vpn".into(),
            tsresol: IfTsResol::Nano,
        });
        w.write_packet(eth, 1_704_067_200_000_001_999, &[0xaa; 61], None);
        w.write_packet(raw, 1_704_067_200_000_002_345, &[0x45; 20], Some("hello"));
        w.into_bytes()
    }

    #[test]
    fn section_interfaces_and_packets_parse_back() {
        for e in [Endian::Little, Endian::Big] {
            let file = sample(e);
            assert_eq!(file[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
            let bl = blocks(&file, e);
            let kinds: Vec<u32> = bl.iter().map(|b| b.0).collect();
            assert_eq!(kinds, vec![SHB, IDB, IDB, EPB, EPB]);

            let shb = &bl[0].1;
            assert_eq!(e.get_u32(shb, 0), BYTE_ORDER_MAGIC);
            assert_eq!((e.get_u16(shb, 4), e.get_u16(shb, 6)), (1, 0));
            assert_eq!(option(e, &shb[16..], SHB_USERAPPL).unwrap(), b"dpi-samples");

            assert_eq!(e.get_u16(&bl[1].1, 0), 1);
            assert_eq!(e.get_u16(&bl[2].1, 0), 101);
            assert_eq!(option(e, &bl[1].1[8..], IF_TSRESOL).unwrap(), [6]);
            assert_eq!(option(e, &bl[2].1[8..], IF_TSRESOL).unwrap(), [9]);
            assert_eq!(option(e, &bl[2].1[8..], IF_NAME).unwrap(), b"tun0");

            let p0 = &bl[3].1;
            let ts0 = (u64::from(e.get_u32(p0, 4)) << 32) | u64::from(e.get_u32(p0, 8));
            assert_eq!(ts0, 1_704_067_200_000_001);
            assert_eq!((e.get_u32(p0, 12), e.get_u32(p0, 16)), (61, 61));
            assert_eq!(p0.len(), 20 + 64);

            let p1 = &bl[4].1;
            assert_eq!(e.get_u32(p1, 0), 1);
            let ts1 = (u64::from(e.get_u32(p1, 4)) << 32) | u64::from(e.get_u32(p1, 8));
            assert_eq!(ts1, 1_704_067_200_000_002_345);
            assert_eq!(option(e, &p1[40..], OPT_COMMENT).unwrap(), b"hello");
        }
    }
}
