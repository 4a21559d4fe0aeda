//! Signatures: one model, with codecs for argus std.sig and the extended format.
