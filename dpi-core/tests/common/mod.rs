//! What the sharded-meter tests share.

use dpi_core::Flow;

/// What is compared of a flow: everything its record says.
pub fn summary(f: &Flow) -> String {
    format!(
        "{} {}:{} > {}:{} {:?} {:?}..{:?} {:?} {:?} {:?} {:?} cross={:?}",
        f.protocol,
        f.client,
        f.client_port,
        f.server,
        f.server_port,
        f.end,
        f.first_ts,
        f.last_ts,
        f.c2s,
        f.s2c,
        f.c2s_payload,
        f.s2c_payload,
        f.cross
    )
}
