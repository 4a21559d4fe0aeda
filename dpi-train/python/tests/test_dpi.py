"""The Python package against the dpi binary on the project's sample captures.

The binary is DPI_BIN, else target/release/dpi at the top of the
repository (``cargo build --release`` makes it).
"""

import collections
import decimal
import json
import os
import struct
import subprocess

import pytest

import dpi

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SAMPLES = os.path.join(ROOT, "corpus", "samples")
DPI_BIN = os.environ.get("DPI_BIN", os.path.join(ROOT, "target", "release", "dpi"))


def samples():
    names = sorted(n for n in os.listdir(SAMPLES) if n.endswith((".pcap", ".pcapng")))
    assert names, "no sample captures in " + SAMPLES
    return [os.path.join(SAMPLES, n) for n in names]


def cli_lines(path, *options):
    if not os.path.exists(DPI_BIN):
        pytest.fail("the dpi binary is missing: %s (cargo build --release, or set DPI_BIN)" % DPI_BIN)
    out = subprocess.run(
        [DPI_BIN, "classify", "-q", "--format", "jsonl", *options, path],
        check=True,
        capture_output=True,
    ).stdout
    return out.splitlines()


def cli_flows(path, *options):
    return [json.loads(line) for line in cli_lines(path, *options)]


def without_ns(flows):
    """The flows without the exact-time keys the dicts add to the JSON lines."""
    return [{k: v for k, v in f.items() if not k.endswith("_ts_ns")} for f in flows]


def key(flow):
    return (flow["transport"], flow["src_ip"], flow["src_port"], flow["dst_ip"], flow["dst_port"], flow["vlan"])


@pytest.mark.parametrize("path", samples(), ids=os.path.basename)
def test_classify_gives_the_cli_protocol_per_flow(path):
    ours = list(dpi.classify(path))
    theirs = cli_flows(path)
    assert len(ours) == len(theirs) > 0
    # Same flows, same order, same labels and fields; the dicts add the
    # exact times in nanoseconds.
    assert without_ns(ours) == theirs
    for f, line in zip(ours, cli_lines(path)):
        text = json.loads(line, parse_float=str)
        for k in ("first_ts", "last_ts"):
            whole, _, frac = text[k].partition(".")
            assert f[k + "_ns"] == int(whole) * 10**9 + int((frac + "000000000")[:9])
    assert {"protocol", "app", "confidence", "reason", "hostname", "c2s_sizes"} <= set(ours[0])


def test_options_reach_the_command():
    path = samples()[0]
    plain = list(dpi.classify(path))
    with_payload = list(dpi.classify(path, payload=True, bytes=16))
    assert "c2s_payload" not in plain[0]
    assert all(len(f["c2s_payload"]) <= 32 for f in with_payload)
    assert without_ns(with_payload) == cli_flows(path, "--payload", "--bytes", "16")
    no_meta = list(dpi.classify(path, no_metadata=True))
    assert all(f["hostname"] is None for f in no_meta)


def test_classify_table_matches_the_dicts():
    pa = pytest.importorskip("pyarrow")
    paths = samples()
    table = dpi.classify_table(paths)
    flows = list(dpi.classify(paths))
    assert table.num_rows == len(flows)
    assert table.column("protocol").to_pylist() == [f["protocol"] for f in flows]
    assert table.schema.field("src_port").type == pa.uint16()
    assert table.schema.field("c2s_sizes").type == pa.list_(pa.uint32())
    assert table.column("c2s_sizes").to_pylist() == [f["c2s_sizes"] for f in flows]


