import pytest
import torch

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.street_categories import STREET_CATEGORIES


def test_channel_category_ids_are_made_once_per_device():
    """Results need the table every frame; on a GPU building it from host data would wait each time."""
    ids = STREET_CATEGORIES.channel_category_ids("cpu")
    assert ids.tolist() == [c.id for c in STREET_CATEGORIES.stuff + STREET_CATEGORIES.things]
    assert STREET_CATEGORIES.channel_category_ids(torch.device("cpu")) is ids


def test_two_categories_of_one_name_are_refused():
    with pytest.raises(ValueError, match="names must be unique"):
        CategoryTable((Category(1, "road", False, (0, 0, 0)), Category(2, "road", True, (0, 0, 0))))
