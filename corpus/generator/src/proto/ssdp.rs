//! SSDP (UPnP device architecture 2.0): HTTP over UDP to 239.255.255.250:1900.

use super::crlf_lines;

/// An M-SEARCH for all devices.
pub fn msearch(search_target: &str, user_agent: &str) -> Vec<u8> {
    crlf_lines(&[
        "M-SEARCH * HTTP/1.1",
        "HOST: 239.255.255.250:1900",
        "MAN: \"ssdp:discover\"",
        "MX: 2",
        &format!("ST: {search_target}"),
        &format!("USER-AGENT: {user_agent}"),
        "",
    ])
}

/// The unicast answer of a device.
pub fn search_response(location: &str, search_target: &str, uuid: &str, date: &str) -> Vec<u8> {
    crlf_lines(&[
        "HTTP/1.1 200 OK",
        "CACHE-CONTROL: max-age=1800",
        &format!("DATE: {date}"),
        "EXT:",
        &format!("LOCATION: {location}"),
        "SERVER: Linux/5.10 UPnP/1.0 MiniUPnPd/2.3.3",
        &format!("ST: {search_target}"),
        &format!("USN: uuid:{uuid}::{search_target}"),
        "",
    ])
}

/// A NOTIFY ssdp:alive announcement.
pub fn notify_alive(location: &str, nt: &str, uuid: &str) -> Vec<u8> {
    crlf_lines(&[
        "NOTIFY * HTTP/1.1",
        "HOST: 239.255.255.250:1900",
        "CACHE-CONTROL: max-age=1800",
        &format!("LOCATION: {location}"),
        &format!("NT: {nt}"),
        "NTS: ssdp:alive",
        "SERVER: Linux/5.10 UPnP/1.0 MiniUPnPd/2.3.3",
        &format!("USN: uuid:{uuid}::{nt}"),
        "",
    ])
}
