//! Reference labels from other classifiers (nDPI, libprotoident, argus).
//!
//! Each importer reads one output format of one tool and returns
//! [`ParsedLabels`]: one [`LabelRecord`] per flow (or per argus record),
//! plus the lines it could not read ([`LineError`], with file, line and
//! reason) and the count of records it skipped because they are not IP.
//! A malformed line never stops an import; a file of another format, or one
//! that lacks a column the importer needs, is an [`ImportError`]. So is an
//! incomplete file: one whose last line has no line end (the tools end
//! every line, so the file was cut there), or an ndpiReader `.out` whose
//! flow lines disagree with the flow counts of its own header; that error
//! carries the records read ([`ImportError::partial`]). An empty file is
//! valid and holds no records (tools leave empty files for captures with
//! no flow). Lines may end in `\n`, `\r\n` or `\r`.
//!
//! | tool | format | module |
//! | --- | --- | --- |
//! | nDPI | `ndpiReader -v 2` verbose text (`.out`) | [`ndpi_out`] |
//! | nDPI | `ndpiReader -C` CSV (4.2 and 4.11 headers) | [`ndpi_csv`] |
//! | nDPI | `ndpiReader -k` JSON lines | [`ndpi_json`] |
//! | libprotoident | `lpi_protoident` 16-field lines | [`lpi`] |
//! | argus | `raservices` tab-separated records with a header | [`argus`] |
//!
//! Protocol names of libprotoident and argus are translated to nDPI's
//! spelling through a [`NameRegistry`] (the data file
//! `signatures/protocol-names.csv`, embedded as the default). Names that the
//! registry does not know are counted in [`ParsedLabels::unmapped`], never
//! guessed.
//!
//! [`corpus`] finds label files in a corpus folder.

pub mod argus;
pub mod corpus;
mod error;
pub mod lpi;
pub mod ndpi_csv;
pub mod ndpi_json;
pub mod ndpi_out;
mod record;
pub mod registry;
mod text;

pub use corpus::{Corpus, LabelSource};
pub use error::{ImportError, LineError};
pub use record::{LabelRecord, LpiPayload, ParsedLabels, Tool, MALFORMED_KEPT};
pub use registry::{Mapping, NameRegistry};

use std::path::Path;

/// Imports one label file in the format `source` says.
///
/// libprotoident and argus names are translated with `registry`; nDPI
/// importers do not need it.
pub fn import_file(
    source: LabelSource,
    path: &Path,
    registry: &NameRegistry,
) -> Result<ParsedLabels, ImportError> {
    match source {
        LabelSource::NdpiOut => ndpi_out::parse_file(path),
        LabelSource::NdpiCsv => ndpi_csv::parse_file(path),
        LabelSource::NdpiJson => ndpi_json::parse_file(path),
        LabelSource::Lpi => lpi::parse_file(path, registry),
        LabelSource::Argus => argus::parse_file(path, registry),
    }
}

/// Imports the contents of a label file in the format `source` says;
/// `path` names it in records and messages (its file name gives the
/// capture name, as for [`import_file`]).
pub fn import_bytes(
    source: LabelSource,
    path: &Path,
    data: &[u8],
    registry: &NameRegistry,
) -> Result<ParsedLabels, ImportError> {
    let capture = text::capture_name(path);
    match source {
        LabelSource::NdpiOut => ndpi_out::parse_bytes(path, &capture, data),
        LabelSource::NdpiCsv => ndpi_csv::parse_bytes(path, &capture, data),
        LabelSource::NdpiJson => ndpi_json::parse_bytes(path, &capture, data),
        LabelSource::Lpi => lpi::parse_bytes(path, &capture, data, registry),
        LabelSource::Argus => argus::parse_bytes(path, &capture, data, registry),
    }
}
