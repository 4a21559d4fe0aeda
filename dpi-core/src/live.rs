//! Live flows: labels as soon as they are final, and flows as they end.
//!
//! [`FlowMeter::push_frame_events`] hands in one frame like
//! [`FlowMeter::push_frame`] and reports [`FlowEvent`]s:
//!
//! - [`FlowEvent::Labelled`] once per flow, as soon as
//!   [`Classifier::decide`] says the label of the flow's first N bytes
//!   (N = [`FlowConfig::payload_bytes`](crate::FlowConfig::payload_bytes))
//!   is final, when a TCP flow closes (a FIN each way or a RST: no byte is
//!   kept after it, so its bytes are complete), and at the latest when the
//!   flow ends. The label never
//!   changes afterwards: the flow's end carries the same one.
//! - [`FlowEvent::Ended`] when the flow ends, with why
//!   ([`Flow::end`]: idle, active timeout, TCP close, evicted, flushed)
//!   and its label.
//!
//! The label given at the decision is what [`Classifier::classify_flow`]
//! gives for the bytes seen so far: its protocol and confidence are the
//! ones the finished flow gets (that is what a final decision means), and
//! the application is read from the protocol fields captured up to then
//! (a host name that arrives later is not looked at).
//!
//! With [`Labeller::release_bytes`], a flow's byte buffers are freed once
//! its label is final and no more bytes are kept for it: a probe holds
//! the first bytes only of flows still undecided. The finished flow then
//! has no bytes.

use std::sync::Arc;

use crate::matcher::Scratch;
use crate::{
    Classification, Classifier, Decision, Flow, FlowMeter, FlowSummary, FlowView, LinkType,
    Timestamp,
};

/// What [`FlowMeter::push_frame_events`] reports.
#[derive(Debug)]
// Events are handed to a callback one at a time, never stored side by
// side; boxing the flow would allocate once per flow for nothing.
#[allow(clippy::large_enum_variant)]
pub enum FlowEvent<'a> {
    /// The flow's label is final. Once per flow, no later than its end.
    Labelled {
        /// The live flow as it is now (counters so far).
        flow: FlowSummary,
        /// Its label.
        classification: &'a Classification,
    },
    /// The flow ended ([`Flow::end`] says why); its label is the one
    /// given in its [`FlowEvent::Labelled`] event.
    Ended {
        /// The finished flow.
        flow: Flow,
        /// Its label.
        classification: Classification,
    },
}

/// The classifier and per-thread state that label live flows.
///
/// ```
/// use dpi_core::{Classifier, FlowConfig, FlowEvent, FlowMeter, Labeller, LinkType, Timestamp};
///
/// let classifier = Classifier::builtin();
/// let mut labeller = Labeller::new(&classifier);
/// let mut meter = FlowMeter::new(FlowConfig::classification());
/// let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
/// let request = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
/// let frames = [
///     dpi_core::testing::tcp_ipv4_frame(c, 40000, s, 80, 1, 1, 0x18, request), // PSH ACK
///     dpi_core::testing::tcp_ipv4_frame(s, 80, c, 40000, 1, 1, 0x11, b""),     // FIN ACK
///     dpi_core::testing::tcp_ipv4_frame(c, 40000, s, 80, 40, 2, 0x11, b""),    // FIN ACK
/// ];
/// let mut log = Vec::new();
/// for (i, f) in frames.iter().enumerate() {
///     meter.push_frame_events(LinkType::ETHERNET, Timestamp::from_micros(i as u64), f, f.len() as u32,
///         &mut labeller, &mut |e| match e {
///             FlowEvent::Labelled { classification, .. } => log.push(format!("{i}: label {}", classification.protocol)),
///             FlowEvent::Ended { flow, .. } => log.push(format!("{i}: end {}", flow.end.as_str())),
///         });
/// }
/// // The close completes the flow's bytes: the label is final; the flow
/// // ends when the linger has passed.
/// assert_eq!(log, ["2: label HTTP"]);
/// meter.expire_events(Timestamp::from_secs_nanos(3, 0), &mut labeller, &mut |e| {
///     if let FlowEvent::Ended { flow, classification } = e {
///         log.push(format!("end {} {}", flow.end.as_str(), classification.protocol));
///     }
/// });
/// assert_eq!(log, ["2: label HTTP", "end closed HTTP"]);
/// ```
pub struct Labeller<'c> {
    classifier: Source<'c>,
    scratch: Scratch,
    release: bool,
}

/// The classifier of a [`Labeller`]: borrowed, or shared so that the
/// labeller can live as long as its owner wants (a probe's state, a
/// binding).
enum Source<'c> {
    Borrowed(&'c Classifier),
    Shared(Arc<Classifier>),
}

impl<'c> Labeller<'c> {
    /// A labeller over `classifier`, keeping the bytes of labelled flows.
    pub fn new(classifier: &'c Classifier) -> Self {
        Labeller {
            classifier: Source::Borrowed(classifier),
            scratch: Scratch::new(),
            release: false,
        }
    }

