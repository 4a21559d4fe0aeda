//! Bytes as a compiled signature set (`Matcher::from_bytes`).
//!
//! The first byte picks how the rest is used: as the whole input; as the
//! tables after a valid header; or as edits (offset, byte) of a valid
//! snapshot of a set whose atoms are searched with our own table.
//!
//! - No panic, and nothing unbounded: a snapshot that loads is matched
//!   against flows (its regexes compiled on first use) and written out
//!   again, and what it writes loads back to the same bytes.
#![no_main]

use std::sync::OnceLock;

use dpi_core::matcher::{Matcher, Scratch};
use dpi_core::signature::parse_extended;
use dpi_core::FlowView;
use libfuzzer_sys::fuzz_target;

fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut text = String::from(
            "rule http\n  protocol HTTP\n  transport tcp\n  c2s at 0 \"GET \"\nend\n\
             rule tls\n  protocol TLS\n  c2s regex r\"^\\x16\\x03[\\x00-\\x04]\"\nend\n\
             rule dns\n  protocol DNS\n  c2s at 2 hex \"0? ?? 00 01\"\n  ports 53\nend\n\
             rule p\n  protocol P\n  transport udp\n  ports 5000-5010\nend\n",
        );
        // Enough atoms anywhere that no prefilter is used: our own table.
        for i in 0..160u32 {
            let word: String = (0..6)
                .map(|k| char::from(b'a' + ((i * 7 + k * 13 + i / 5) % 26) as u8))
                .collect();
            text += &format!("rule w{i}\n  protocol W{}\n  c2s nocase \"{word}\"\nend\n", i % 9);
        }
        let set = parse_extended(&text, "fuzz.rules").expect("the base set parses");
        Matcher::new(&set).expect("the base set compiles").to_bytes()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let base = base();
    let input: Vec<u8> = match mode % 3 {
        0 => rest.to_vec(),
        1 => base[..28].iter().chain(rest).copied().collect(),
        _ => {
            let mut v = base.to_vec();
            for e in rest.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([e[0], e[1]])) * 7 % v.len();
                v[at] = e[2];
            }
            v
        }
    };
    let Ok(m) = Matcher::from_bytes(&input) else {
        return;
    };
    let mut scratch = Scratch::new();
    for view in [
        FlowView::new(6, 80).with_c2s(b"GET / HTTP/1.1\r\nHost: ABCDEFGHIJ\r\n"),
        FlowView::new(17, 53).with_c2s(rest).with_s2c(b"\x16\x03\x01"),
        FlowView::new(6, 443).with_c2s(b"\x16\x03\x01\x02\x00").with_s2c(rest),
    ] {
        let _ = m.matches(&view, &mut scratch);
    }
    let again = m.to_bytes();
    let back = Matcher::from_bytes(&again).expect("a written set loads back");
    assert_eq!(back.to_bytes(), again);
});
