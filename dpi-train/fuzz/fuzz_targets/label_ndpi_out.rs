//! Arbitrary bytes as a label file for the `ndpi_out` importer: see the checks
//! of `dpi_train_fuzz::check`.
#![no_main]

use dpi_train_fuzz::labels::LabelSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dpi_train_fuzz::check(LabelSource::NdpiOut, data));
