# dpi std.sig: the cumulative signature set learnt by `dpi train`, in
# argus's service-signature grammar (readable by raservices -f std.sig).
#
# Each line: Service: NAME tcp|udp port PORT n = SUPPORT [src = "HEX"] [dst = "HEX"] [encrypted]
# See signatures/README.md for the grammar. Training merges new signatures
# into this file; hand-made rules live in default.rules (extended format).
