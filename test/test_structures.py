import numpy as np
import torch

from panoptic_ros.structures import ID_DIVISOR, VOID_ID, category_of, instance_of, panoptic_id


def test_panoptic_ids_round_trip_in_numpy_and_torch():
    cats, inst = [11, 11, 1, 255], [1, 999, 0, 3]
    for array in (np.array, torch.tensor):
        ids = panoptic_id(array(cats), array(inst))
        assert ids.tolist() == [11001, 11999, 1000, 255003]
        assert category_of(ids).tolist() == cats and instance_of(ids).tolist() == inst
    assert VOID_ID < 0 < ID_DIVISOR