    /// A labeller that holds its classifier (so it borrows nothing and
    /// can be kept next to a [`FlowMeter`] in one struct).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use dpi_core::{Classifier, FlowConfig, FlowMeter, Labeller};
    ///
    /// struct Probe {
    ///     meter: FlowMeter,
    ///     labeller: Labeller<'static>,
    /// }
    /// let classifier = Arc::new(Classifier::builtin());
    /// let probe = Probe {
    ///     meter: FlowMeter::new(FlowConfig::classification()),
    ///     labeller: Labeller::shared(classifier.clone()),
    /// };
    /// assert_eq!(probe.labeller.classifier().len(), classifier.len());
    /// # drop(probe.meter);
    /// ```
    pub fn shared(classifier: Arc<Classifier>) -> Labeller<'static> {
        Labeller {
            classifier: Source::Shared(classifier),
            scratch: Scratch::new(),
            release: false,
        }
    }

    /// The classifier that labels.
    pub fn classifier(&self) -> &Classifier {
        match &self.classifier {
            Source::Borrowed(c) => c,
            Source::Shared(c) => c,
        }
    }

    /// Frees a flow's byte buffers once its label is final (the finished
    /// flow then carries no bytes).
    pub fn release_bytes(mut self, release: bool) -> Self {
        self.release = release;
        self
    }

    /// The label of a finished flow that had none yet.
    fn at_end(&mut self, flow: &Flow, bytes: usize) -> Classification {
        let classifier = match &self.classifier {
            Source::Borrowed(c) => *c,
            Source::Shared(c) => &**c,
        };
        classifier.classify_flow(flow, bytes, &mut self.scratch).0
    }

    /// The label of a live flow whose bytes were freed with `s` settled.
    fn settled(&self, s: crate::Settled, view: &FlowView<'_>) -> Classification {
        match &self.classifier {
            Source::Borrowed(c) => c.settled_label(s, view),
            Source::Shared(c) => c.settled_label(s, view),
        }
    }

    /// The label of a live flow when it is final.
    fn decide(
        &mut self,
        whole: FlowView<'_>,
        closed: bool,
        bytes: usize,
    ) -> Option<Classification> {
        let view = whole.first_bytes(bytes).with_byte_limit(bytes);
        let classifier = match &self.classifier {
            Source::Borrowed(c) => *c,
            Source::Shared(c) => &**c,
        };
        match classifier.decide_with(&view, closed, &mut self.scratch) {
            Decision::Final(_) => {
                let meta = whole.metadata();
                Some(classifier.classify_with_metadata_in(&view, &meta, &mut self.scratch))
            }
            Decision::Pending(_) => None,
        }
    }
}

/// Hands a finished flow on: its label event first when it had none.
fn ended<E: FnMut(FlowEvent<'_>)>(
    labeller: &mut Labeller<'_>,
    bytes: usize,
    on: &mut E,
    flow: Flow,
    label: Option<Classification>,
) {
    let classification = match label {
        Some(c) => c,
        None => {
            let c = labeller.at_end(&flow, bytes);
            on(FlowEvent::Labelled {
                flow: FlowSummary::from(&flow),
                classification: &c,
            });
            c
        }
    };
    on(FlowEvent::Ended {
        flow,
        classification,
    });
}

impl FlowMeter {
    /// [`push_frame`](Self::push_frame) with events: the label of the
    /// frame's flow when it becomes final, and the flows that end (see
    /// the [module docs](crate::live)). Packets of existing flows allocate
    /// nothing but a direction's buffers, once, when it first needs them,
    /// and the label, once, when it is decided.
    pub fn push_frame_events<E: FnMut(FlowEvent<'_>)>(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        labeller: &mut Labeller<'_>,
        on: &mut E,
    ) {
        let Some(pkt) = self.accept(link, ts, data, orig_len) else {
            return;
        };
        let bytes = self.table().config().payload_bytes;
        let wire = orig_len.max(data.len() as u32);
        let (live, mut finished) = (self.table().len(), 0usize);
        let slot = self
            .table_mut()
            .process_labelled(ts, wire, &pkt, &mut |f, l, _| {
                finished += 1;
                ended(labeller, bytes, on, f, l)
            });
        let Some(slot) = slot else { return };
        if self.table().len() + finished > live {
            // The packet made a flow: what other flows announced comes first.
            self.attach_cross(ts, &pkt);
        }
        let table = self.table_mut();
        if table.is_labelled(slot) {
            return;
        }
        let Some((view, closed)) = table.view_slot(slot) else {
            return;
        };
        // A flow whose bytes went with a settled label
        // (`FlowConfig::release_settled`) has that label, final.
        let decided = match table.settled(slot) {
            Some(s) => Some(labeller.settled(s, &view)),
            None => labeller.decide(view, closed, bytes),
        };
        let Some(c) = decided else {
            return;
        };
        let Some(flow) = table.summary(slot) else {
            return;
        };
        on(FlowEvent::Labelled {
            flow,
            classification: &c,
        });
        table.set_label(slot, c);
        if labeller.release {
            table.release_bytes(slot);
        }
    }

    /// [`expire`](Self::expire) with events.
    pub fn expire_events<E: FnMut(FlowEvent<'_>)>(
        &mut self,
        now: Timestamp,
        labeller: &mut Labeller<'_>,
        on: &mut E,
    ) {
        let bytes = self.table().config().payload_bytes;
        self.table_mut()
            .expire_labelled(now, &mut |f, l, _| ended(labeller, bytes, on, f, l));
    }

    /// [`flush`](Self::flush) with events: every live flow ends.
    pub fn flush_events<E: FnMut(FlowEvent<'_>)>(
        &mut self,
        labeller: &mut Labeller<'_>,
        on: &mut E,
    ) {
        self.drop_fragments();
        let bytes = self.table().config().payload_bytes;
        self.table_mut()
            .flush_labelled(&mut |f, l, _| ended(labeller, bytes, on, f, l));
    }
}
