//! Property tests of the cross-flow parsers: arbitrary bytes never panic,
//! generated messages give back what they announce, and every truncation
//! of a DNS answer gives a prefix of the whole message's answers.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::{dns_cache, ftp, sdp, starttls};

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600), split in 0usize..600) {
        let _ = ftp::parse(&data);
        let _ = ftp::may_announce(&data);
        let _ = sdp::for_each_media(&data, |_| {});
        let _ = dns_cache::for_each_answer(&data, |_, n| { let _ = n.as_str(); });
        let split = split.min(data.len());
        let _ = starttls::upgrade(&data[..split], &data[split..]);
    }

    #[test]
    fn passive_and_active_replies_round_trip(ip in any::<[u8; 4]>(), port in 1u16.., text in "[ -~&&[^0-9]]{0,20}") {
        let [h1, h2, h3, h4] = ip;
        let (p1, p2) = (port >> 8, port & 0xff);
        let reply = format!("227 {text}({h1},{h2},{h3},{h4},{p1},{p2})\r\n");
        let a = ftp::parse(reply.as_bytes()).unwrap();
        prop_assert_eq!((a.addr, a.port), (Some(IpAddr::V4(Ipv4Addr::from(ip))), port));
        let cmd = format!("EPRT |1|{}|{port}|\r\n", Ipv4Addr::from(ip));
        prop_assert_eq!(ftp::parse(cmd.as_bytes()).unwrap().port, port);
        let epsv = format!("229 {text}(|||{port}|)\r\n");
        prop_assert_eq!(ftp::parse(epsv.as_bytes()).map(|a| a.port), Some(port));
    }

    #[test]
    fn sdp_media_round_trip(ip in any::<[u8; 4]>(), ports in prop::collection::vec(1u16..65535, 1..6)) {
        let mut msg = format!("SIP/2.0 200 OK\r\n\r\nv=0\r\nc=IN IP4 {}\r\n", Ipv4Addr::from(ip));
        for p in &ports {
            msg.push_str(&format!("m=audio {p} RTP/AVP 0 8\r\n"));
        }
        let mut seen = Vec::new();
        sdp::for_each_media(msg.as_bytes(), |m| seen.push((m.addr, m.rtp_port, m.rtcp_port)));
        let want: Vec<_> = ports.iter().map(|&p| (IpAddr::V4(Ipv4Addr::from(ip)), p, Some(p + 1))).collect();
        prop_assert_eq!(seen, want);
    }

    #[test]
    fn dns_truncations_give_a_prefix(labels in prop::collection::vec("[a-z0-9]{1,20}", 1..5), addrs in prop::collection::vec(any::<[u8; 4]>(), 1..8)) {
        let mut msg = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, addrs.len() as u8, 0, 0, 0, 0];
        for l in &labels {
            msg.push(l.len() as u8);
            msg.extend_from_slice(l.as_bytes());
        }
        msg.extend_from_slice(&[0, 0, 1, 0, 1]);
        for a in &addrs {
            msg.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            msg.extend_from_slice(a);
        }
        let name = labels.join(".");
        let mut whole = Vec::new();
        dns_cache::for_each_answer(&msg, |ip, n| whole.push((ip, n.as_str().to_string())));
        prop_assert_eq!(whole.len(), addrs.len());
        prop_assert!(whole.iter().all(|(_, n)| *n == name));
        for cut in 0..msg.len() {
            let mut part = Vec::new();
            dns_cache::for_each_answer(&msg[..cut], |ip, n| part.push((ip, n.as_str().to_string())));
            prop_assert!(whole.starts_with(&part));
        }
    }
}
