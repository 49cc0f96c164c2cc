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


def test_the_reasons_a_node_logged_for_a_camera_s_frames_are_found_once_per_kind():
    from panoptic_ros.ros.log_lines import BAD_FRAME, FAILED_FRAME, frame_warning, logged_reasons
    log = "\n".join(f"[{level}] [1700000000.{k}] [panoptic_node]: {line}" for k, (level, line) in enumerate([
        ("WARN", frame_warning(BAD_FRAME, ["left"], "data has 10 bytes, expected 12")),
        ("WARN", frame_warning(BAD_FRAME, ["left"], "data has 7 bytes, expected 12")),  # the same kind
        ("WARN", frame_warning(BAD_FRAME, ["front"], "not JPEG or PNG")),
        ("WARN", frame_warning(FAILED_FRAME, ["front", "left"], "RuntimeError: out of memory: tried 2 GiB")),
        ("WARN", frame_warning(BAD_FRAME, [""], "unsupported encoding '32FC1'")),
        ("INFO", frame_warning(BAD_FRAME, ["left"], "an INFO line is not a warning")),
        ("WARN", frame_warning(BAD_FRAME, ["left_wide"], "another camera whose name starts alike")),
    ]))
    assert logged_reasons(log, "left", BAD_FRAME) == ["data has 10 bytes, expected 12"]
    assert logged_reasons(log, "left", FAILED_FRAME) == ["RuntimeError: out of memory: tried 2 GiB"]
    assert logged_reasons(log, "", BAD_FRAME) == ["unsupported encoding '32FC1'"]
    assert logged_reasons(log, "rear", BAD_FRAME) == [] and len(logged_reasons(log, "front", BAD_FRAME, limit=0)) == 0
