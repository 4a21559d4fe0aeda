//! # dpi-core
//!
//! Protocol classification for network probes. A probe hands in link-layer
//! frames (or whole pcap/pcapng files); the crate decodes them, tracks
//! bidirectional flows, keeps the first bytes of user data in each direction
//! and hands back finished flows.
//!
//! ## Main types
//!
//! - [`FlowMeter`]: the streaming entry point. Hand it frames with their link
//!   type and timestamp; finished flows come back through a callback.
//! - [`Flow`]: one finished bidirectional flow with per-direction counters,
//!   the first payload sizes and the first bytes of user data.
//! - [`FlowEvent`] and [`Labeller`]: live flows, through
//!   [`FlowMeter::push_frame_events`]: a flow's label as soon as it is
//!   final, and the flow when it ends, with why (see [`live`]).
//! - [`FlowConfig`]: timeouts, the live-flow cap, how many bytes and sizes to keep.
//! - [`CaptureReader`]: a streaming pcap/pcapng reader with bounded memory.
//! - [`Error`]: the error type, carrying the file and byte offset.
//! - [`expect`]: what one flow says about another (FTP data connections,
//!   SDP media, DNS answers), attached to new flows by the meter.
//! - [`Metadata`]: the protocol fields of a flow (server name, ALPN, JA4,
//!   HTTP, DNS, SSH fields), from [`Flow::metadata`] or
//!   [`FlowView::metadata`]; the parsers are in [`protocols`].
//!
//! ## Example
//!
//! ```
//! use dpi_core::{FlowConfig, FlowMeter, LinkType, Timestamp};
//!
//! // An Ethernet frame carrying an IPv4/UDP datagram (DNS query).
//! let frame: Vec<u8> = dpi_core::testing::udp_ipv4_frame(
//!     [10, 0, 0, 1], 5353, [10, 0, 0, 2], 53, b"\x12\x34\x01\x00\x00\x01");
//! let mut meter = FlowMeter::new(FlowConfig::default());
//! let mut flows = Vec::new();
//! meter.push_frame(LinkType::ETHERNET, Timestamp::from_micros(1), &frame, frame.len() as u32,
//!                  &mut |f| flows.push(f));
//! meter.flush(&mut |f| flows.push(f));
//! assert_eq!(flows.len(), 1);
//! assert_eq!(flows[0].client_port, 5353);
//! assert_eq!(&flows[0].c2s_payload[..2], b"\x12\x34");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod capture;
pub mod classify;
pub mod decode;
mod error;
pub mod expect;
pub mod flow;
mod fragment;
mod link;
pub mod live;
pub mod matcher;
mod meter;
mod packet;
pub mod protocols;
mod shard;
pub mod signature;
pub mod testing;
mod time;
mod view;

pub use capture::{CaptureFormat, CaptureReader, Frame, InterfaceInfo};
pub use classify::{Classification, Classifier, Confidence, Decision};
pub use decode::{decode, DecodeError};
pub use error::{Error, ErrorKind};
pub use flow::{
    DirectionStats, Flow, FlowConfig, FlowEnd, FlowSummary, FlowTable, Settled, SettledBytes,
};
pub use link::LinkType;
pub use live::{FlowEvent, Labeller};
pub use meter::{FileSummary, FlowMeter, MeterStats};
pub use packet::{Fragment, Packet, TcpInfo, Tunnel};
pub use protocols::Metadata;
pub use shard::ShardedMeter;
pub use time::Timestamp;
pub use view::FlowView;

/// The README's Rust examples, compiled and run by `cargo test --doc`.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
