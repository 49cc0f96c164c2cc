"""Keep camera-sized buffers in the process's heap instead of mapping them afresh for every frame.

glibc serves allocations above ``M_MMAP_THRESHOLD`` (at most 32 MB by its dynamic rule) with a fresh
``mmap`` and returns them with ``munmap`` on free, so every frame at 8 MP (a 33 MB panoptic map, a
25 MB overlay, their messages) pays a page fault per 4 KB page again: measured on the node path at
4096x2048 that made the messages stage 11x and the overlay 4.6x their 2 MP cost, for 4x the pixels.
Raising the threshold and the heap trim threshold lets freed frame buffers be reused; the process
keeps its peak per-frame memory, which a perception node needs again on the next frame anyway.
Threads other than the main one allocate from glibc's secondary arenas, whose heaps hold at most
64 MB: a single buffer above that is still mapped afresh there (8 MP buffers are below it).
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
# allocations up to this come from the heap; older glibc refuses more than 32 MiB on 64-bit (2.36
# accepts 256 MiB), hence the fallback
MMAP_THRESHOLDS = (256 << 20, 32 << 20)
TRIM_THRESHOLD = 1 << 30  # free heap space is returned to the system above 1 GiB only


def keep_frame_buffers() -> bool:
    """Tune glibc's allocator for per-frame buffers (see the module docstring); True if both
    thresholds were set.

    Returns False, changing nothing else, where the C library is not glibc (macOS, musl, Windows).
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mmap_set = any(mallopt(M_MMAP_THRESHOLD, value) for value in MMAP_THRESHOLDS)
    trim_set = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return mmap_set and trim_set
