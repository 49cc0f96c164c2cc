"""Device resolution: a GPU named with or without its index, made the current device (faked here)."""
import pytest
import torch

from panoptic_ros.device import resolve_device


@pytest.mark.parametrize("name,current", [("cuda", []), ("cuda:1", [1]), ("auto", [])])
def test_a_gpu_named_with_or_without_an_index_resolves_and_an_index_becomes_current(name, current, monkeypatch):
    made_current = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", made_current.append)
    assert resolve_device(name).type == "cuda" and made_current == current


def test_cpu_threads_are_set_for_the_process_and_0_gives_back_pytorch_s_own_choice():
    from panoptic_ros.device import DEFAULT_CPU_THREADS, set_cpu_threads
    try:
        set_cpu_threads(1)
        assert torch.get_num_threads() == 1
        set_cpu_threads(0)
        assert torch.get_num_threads() == DEFAULT_CPU_THREADS
    finally:
        set_cpu_threads(0)
