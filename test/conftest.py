from __future__ import annotations

import os
import signal

import pytest

from helpers import small_categories, small_model_config
from panoptic_ros.categories import CategoryTable
from panoptic_ros.config import ModelConfig

# The tests' own DDS participants (clients in this process) stay on loopback, as their nodes do
# (``ros_harness.isolated_ros_env``): read when a participant is created, so set before any test.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


@pytest.fixture
def categories() -> CategoryTable:
    return small_categories()


@pytest.fixture
def model_config() -> ModelConfig:
    return small_model_config()


@pytest.fixture
def fresh_dispositions():
    """SIGINT and SIGTERM as a fresh interpreter has them, and as they were afterwards."""
    previous = {s: signal.signal(s, d) for s, d in ((signal.SIGINT, signal.default_int_handler),
                                                     (signal.SIGTERM, signal.SIG_DFL))}
    yield
    for signum, disposition in previous.items():
        signal.signal(signum, disposition)
