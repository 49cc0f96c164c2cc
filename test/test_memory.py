import ctypes
import ctypes.util
import platform

import pytest

from panoptic_ros import memory

LIBC, LIBC_VERSION = platform.libc_ver()
# glibc 2.35 accepts the 256 MiB threshold (older ones cap it at 32 MiB) and has mallinfo2 (2.33)
GLIBC_2_35 = LIBC == "glibc" and tuple(map(int, LIBC_VERSION.split(".")[:2])) >= (2, 35)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


@pytest.mark.skipif(not GLIBC_2_35, reason="glibc 2.35 or newer")
def test_a_frame_sized_buffer_comes_from_the_heap_after_the_set_up():
    assert memory.keep_frame_buffers()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    mapped = libc.mallinfo2().hblks
    buffer = libc.malloc(40 << 20)  # above the 32 MiB that glibc's own dynamic threshold can reach
    try:
        assert libc.mallinfo2().hblks == mapped  # not a fresh mapping
    finally:
        libc.free(buffer)


def test_without_a_usable_c_library_nothing_changes(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "/nonexistent/libc.so")
    assert memory.keep_frame_buffers() is False
