"""When two messages about bad input are "the same kind": their text with the numbers taken out.

A camera sending corrupt JPEGs gives a message per frame that differs only in its byte count; the node's
log (``ros.log_lines``) and the replay's report (``replay.report``) say each kind once, with a count,
instead of once per frame.
"""
from __future__ import annotations

import re

KIND_CHARS = 160  # of a message's start that decides its kind (a camera list and a reason fit)


def message_kind(message: str) -> str:
    """``message``'s kind: its first ``KIND_CHARS`` characters, every run of digits as ``N``."""
    return re.sub(r"\d+", "N", message)[:KIND_CHARS]
