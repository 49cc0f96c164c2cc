from __future__ import annotations

import pytest

from helpers import small_categories, small_model_config
from panoptic_ros.categories import CategoryTable
from panoptic_ros.config import ModelConfig


@pytest.fixture
def categories() -> CategoryTable:
    return small_categories()


@pytest.fixture
def model_config() -> ModelConfig:
    return small_model_config()
