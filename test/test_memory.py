import ctypes.util
import sys

import pytest

from panoptic_ros import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_frame_buffers_are_kept_with_glibc():
    assert memory.keep_frame_buffers()


def test_without_a_usable_c_library_nothing_changes(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "/nonexistent/libc.so")
    assert memory.keep_frame_buffers() is False
