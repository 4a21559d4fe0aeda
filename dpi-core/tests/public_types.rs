//! The public types a probe moves between threads are `Send` (and the
//! shared, immutable ones `Sync`).

use dpi_core::signature::SignatureSet;
use dpi_core::{
    CaptureReader, Classification, Classifier, DecodeError, Error, FileSummary, Flow, FlowConfig,
    FlowMeter, FlowTable, FlowView, Frame, LinkType, MeterStats, Packet, Timestamp,
};

fn send<T: Send>() {}
fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send() {
    send::<FlowMeter>();
    send::<FlowTable>();
    send::<CaptureReader<std::io::BufReader<std::fs::File>>>();
    send::<Error>();
    send::<FileSummary>();
    send_sync::<Flow>();
    send_sync::<FlowConfig>();
    send_sync::<MeterStats>();
    send_sync::<Classifier>();
    send_sync::<Classification>();
    send_sync::<SignatureSet>();
    send_sync::<FlowView<'static>>();
    send_sync::<Packet<'static>>();
    send_sync::<Frame<'static>>();
    send_sync::<DecodeError>();
    send_sync::<LinkType>();
    send_sync::<Timestamp>();
}
