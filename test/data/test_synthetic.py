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


def test_every_category_appears_and_things_occlude_each_other():
    gen = StreetSceneGenerator(128, 256, seed=0)
    seen, occluded, cars_per_image = set(), 0, []
    for i in range(20):
        s = gen.generate(i)
        present = set(np.unique(s.segments).tolist()) - {0}
        seen |= {s.categories[p] for p in present}
        occluded += len(s.categories) - len(present)  # painted over completely by nearer objects
        cars_per_image.append(sum(1 for p in present if s.categories[p] == CAR))
        assert s.image.dtype == np.uint8 and s.image.shape == (128, 256, 3)
        assert (s.segments == 0).mean() < 0.01  # nearly every pixel is labelled
    assert seen == {c.id for c in STREET_CATEGORIES.categories} - {FENCE}  # the generator draws no fences
    stuff = {c.id for c in STREET_CATEGORIES.stuff}
    assert all(list(s.categories.values()).count(c) <= 1 for c in stuff)  # one segment per stuff class
    assert occluded > 0 and max(cars_per_image) >= 5
