//! Reference labels from other classifiers (nDPI, libprotoident, argus).
