//! Fuzzes the SSH, DHCP, SIP, STUN, SMTP and SOCKS parsers, and the whole
//! registry through `FlowView::metadata` on a flow made from the input
//! (transport and ports from the first bytes, the rest split into the two
//! directions). Never a panic.
#![no_main]

use dpi_core::protocols::{dhcp, sip, smtp, socks, ssh, stun};
use dpi_core::FlowView;
use libfuzzer_sys::fuzz_target;

const PORTS: [u16; 13] = [22, 25, 53, 67, 68, 80, 137, 443, 1080, 1900, 3478, 5060, 5353];

fuzz_target!(|data: &[u8]| {
    let _ = ssh::parse_banner(data);
    let _ = dhcp::parse_message(data);
    let _ = sip::parse_request(data);
    let _ = stun::parse_message(data);
    if let Some(n) = stun::message_len(data) {
        assert!((20..=data.len()).contains(&n));
    }
    let rest = stun::after_messages(data);
    assert!(data.ends_with(rest));
    let _ = smtp::parse_hello(data);
    let _ = smtp::greeting_host(data);
    let _ = socks::parse_request(data);
    if data.len() < 3 {
        return;
    }
    let transport = if data[0] & 1 == 0 { 6 } else { 17 };
    let port = PORTS[usize::from(data[1]) % PORTS.len()];
    let rest = &data[3..];
    let split = usize::from(data[2]).min(rest.len());
    let (c2s, s2c) = rest.split_at(split);
    let view = FlowView::new(transport, port).with_client_port(40000).with_c2s(c2s).with_s2c(s2c);
    let _ = view.metadata();
    let swapped = FlowView::new(transport, port).with_c2s(s2c).with_s2c(c2s);
    let _ = swapped.metadata();
});
