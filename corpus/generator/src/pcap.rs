//! Classic libpcap file writer.
//!
//! File header (24 bytes): magic, version 2.4, thiszone, sigfigs, snaplen,
//! link type; then per packet a 16-byte record header (seconds, sub-second
//! part, captured length, original length) and the frame. All fields are in
//! the writer's byte order; the magic tells readers which one, and whether the
//! sub-second field counts microseconds (`a1b2c3d4`) or nanoseconds (`a1b23c4d`).

/// Byte order of every multi-byte field a writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Least significant byte first (what x86 hosts write).
    Little,
    /// Most significant byte first (what SPARC/PowerPC hosts wrote).
    Big,
}

impl Endian {
    /// Appends `v` in this byte order.
    pub fn put_u16(self, out: &mut Vec<u8>, v: u16) {
        match self {
            Endian::Little => out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Appends `v` in this byte order.
    pub fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        match self {
            Endian::Little => out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Reads a `u16` at `at` in this byte order.
    pub fn get_u16(self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }

    /// Reads a `u32` at `at` in this byte order.
    pub fn get_u32(self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }
}

/// Unit of the sub-second timestamp field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsResolution {
    /// Microseconds, magic `0xa1b2c3d4`.
    Micro,
    /// Nanoseconds, magic `0xa1b23c4d`.
    Nano,
}

/// Magic number of a microsecond-resolution file.
pub const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
/// Magic number of a nanosecond-resolution file.
pub const MAGIC_NANO: u32 = 0xa1b2_3c4d;
/// Length of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Writes a pcap file into memory.
#[derive(Debug)]
pub struct PcapWriter {
    buf: Vec<u8>,
    endian: Endian,
    resolution: TsResolution,
    snaplen: u32,
}

impl PcapWriter {
    /// Starts a file with the given byte order, timestamp unit, link type and snap length.
    pub fn new(endian: Endian, resolution: TsResolution, linktype: u32, snaplen: u32) -> Self {
        let mut buf = Vec::with_capacity(64 * 1024);
        let magic = match resolution {
            TsResolution::Micro => MAGIC_MICRO,
            TsResolution::Nano => MAGIC_NANO,
        };
        endian.put_u32(&mut buf, magic);
        endian.put_u16(&mut buf, 2);
        endian.put_u16(&mut buf, 4);
        endian.put_u32(&mut buf, 0); // thiszone
        endian.put_u32(&mut buf, 0); // sigfigs
        endian.put_u32(&mut buf, snaplen);
        endian.put_u32(&mut buf, linktype);
        PcapWriter {
            buf,
            endian,
            resolution,
            snaplen,
        }
    }

    /// Appends one frame captured at `ts_ns` nanoseconds since the Unix epoch.
    /// Frames longer than the snap length are cut, keeping their original length.
    pub fn write_packet(&mut self, ts_ns: u64, frame: &[u8]) {
        let secs = (ts_ns / 1_000_000_000) as u32;
        let frac = match self.resolution {
            TsResolution::Micro => ((ts_ns % 1_000_000_000) / 1_000) as u32,
            TsResolution::Nano => (ts_ns % 1_000_000_000) as u32,
        };
        let caplen = frame.len().min(self.snaplen as usize);
        let e = self.endian;
        e.put_u32(&mut self.buf, secs);
        e.put_u32(&mut self.buf, frac);
        e.put_u32(&mut self.buf, caplen as u32);
        e.put_u32(&mut self.buf, frame.len() as u32);
        self.buf.extend_from_slice(&frame[..caplen]);
    }

    /// The finished file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endian_of(file: &[u8]) -> Endian {
        match file[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => Endian::Little,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => Endian::Big,
            _ => panic!("bad magic {:02x?}", &file[..4]),
        }
    }

    /// Walks the records and returns (seconds, fraction, caplen, origlen) per record.
    fn records(file: &[u8]) -> Vec<(u32, u32, u32, u32)> {
        let e = endian_of(file);
        let mut at = FILE_HEADER_LEN;
        let mut out = Vec::new();
        while at < file.len() {
            let caplen = e.get_u32(file, at + 8);
            out.push((
                e.get_u32(file, at),
                e.get_u32(file, at + 4),
                caplen,
                e.get_u32(file, at + 12),
            ));
            at += RECORD_HEADER_LEN + caplen as usize;
        }
        assert_eq!(at, file.len(), "records must end exactly at end of file");
        out
    }

    #[test]
    fn header_fields_in_every_variant() {
        let cases = [
            (
                Endian::Little,
                TsResolution::Micro,
                [0xd4, 0xc3, 0xb2, 0xa1],
            ),
            (Endian::Little, TsResolution::Nano, [0x4d, 0x3c, 0xb2, 0xa1]),
            (Endian::Big, TsResolution::Micro, [0xa1, 0xb2, 0xc3, 0xd4]),
            (Endian::Big, TsResolution::Nano, [0xa1, 0xb2, 0x3c, 0x4d]),
        ];
        for (endian, res, magic) in cases {
            let file = PcapWriter::new(endian, res, 113, 65535).into_bytes();
            assert_eq!(file.len(), FILE_HEADER_LEN);
            assert_eq!(file[..4], magic);
            assert_eq!(endian.get_u16(&file, 4), 2);
            assert_eq!(endian.get_u16(&file, 6), 4);
            assert_eq!(endian.get_u32(&file, 16), 65535);
            assert_eq!(endian.get_u32(&file, 20), 113);
        }
    }

    #[test]
    fn records_parse_back() {
        let ts = 1_704_067_200_123_456_789u64;
        for (endian, res, frac) in [
            (Endian::Little, TsResolution::Micro, 123_456),
            (Endian::Big, TsResolution::Nano, 123_456_789),
        ] {
            let mut w = PcapWriter::new(endian, res, 1, 65535);
            w.write_packet(ts, &[1, 2, 3]);
            w.write_packet(ts + 1_000, &[0; 60]);
            let file = w.into_bytes();
            let recs = records(&file);
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[0], (1_704_067_200, frac, 3, 3));
            assert_eq!(recs[1].2, 60);
            assert_eq!(
                &file[FILE_HEADER_LEN + 16..FILE_HEADER_LEN + 19],
                &[1, 2, 3]
            );
        }
    }

    #[test]
    fn snaplen_cuts_but_keeps_original_length() {
        let mut w = PcapWriter::new(Endian::Little, TsResolution::Micro, 1, 10);
        w.write_packet(0, &[7; 25]);
        let recs = records(&w.into_bytes());
        assert_eq!(recs, vec![(0, 0, 10, 25)]);
    }
}
