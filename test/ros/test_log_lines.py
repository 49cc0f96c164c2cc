"""One-line failure texts and warnings throttled by kind."""
from panoptic_ros.image_encoding import ImageEncodingError
from panoptic_ros.ros.log_lines import MAX_CHARS, KindThrottledWarnings, one_line


def test_an_exception_is_one_bounded_line_with_its_type_unless_its_text_says_all():
    assert one_line(RuntimeError("CUDA out of memory\n  more\tlines")) == "RuntimeError: CUDA out of memory more lines"
    assert one_line(ValueError("bad value"), plain=(ValueError,)) == "bad value"
    assert one_line(ImageEncodingError("odd width"), plain=(ValueError,)) == "ImageEncodingError: odd width"
    long = one_line(OSError("x" * 1000))
    assert long == "OSError: " + "x" * MAX_CHARS + "..."


class _Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def warning(self, message: str, **kwargs) -> None:
        self.lines.append((message, kwargs))


def test_each_kind_of_warning_is_said_at_once_then_throttled():
    logger = _Logger()
    warnings = KindThrottledWarnings(logger, period=10.0)
    for message in ("bad frame of 640x480", "bad frame of 320x240", "inference failed: nan", "bad frame of 1x1"):
        warnings.warn(message)
    assert logger.lines == [("bad frame of 640x480", {}), ("bad frame of 320x240", {"throttle_duration_sec": 10.0}),
                            ("inference failed: nan", {}), ("bad frame of 1x1", {"throttle_duration_sec": 10.0})]
