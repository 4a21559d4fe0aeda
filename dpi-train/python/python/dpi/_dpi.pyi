"""Type stubs of the native module of the dpi package."""

from typing import List, Optional

def run(args: List[str]) -> int:
    """Runs ``dpi ARGS...`` (classify, extract, eval or train); returns the
    exit status, 0 or 1. Raises ValueError for a wrong command line and
    RuntimeError for a failed run."""

class Classifier:
    """Labels the flows of frames handed in one by one; flows come back as
    JSON lines with the keys of ``dpi classify --format jsonl``."""

    def __init__(
        self,
        sig: List[str] = ...,
        link_type: int = ...,
        bytes: int = ...,
        handshake_bytes: int = ...,
        metadata: bool = ...,
        source: str = ...,
    ) -> None: ...
    def push(self, frame: bytes, timestamp_ns: int, wire_length: Optional[int] = ...) -> List[str]:
        """Hands in one frame captured at ``timestamp_ns`` (Unix
        nanoseconds); the JSON lines of the flows it finished."""
    def flush(self) -> List[str]:
        """Finishes every live flow; their JSON lines."""
