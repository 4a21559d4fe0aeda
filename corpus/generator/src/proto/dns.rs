//! DNS messages (RFC 1035), also the wire format of mDNS (RFC 6762) and LLMNR (RFC 4795).

use super::{put16, put32};

/// Type A.
pub const A: u16 = 1;
/// Type PTR.
pub const PTR: u16 = 12;
/// Type TXT.
pub const TXT: u16 = 16;
/// Type AAAA.
pub const AAAA: u16 = 28;
/// Type SRV.
pub const SRV: u16 = 33;
/// Type OPT (EDNS0).
pub const OPT: u16 = 41;
/// Class IN.
pub const IN: u16 = 1;

/// Pointer to the question name, which always starts at offset 12.
pub const QNAME_PTR: [u8; 2] = [0xc0, 0x0c];

/// A name as length-prefixed labels ending with the root label.
pub fn name(dotted: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in dotted.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// One resource record: encoded owner name, type, class, TTL, data.
#[derive(Debug, Clone)]
pub struct Record {
    /// Owner name, already encoded (may be a compression pointer).
    pub owner: Vec<u8>,
    /// TYPE.
    pub rtype: u16,
    /// CLASS (for mDNS, bit 15 is cache-flush).
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// RDATA.
    pub data: Vec<u8>,
}

impl Record {
    /// A record for the question's name.
    pub fn answer(rtype: u16, ttl: u32, data: Vec<u8>) -> Record {
        Record {
            owner: QNAME_PTR.to_vec(),
            rtype,
            class: IN,
            ttl,
            data,
        }
    }

    /// The EDNS0 OPT pseudo-record advertising a UDP payload size.
    pub fn edns(udp_size: u16) -> Record {
        Record {
            owner: vec![0],
            rtype: OPT,
            class: udp_size,
            ttl: 0,
            data: Vec::new(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.owner);
        put16(out, self.rtype);
        put16(out, self.class);
        put32(out, self.ttl);
        put16(out, self.data.len() as u16);
        out.extend_from_slice(&self.data);
    }
}

/// A whole message with one question.
#[derive(Debug, Clone)]
pub struct Message {
    /// Transaction id.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, rcode).
    pub flags: u16,
    /// Question name, dotted.
    pub qname: String,
    /// Question type.
    pub qtype: u16,
    /// Question class (for mDNS, bit 15 asks for a unicast reply).
    pub qclass: u16,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Additional section.
    pub additional: Vec<Record>,
}

impl Message {
    /// A recursive query (flags 0x0100) for `qname`.
    pub fn query(id: u16, qname: &str, qtype: u16) -> Message {
        Message {
            id,
            flags: 0x0100,
            qname: qname.into(),
            qtype,
            qclass: IN,
            answers: Vec::new(),
            additional: Vec::new(),
        }
    }

    /// The response to `self` (flags 0x8180: recursion desired and available).
    pub fn reply(&self, answers: Vec<Record>) -> Message {
        Message {
            flags: 0x8180,
            answers,
            ..self.clone()
        }
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        put16(&mut out, self.id);
        put16(&mut out, self.flags);
        put16(&mut out, 1);
        put16(&mut out, self.answers.len() as u16);
        put16(&mut out, 0);
        put16(&mut out, self.additional.len() as u16);
        out.extend_from_slice(&name(&self.qname));
        put16(&mut out, self.qtype);
        put16(&mut out, self.qclass);
        for r in self.answers.iter().chain(&self.additional) {
            r.write(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let q = Message::query(0x1234, "www.example.com", A).encode();
        assert_eq!(q[..12], [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(q[12], 3);
        assert_eq!(&q[13..16], b"www");
        assert_eq!(q.len(), 12 + 17 + 4);
    }

    #[test]
    fn reply_uses_compression_pointer() {
        let q = Message::query(1, "a.example", A);
        let r = q
            .reply(vec![Record::answer(A, 60, vec![192, 0, 2, 1])])
            .encode();
        let qlen = 12 + name("a.example").len() + 4;
        assert_eq!(r[qlen..qlen + 2], QNAME_PTR);
        assert_eq!(r[6..8], [0, 1]);
        assert_eq!(r.len(), qlen + 2 + 10 + 4);
    }
}
