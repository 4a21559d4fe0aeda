//! A capture's reference records, read from a corpus folder.
//!
//! libprotoident and argus have one file per capture. nDPI may have three:
//! the verbose text (`expected/<capture>.out`: labels and confidence, no
//! timestamps), the JSON lines and the CSV (timestamps; the JSON also has
//! the confidence). The text, when present, gives the records; the JSON
//! (or, without it, the CSV) of the same run adds their timestamps, flow
//! ids and VLAN ids, joined on the directed 5-tuple and the packet
//! counters. Without the text, the JSON (or the CSV) gives the records.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::labels::{self, Corpus, ImportError, LabelRecord, LabelSource, NameRegistry, Tool};

/// The records of `tool` for `capture`, with the counts of lines that
/// could not be read; `None` when the tool left no file for it.
pub fn load(
    corpus: &Corpus,
    capture: &str,
    tool: Tool,
    registry: &NameRegistry,
) -> Result<Option<labels::ParsedLabels>, ImportError> {
    let import = |source: LabelSource| -> Result<Option<labels::ParsedLabels>, ImportError> {
        corpus
            .label_file(capture, source)
            .map(|p| labels::import_file(source, &p, registry))
            .transpose()
    };
    match tool {
        Tool::Lpi => import(LabelSource::Lpi),
        Tool::Argus => import(LabelSource::Argus),
        Tool::Ndpi => {
            let timed = match import(LabelSource::NdpiJson)? {
                Some(j) => Some(j),
                None => import(LabelSource::NdpiCsv)?,
            };
            match (import(LabelSource::NdpiOut)?, timed) {
                (Some(mut text), Some(timed)) => {
                    add_times(&mut text.records, &timed.records);
                    Ok(Some(text))
                }
                (Some(text), None) => Ok(Some(text)),
                (None, timed) => Ok(timed),
            }
        }
    }
}

type Directed = (u8, IpAddr, u16, IpAddr, u16);

fn directed(r: &LabelRecord) -> Directed {
    (r.transport, r.src_ip, r.src_port, r.dst_ip, r.dst_port)
}

fn counters(r: &LabelRecord) -> (Option<u64>, Option<u64>, Option<u64>, Option<u64>) {
    (r.src_packets, r.src_bytes, r.dst_packets, r.dst_bytes)
}

/// Copies timestamps, flow ids and VLAN ids from `timed` (nDPI's JSON or
/// CSV) onto the matching records of `text` (nDPI's `.out`). A record
/// takes the first unused timed record with the same directed 5-tuple and
/// counters, or failing that, the same directed 5-tuple.
pub fn add_times(text: &mut [LabelRecord], timed: &[LabelRecord]) {
    let mut by_key: HashMap<Directed, Vec<usize>> = HashMap::new();
    for (i, r) in timed.iter().enumerate() {
        by_key.entry(directed(r)).or_default().push(i);
    }
    let mut used = vec![false; timed.len()];
    let mut pending = Vec::new();
    for (ti, r) in text.iter().enumerate() {
        let Some(cands) = by_key.get(&directed(r)) else {
            continue;
        };
        match cands
            .iter()
            .copied()
            .find(|&i| !used[i] && counters(&timed[i]) == counters(r))
        {
            Some(i) => {
                used[i] = true;
                pending.push((ti, i));
            }
            None => pending.push((ti, usize::MAX)),
        }
    }
    for (ti, i) in pending.iter_mut() {
        if *i == usize::MAX {
            let key = directed(&text[*ti]);
            if let Some(&j) = by_key[&key].iter().find(|&&j| !used[j]) {
                used[j] = true;
                *i = j;
            }
        }
    }
    for (ti, i) in pending {
        if i == usize::MAX {
            continue;
        }
        let src = &timed[i];
        let dst = &mut text[ti];
        dst.first_ts = dst.first_ts.or(src.first_ts);
        dst.last_ts = dst.last_ts.or(src.last_ts);
        dst.flow_id = dst.flow_id.or(src.flow_id);
        dst.vlan = dst.vlan.or(src.vlan);
        if dst.confidence.is_none() {
            dst.confidence.clone_from(&src.confidence);
        }
    }
}
