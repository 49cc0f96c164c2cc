"""Keep camera-sized buffers in the process's heap instead of mapping them afresh for every frame.

glibc serves allocations above ``M_MMAP_THRESHOLD`` (at most 32 MB by its dynamic rule) with a fresh
``mmap`` and returns them with ``munmap`` on free, so every frame at 8 MP (a 32 MB panoptic map, a
24 MB overlay, their messages) pays a page fault per 4 KB page again: measured on the node path at
4096x2048 that made the messages stage 11x and the overlay 4.6x their 2 MP cost, for 4x the pixels.
Raising the threshold and the heap trim threshold lets freed frame buffers be reused; the process
keeps its peak per-frame memory, which a perception node needs again on the next frame anyway.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 256 << 20  # allocations up to 256 MiB come from the heap
TRIM_THRESHOLD = 1 << 30    # free heap space is returned to the system above 1 GiB only


def keep_frame_buffers() -> bool:
    """Tune glibc's allocator for per-frame buffers (see the module docstring); True if applied.

    A no-op returning False where the C library is not glibc (macOS, musl): nothing else changes.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
