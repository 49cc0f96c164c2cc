"""Copy-paste augmentation: the donor's instances land exactly, with ids of their own, and what they
cover is accounted for."""
import numpy as np
import pytest

from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.copy_paste import paste_things
from panoptic_ros.data.dataset import MixedSource, SyntheticStreetScenes, TrainingDataset
from panoptic_ros.data.sample import PanopticSample

ROAD, CAR, PERSON = 1, 11, 12
THINGS = {CAR, PERSON}


def _sample(segments: np.ndarray, categories: dict[int, int], value: int, crowd: frozenset[int] = frozenset()
            ) -> PanopticSample:
    image = np.full(segments.shape + (3,), value, np.uint8)
    return PanopticSample(image, segments.astype(np.int32), categories, crowd, f"s{value}")


def test_donor_instances_overwrite_the_target_with_new_ids():
    target_seg = np.zeros((6, 8), np.int32)
    target_seg[:, :] = 1          # road
    target_seg[0:2, 0:2] = 2      # a car the donor's car covers entirely
    target_seg[4:6, 6:8] = 3      # a person the donor leaves alone
    target = _sample(target_seg, {1: ROAD, 2: CAR, 3: PERSON}, 10)
    donor_seg = np.full((6, 8), 1, np.int32)  # donor road: never pasted
    donor_seg[0:3, 0:3] = 2                   # donor car, over the target's car
    donor_seg[3, 3] = 3                       # donor crowd person: never pasted
    donor = _sample(donor_seg, {1: ROAD, 2: CAR, 3: PERSON}, 200, crowd=frozenset({3}))

    out = paste_things(target, donor, THINGS)

    pasted = donor_seg == 2
    assert (out.segments[pasted] == 2 + 4).all()  # after the target's largest id 3
    assert (out.segments[~pasted] == target_seg[~pasted]).all()
    assert (out.image[pasted] == 200).all() and (out.image[~pasted] == 10).all()
    assert out.categories == {1: ROAD, 3: PERSON, 6: CAR}  # the covered car is gone
    assert out.crowd == frozenset()


def test_pasted_ids_stay_clear_of_the_targets_unlabelled_ids():
    target_seg = np.full((4, 4), 1, np.int32)
    target_seg[3, 0] = 9  # an id without a category: void
    target = _sample(target_seg, {1: ROAD}, 10)
    donor_seg = np.full((4, 4), 1, np.int32)
    donor_seg[0, 0] = 8
    out = paste_things(target, _sample(donor_seg, {1: ROAD, 8: CAR}, 99), THINGS)
    assert out.segments[0, 0] == 18 and out.segments[3, 0] == 9 and out.categories == {1: ROAD, 18: CAR}


def test_target_crowd_kept_while_visible_and_nothing_to_paste_returns_the_target():
    target_seg = np.full((4, 4), 1, np.int32)
    target_seg[0, 0] = 5
    target = _sample(target_seg, {1: ROAD, 5: CAR}, 10, crowd=frozenset({5}))
    no_things = _sample(np.full((4, 4), 1, np.int32), {1: ROAD}, 99)
    assert paste_things(target, no_things, THINGS) is target
    donor_seg = np.full((4, 4), 1, np.int32)
    donor_seg[3, 3] = 2
    out = paste_things(target, _sample(donor_seg, {1: ROAD, 2: PERSON}, 99), THINGS)
    assert out.crowd == frozenset({5}) and out.categories[8] == PERSON


def test_samples_of_different_sizes_are_refused():
    a = _sample(np.ones((4, 4), np.int32), {1: ROAD}, 1)
    b = _sample(np.ones((4, 5), np.int32), {1: ROAD}, 1)
    with pytest.raises(ValueError, match="one size"):
        paste_things(a, b, THINGS)


def _instances(dataset: TrainingDataset, epoch: int, count: int) -> int:
    return sum(len(dataset[(epoch, i)].labels) for i in range(count))


def test_training_dataset_pastes_from_the_items_own_source():
    scenes = SyntheticStreetScenes(6, seed=1, height=64, width=128)
    augmentation = Augmentation(scale=(1.0, 1.0), crop=(64, 128))
    plain = TrainingDataset(scenes, augmentation, seed=0)
    pasting = TrainingDataset(scenes, augmentation, seed=0, copy_paste=1.0)
    assert _instances(pasting, 0, 6) > _instances(plain, 0, 6)
    never = TrainingDataset(scenes, augmentation, seed=0, copy_paste=0.0)
    first = plain[(0, 2)]
    assert np.array_equal(never[(0, 2)].image, first.image)  # no paste: the stream is unchanged

    # a thingless source mixed in: its items never gain instances, the scenes' items do
    mixed = MixedSource([scenes, _RoadOnly(scenes.categories)], [1.0, 1.0], seed=0)
    plain, pasting = (TrainingDataset(mixed, augmentation, seed=0, copy_paste=p) for p in (0.0, 1.0))
    road_items = [i for i in range(len(mixed)) if mixed.which[i] == 1]
    scene_items = [i for i in range(len(mixed)) if mixed.which[i] == 0]
    assert road_items and scene_items
    assert all(len(pasting[(0, i)].labels) == 0 for i in road_items)
    assert sum(len(pasting[(0, i)].labels) for i in scene_items) > sum(len(plain[(0, i)].labels) for i in scene_items)


class _RoadOnly:
    """Samples of road alone, in the scenes' category table."""

    def __init__(self, categories) -> None:
        self.categories = categories

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> PanopticSample:
        return _sample(np.ones((64, 128), np.int32), {1: ROAD}, 50)
