"""Data sources by config, weighted mixtures, and class-balancing weights."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers import small_categories
from panoptic_ros.categories import CategoryTable
from panoptic_ros.config import DataConfig, SourceConfig
from panoptic_ros.data.dataset import (
    HELD_OUT_SEED, MixedSource, SyntheticStreetScenes, balanced_class_weights, build_source, build_training_source,
    class_frequencies, same_data,
)
from panoptic_ros.data.sample import PanopticSample, to_training_arrays


class _Constant:
    """A source whose every sample is one colour, to see which source an item came from."""

    def __init__(self, value: int, count: int, categories=None) -> None:
        self.value, self.count = value, count
        self.categories = categories or SyntheticStreetScenes.categories

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> PanopticSample:
        return PanopticSample(np.full((2, 2, 3), self.value, np.uint8), np.full((2, 2), i + 1, np.int32),
                              {i + 1: 1})


def test_sources_are_drawn_by_weight_deterministically_and_cycle_through_small_ones():
    mix = MixedSource([_Constant(0, 10), _Constant(1, 990)], [3.0, 1.0], seed=4)
    assert len(mix) == 1000
    which = np.array([mix[i].image[0, 0, 0] for i in range(len(mix))])
    assert 0.7 < (which == 0).mean() < 0.8
    small = [int(mix[i].segments[0, 0]) for i in range(len(mix)) if which[i] == 0]
    assert set(small) == set(range(1, 11))  # every item of the small source is used, evenly
    assert max(np.bincount(small)) - min(np.bincount(small)[1:]) <= 1
    again = MixedSource([_Constant(0, 10), _Constant(1, 990)], [3.0, 1.0], seed=4)
    assert [again[i].segments[0, 0] for i in range(len(mix))] == [mix[i].segments[0, 0] for i in range(len(mix))]


def test_a_large_light_source_is_sampled_anew_each_epoch_until_all_of_it_is_seen():
    """About 250 slots a epoch for a 990-scene source: four epochs see each scene once."""
    mix = MixedSource([_Constant(0, 10), _Constant(1, 990)], [3.0, 1.0], seed=4)
    large = [i for i in range(len(mix)) if mix[i].image[0, 0, 0] == 1]
    epochs = [[int(mix.at(epoch, i).segments[0, 0]) for i in large] for epoch in range(4)]
    assert len(set(epochs[0]) & set(epochs[1])) == 0  # the next epoch, other scenes
    seen = [scene for epoch in epochs for scene in epoch]
    assert len(set(seen)) == min(len(seen), 990)


def test_mixing_needs_the_same_classes_in_any_order_and_colours():
    with pytest.raises(ValueError, match=r"data source 0's categories differ from data source 1's: .* \(id, name"):
        MixedSource([_Constant(0, 2), _Constant(1, 2, small_categories())], [1.0, 1.0])
    street = SyntheticStreetScenes.categories
    relabelled = CategoryTable(tuple(dataclasses.replace(c, color=(1, 2, 3)) for c in reversed(street.categories)))
    mix = MixedSource([_Constant(0, 2, relabelled), _Constant(1, 2)], [1.0, 1.0])
    assert mix.categories is relabelled  # the first source's order: its channels
    model = CategoryTable(street.categories[1:] + street.categories[:1])
    mix = MixedSource([_Constant(0, 2, relabelled), _Constant(1, 2)], [1.0, 1.0], categories=model)
    assert mix.categories is model
    sample = mix[0]  # category 1 (a sample's only segment) at the model's channel for it
    assert (to_training_arrays(sample, mix.categories).semantic == model.semantic_index()[1]).all()
    assert build_training_source(DataConfig((SourceConfig(images=2),)), categories=model).categories is model


def test_an_empty_source_or_weights_without_mass_are_refused_by_name():
    with pytest.raises(ValueError, match=r"source\(s\) \[1\] .* hold no samples"):
        MixedSource([_Constant(0, 2), _Constant(1, 0)], [1.0, 1.0])
    with pytest.raises(ValueError, match="positive sum"):
        MixedSource([_Constant(0, 2)], [0.0])


def test_synthetic_held_out_split_is_another_seed_range():
    train = build_source(SourceConfig(images=3, height=32, width=64))
    held_out = build_source(SourceConfig(split="heldout", images=3, height=32, width=64))
    assert held_out.generator.seed == HELD_OUT_SEED and train.generator.seed == 0
    assert not np.array_equal(train[0].image, held_out[0].image)
    with pytest.raises(ValueError, match="train or heldout"):
        build_source(SourceConfig(split="val"))


def test_a_coco_panoptic_split_is_refused_rather_than_ignored(tmp_path):
    """Its root is one split's folder: ``split: val`` beside the training root would read the same files."""
    with pytest.raises(ValueError, match="coco_panoptic has no split \\('val' given\\): its root names"):
        build_source(SourceConfig(kind="coco_panoptic", root=str(tmp_path), split="val"))


@pytest.mark.parametrize("other, same", [
    ({}, True), ({"weight": 5.0, "images": 9}, True), ({"split": "heldout"}, False), ({"seed": 1}, False),
    ({"height": 64}, False), ({"kind": "camvid"}, False),
])
def test_same_data_compares_what_decides_the_samples(other, same):
    base = SourceConfig(images=3, height=32, width=64)
    assert same_data(base, dataclasses.replace(base, **other)) is same


def test_same_data_compares_dataset_folders_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "camvid").mkdir()
    here, there = SourceConfig(kind="camvid", root="camvid"), SourceConfig(kind="camvid", root=str(tmp_path / "camvid"))
    assert same_data(here, there) and not same_data(here, dataclasses.replace(there, split="heldout"))
    assert not same_data(here, dataclasses.replace(there, root=str(tmp_path)))
    for split in ("all", "0016E5"):  # CamVid's splits are sets of drives
        assert same_data(dataclasses.replace(here, split=split), there)
    assert not same_data(dataclasses.replace(here, split="0006R0"), there)


def test_class_frequencies_and_median_balancing():
    freq = class_frequencies(SyntheticStreetScenes(4, 0, 64, 128), limit=4)
    assert freq.shape == (11,) and abs(freq.sum() - 1) < 1e-9
    weights = balanced_class_weights(np.array([0.5, 0.3, 0.15, 0.05, 0.0]), 1.0)
    assert np.allclose(weights, [0.45, 0.75, 1.5, 4.5, 1.0])  # median of the present ones: 0.225
    assert np.allclose(balanced_class_weights(np.array([0.5, 0.5]), 0.0), 1.0)