def pcap_frames(path):
    """(timestamp in nanoseconds, frame, wire length) of a classic pcap
    file, and its link type."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1000),
        b"\xa1\xb2\xc3\xd4": (">", 1000),
        b"\x4d\x3c\xb2\xa1": ("<", 1),
        b"\xa1\xb2\x3c\x4d": (">", 1),
    }
    endian, unit = formats[magic]
    link = struct.unpack(endian + "I", data[20:24])[0]
    frames = []
    at = 24
    while at + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", data[at : at + 16])
        at += 16
        frames.append((sec * 10**9 + frac * unit, data[at : at + caplen], wirelen))
        at += caplen
    return link, frames


def test_classifier_fed_frame_by_frame_labels_as_the_cli():
    pcaps = [p for p in samples() if p.endswith(".pcap")]
    assert pcaps
    for path in pcaps:
        link, frames = pcap_frames(path)
        c = dpi.Classifier(link_type=link, source=path)
        flows = []
        for ns, frame, wirelen in frames:
            flows += c.push(frame, timestamp_ns=ns, wire_length=wirelen)
        flows += c.flush()
        theirs = list(dpi.classify(path))
        labels = lambda fs: collections.Counter(
            (key(f), f["protocol"], f["app"], f["first_ts_ns"], f["last_ts_ns"]) for f in fs
        )
        assert labels(flows) == labels(theirs), path


def test_classifier_takes_seconds_in_every_number_type():
    path = [p for p in samples() if p.endswith(".pcap")][0]
    link, frames = pcap_frames(path)
    ns, frame, wirelen = frames[0]
    exact = decimal.Decimal(ns) / 10**9
    for ts in (exact, float(exact)):
        c = dpi.Classifier(link_type=link)
        c.push(frame, ts, wirelen)
        (flow,) = c.flush()
        # A float holds the time to within a microsecond.
        assert abs(flow["first_ts_ns"] - ns) <= (0 if ts is exact else 1000)
    c = dpi.Classifier(link_type=link)
    c.push(frame, ns // 10**9, wirelen)
    assert c.flush()[0]["first_ts_ns"] == ns // 10**9 * 10**9


def test_bad_input_raises():
    with pytest.raises(ValueError):
        list(dpi.classify(samples()[0], no_such_option=1))
    with pytest.raises(dpi.DpiError):
        list(dpi.classify(os.path.join(SAMPLES, "MANIFEST.md")))
    with pytest.raises(ValueError):
        dpi.Classifier(sig=["/nonexistent/x.rules"])
    with pytest.raises(ValueError):
        dpi.Classifier().push(b"\x00" * 20, -1.0)
    with pytest.raises(ValueError):
        dpi.Classifier().push(b"\x00" * 20, float("nan"))
    with pytest.raises(TypeError):
        dpi.Classifier().push(b"\x00" * 20)
    with pytest.raises(TypeError):
        dpi.Classifier().push(b"\x00" * 20, 1.0, timestamp_ns=1)
    with pytest.raises(dpi.DpiError):
        dpi.eval(os.path.join(ROOT, "no-such-corpus"))


def mini_corpus(tmp_path, names):
    """A corpus folder of a few nDPI corpus captures (symbolic links)."""
    corpus = os.environ.get("DPI_CORPUS")
    if not corpus:
        pytest.skip("DPI_CORPUS is not set")
    src = os.path.join(corpus, "ndpi")
    for sub, ext in (("pcap", ""), ("expected", ".out")):
        os.makedirs(tmp_path / sub)
        for n in names:
            os.symlink(os.path.join(src, sub, n + ext), tmp_path / sub / (n + ext))
    return tmp_path


CAPTURES = ["1kxun.pcap", "443-chrome.pcap", "443-curl.pcap", "443-firefox.pcap", "4in4tunnel.pcap"]


def test_eval_is_the_commands_report(tmp_path):
    corpus = mini_corpus(tmp_path / "corpus", CAPTURES)
    ours = dpi.eval(corpus, reference="ndpi", candidate="dpi", top=5)
    out = subprocess.run(
        [DPI_BIN, "eval", "-q", "--corpus", str(corpus), "--reference", "ndpi", "--candidate", "dpi", "--top", "5", "--format", "json"],
        check=True,
        capture_output=True,
    ).stdout
    theirs = json.loads(out)
    assert ours["flows"] > 0
    for k in ("flows", "named", "correct", "per_protocol", "confusion", "confusions"):
        assert ours[k] == theirs[k], k


def test_train_writes_what_the_command_writes(tmp_path):
    corpus = mini_corpus(tmp_path / "corpus", CAPTURES)
    ours = tmp_path / "ours.sig"
    theirs = tmp_path / "theirs.sig"
    assert dpi.train(corpus, ours, folds=2) == str(ours)
    subprocess.run(
        [DPI_BIN, "train", "-q", "--corpus", str(corpus), "--folds", "2", "-o", str(theirs)],
        check=True,
        capture_output=True,
    )
    body = lambda p: [l for l in open(p, encoding="utf-8") if not l.startswith("#")]
    assert body(ours), "nothing learnt"
    assert body(ours) == body(theirs)
    assert os.path.exists(str(ours)[: -len(".sig")] + ".rules")
