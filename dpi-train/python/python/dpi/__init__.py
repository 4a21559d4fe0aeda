"""Protocol classification of packet captures: the ``dpi`` command from Python.

``classify`` yields one dict per flow with the keys of
``dpi classify --format jsonl``; ``classify_table`` returns the same flows
as a ``pyarrow.Table`` (the typed columns of ``--format parquet``);
``Classifier`` labels the flows of frames a program hands in one by one;
``eval`` and ``train`` run ``dpi eval`` and ``dpi train`` over a corpus.

Options are the command's long options as keyword arguments, dashes
written as underscores: ``bytes=128`` is ``--bytes 128``, ``sig=["a.rules",
"b.sig"]`` is ``--sig a.rules --sig b.sig``, ``no_metadata=True`` is
``--no-metadata``; ``False`` and ``None`` leave an option out.

>>> import dpi
>>> for flow in dpi.classify("capture.pcap"):          # doctest: +SKIP
...     print(flow["src_ip"], flow["dst_port"], flow["protocol"], flow["app"])
"""

import decimal
import json
import os
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from . import _dpi

__all__ = ["classify", "classify_table", "Classifier", "eval", "train", "DpiError"]

PathLike = Union[str, "os.PathLike[str]"]


class DpiError(RuntimeError):
    """A run that read or wrote something it could not (the details were
    printed on standard error by the run)."""


