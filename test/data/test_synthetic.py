import numpy as np

from panoptic_ros.data.street_categories import CAR, FENCE, STREET_CATEGORIES
from panoptic_ros.data.synthetic import StreetSceneGenerator


def test_scenes_are_deterministic_per_seed_and_index():
    a, b = StreetSceneGenerator(64, 128, seed=1), StreetSceneGenerator(64, 128, seed=1)
    s1, s2 = a.generate(3), b.generate(3)
    assert np.array_equal(s1.image, s2.image) and np.array_equal(s1.segments, s2.segments)
    assert s1.categories == s2.categories
    assert not np.array_equal(s1.image, a.generate(4).image)
    assert not np.array_equal(s1.image, StreetSceneGenerator(64, 128, seed=2).generate(3).image)


def _boxes_overlap(segments: np.ndarray, ids: list[int]) -> bool:
    boxes = []
    for sid in ids:
        ys, xs = np.nonzero(segments == sid)
        boxes.append((xs.min(), ys.min(), xs.max(), ys.max()))
    return any(a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
               for k, a in enumerate(boxes) for b in boxes[k + 1:])


def test_every_category_appears_and_things_occlude_each_other():
    gen = StreetSceneGenerator(128, 256, seed=0)
    seen, overlapping, cars_per_image = set(), 0, []
    for i in range(20):
        s = gen.generate(i)
        present = set(np.unique(s.segments).tolist()) - {0}
        assert set(s.categories) == present  # a segment painted over entirely is not listed (no phantom FN in PQ)
        seen |= {s.categories[p] for p in present}
        cars = [p for p in present if s.categories[p] == CAR]
        overlapping += _boxes_overlap(s.segments, cars)
        cars_per_image.append(len(cars))
        assert s.image.dtype == np.uint8 and s.image.shape == (128, 256, 3)
        assert (s.segments == 0).mean() < 0.01  # nearly every pixel is labelled
    assert seen == {c.id for c in STREET_CATEGORIES.categories} - {FENCE}  # the generator draws no fences
    stuff = {c.id for c in STREET_CATEGORIES.stuff}
    assert all(list(s.categories.values()).count(c) <= 1 for c in stuff)  # one segment per stuff class
    assert overlapping > 0 and max(cars_per_image) >= 5
