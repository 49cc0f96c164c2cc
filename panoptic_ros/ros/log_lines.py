"""How the node words its failures in a log: one bounded line per exception, and each kind of problem
said at WARN once, then throttled, so a camera sending bad frames at 30 Hz cannot flood the log."""
from __future__ import annotations

import re
from typing import Any

from panoptic_ros.message_kind import message_kind

BAD_FRAME, FAILED_FRAME = "dropping bad frame", "inference failed on a frame"  # how each warning begins
# a warning about frames, as rclpy's console line ends ("[WARN] [stamp] [node]: <message>"): what, "of
# camera a, b" (named cameras only), ": " and the reason
_FRAME_WARNING = re.compile(rf"^\[WARN\] .*?\]: ({re.escape(BAD_FRAME)}|{re.escape(FAILED_FRAME)})"
                            r"(?: of camera ([^:]+))?: (.*)$")
# rclpy's console output as the parsing above reads it, whatever the user's environment asks for
PLAIN_CONSOLE = {"RCUTILS_COLORIZED_OUTPUT": "0",
                 "RCUTILS_CONSOLE_OUTPUT_FORMAT": "[{severity}] [{time}] [{name}]: {message}"}

MAX_CHARS = 300  # of an exception's text in one line


def one_line(exc: BaseException, plain: tuple[type[BaseException], ...] = ()) -> str:
    """``exc`` as one bounded line: its type name, then its text with whitespace folded. For an
    exception of exactly one of the types in ``plain`` (whose text says all, as a ``ValueError`` of a bad
    parameter does), the text alone; a subclass keeps its name, which may be the news."""
    text = " ".join(str(exc).split())
    text = f"{text[:MAX_CHARS]}{'...' if len(text) > MAX_CHARS else ''}"
    return text if type(exc) in plain else f"{type(exc).__name__}: {text}"


def frame_warning(what: str, cameras: list[str], reason: str) -> str:
    """The node's warning about a frame it could not use: ``what`` (``BAD_FRAME``, ``FAILED_FRAME``), the
    named ones of the cameras whose frames it was (with several cameras, say whose), and why."""
    named = [camera for camera in cameras if camera]
    of = f" of camera {', '.join(named)}" if named else ""
    return f"{what}{of}: {reason}"


def logged_reasons(log: str, camera: str, what: str, limit: int = 5) -> list[str]:
    """Why the node's ``log`` (written with ``PLAIN_CONSOLE``) says it could not use frames of ``camera``
    ("": an unnamed one), for ``what`` (``BAD_FRAME``, ``FAILED_FRAME``), one line per kind of reason, at
    most ``limit``: for a live replay's report, which sees only the counts."""
    reasons: dict[str, str] = {}
    for line in log.splitlines():
        match = _FRAME_WARNING.match(line)
        if match and match[1] == what and camera in (match[2].split(", ") if match[2] else [""]):
            reasons.setdefault(message_kind(match[3]), match[3])
    return list(reasons.values())[:limit]


class KindThrottledWarnings:
    """Warnings to a ROS logger: the first of each kind (its message with the numbers taken out) at
    once, the others at most one line every ``period`` seconds."""

    def __init__(self, logger: Any, period: float = 10.0) -> None:
        self._logger = logger
        self._period = period
        self._seen: set[str] = set()

    def warn(self, message: str) -> None:
        kind = message_kind(message)
        if kind not in self._seen:
            self._seen.add(kind)
            self._logger.warning(message)
        else:
            self._logger.warning(message, throttle_duration_sec=self._period)