def _options(options: Dict[str, Any]) -> List[str]:
    words: List[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                words += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        else:
            words += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return words


def _paths(path_or_paths: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    if isinstance(path_or_paths, (str, os.PathLike)):
        return [os.fspath(path_or_paths)]
    paths = [os.fspath(p) for p in path_or_paths]
    if not paths:
        raise ValueError("no capture given")
    return paths


def _call(words: List[str]) -> int:
    try:
        return _dpi.run(words)
    except RuntimeError as e:
        raise DpiError(str(e)) from None


def _run(words: List[str]) -> None:
    if _call(words) != 0:
        raise DpiError("dpi %s failed: see the messages above" % words[0])


def classify(path_or_paths: Union[PathLike, Iterable[PathLike]], **options: Any) -> Iterator[Dict[str, Any]]:
    """Yields one dict per flow of the captures, with the keys of
    ``dpi classify --format jsonl`` (``file``, ``transport``, ``src_ip``,
    ..., ``protocol``, ``app``, ``confidence``, ``reason``, ``hostname``,
    ...). ``options`` are ``dpi classify``'s (``sig``, ``bytes``,
    ``payload``, ``no_metadata``, ...). Raises DpiError when a capture
    cannot be read (after the flows of the others)."""
    paths = _paths(path_or_paths)
    with tempfile.TemporaryDirectory(prefix="dpi-") as d:
        out = os.path.join(d, "flows.jsonl")
        code = _call(["classify", "--format", "jsonl", "-q", "-o", out] + _options(options) + ["--"] + paths)
        with open(out, encoding="utf-8") as f:
            for line in f:
                yield _flow(line)
    if code != 0:
        raise DpiError("dpi classify failed on some capture: see the messages above")


def classify_table(path_or_paths: Union[PathLike, Iterable[PathLike]], **options: Any) -> "Any":
    """The flows of the captures as a ``pyarrow.Table`` with the columns of
    ``dpi classify --format parquet`` (ports as uint16, times as
    timestamp[ns, UTC], sizes as list<uint32>, ...). Needs pyarrow."""
    import pyarrow.parquet as pq

    paths = _paths(path_or_paths)
    with tempfile.TemporaryDirectory(prefix="dpi-") as d:
        out = os.path.join(d, "flows.parquet")
        _run(["classify", "--format", "parquet", "-q", "-o", out] + _options(options) + ["--"] + paths)
        return pq.read_table(out)


_NANOS = decimal.Decimal(1_000_000_000)


def _flow(line: str) -> Dict[str, Any]:
    """One JSON line of a flow as a dict: numbers with a fraction become
    floats, and ``first_ts_ns`` / ``last_ts_ns`` keep the exact nanosecond
    times (integers) that a float of Unix seconds cannot hold."""
    flow = json.loads(line, parse_float=decimal.Decimal)
    exact = {}
    for key, value in flow.items():
        if key in ("first_ts", "last_ts"):
            exact[key + "_ns"] = int(decimal.Decimal(value) * _NANOS)
        if isinstance(value, decimal.Decimal):
            flow[key] = float(value)
    flow.update(exact)
    return flow


def _nanos(timestamp: Union[int, float, decimal.Decimal]) -> int:
    """Unix seconds (an int, a float, or a Decimal for exact fractions) as
    nanoseconds."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float, decimal.Decimal)):
        raise TypeError(f"timestamp {timestamp!r}: not a number of seconds")
    if isinstance(timestamp, float):
        if timestamp != timestamp or timestamp in (float("inf"), float("-inf")):
            raise ValueError(f"timestamp {timestamp}: not a time at or after 1970")
        timestamp = decimal.Decimal(repr(timestamp))
    ns = int(decimal.Decimal(timestamp) * _NANOS)
    if ns < 0:
        raise ValueError(f"timestamp {timestamp}: not a time at or after 1970")
    return ns


class Classifier:
    """Labels flows from frames handed in one at a time.

    >>> c = dpi.Classifier()                               # doctest: +SKIP
    >>> for ts, frame in frames:                           # doctest: +SKIP
    ...     for flow in c.push(frame, ts):
    ...         print(flow["protocol"])
    >>> rest = c.flush()                                   # doctest: +SKIP

    ``sig`` lists signature files (the built-in set when empty);
    ``link_type`` is pcap's link-layer number (1 Ethernet, 101 raw IP, 113
    Linux cooked, ...); ``bytes`` and ``handshake_bytes`` are those of
    ``dpi classify``; ``source`` fills the ``file`` key.
    """

    def __init__(
        self,
        sig: Iterable[PathLike] = (),
        link_type: int = 1,
        bytes: int = 512,
        handshake_bytes: int = 4096,
        metadata: bool = True,
        source: str = "-",
    ) -> None:
        self._inner = _dpi.Classifier(
            [os.fspath(s) for s in sig], link_type, bytes, handshake_bytes, metadata, source
        )

    def push(
        self,
        frame: bytes,
        timestamp: Union[int, float, decimal.Decimal, None] = None,
        wire_length: Optional[int] = None,
        *,
        timestamp_ns: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """Hands in one frame captured at ``timestamp`` (Unix seconds: an
        int, a float, or a ``decimal.Decimal`` for an exact fraction) or at
        ``timestamp_ns`` (Unix nanoseconds, an int: what a capture with
        nanosecond precision holds); returns the flows it finished (idle or
        active timeouts)."""
        if (timestamp is None) == (timestamp_ns is None):
            raise TypeError("push() takes one of timestamp and timestamp_ns")
        if timestamp_ns is None:
            timestamp_ns = _nanos(timestamp)  # type: ignore[arg-type]
        elif isinstance(timestamp_ns, bool) or not isinstance(timestamp_ns, int) or timestamp_ns < 0:
            raise ValueError(f"timestamp_ns {timestamp_ns!r}: not a count of nanoseconds since 1970")
        return [_flow(x) for x in self._inner.push(frame, timestamp_ns, wire_length)]

    def flush(self) -> List[Dict[str, Any]]:
        """Finishes and returns every flow still open."""
        return [_flow(x) for x in self._inner.flush()]


def eval(corpus: PathLike, reference: str = "ndpi", candidate: str = "dpi", **options: Any) -> Dict[str, Any]:
    """Runs ``dpi eval --format json`` over ``corpus`` and returns the
    report as a dict (``coverage``, ``accuracy``, ``precision``,
    ``per_protocol``, ``confusion``, ``confusions``, ...). ``options`` are
    ``dpi eval``'s (``folds``, ``sig``, ``out_dir``, ``top``, ...)."""
    with tempfile.TemporaryDirectory(prefix="dpi-") as d:
        out = os.path.join(d, "eval.json")
        words = ["eval", "--corpus", os.fspath(corpus), "--reference", reference, "--candidate", candidate]
        _run(words + ["--format", "json", "-q", "-o", out] + _options(options))
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def train(corpus: Union[PathLike, Iterable[PathLike]], output: PathLike, **options: Any) -> str:
    """Runs ``dpi train`` over one corpus folder or several and writes the
    std.sig to ``output`` (the rules it cannot carry beside it, with
    extension ``.rules``, unless ``extended_out`` says otherwise); returns
    ``output``. ``options`` are ``dpi train``'s (``reference``, ``base``,
    ``folds``, ``min_precision``, ...)."""
    corpora = _paths(corpus)
    words = ["train"]
    for c in corpora:
        words += ["--corpus", c]
    _run(words + ["-q", "-o", os.fspath(output)] + _options(options))
    return os.fspath(output)
