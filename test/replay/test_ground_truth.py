"""Replay ground truth: COCO panoptic folders with crowd regions, and categories the model lacks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import write_coco_panoptic
from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.sample import PanopticSample
from panoptic_ros.data.street_categories import CAR, ROAD, STREET_CATEGORIES
from panoptic_ros.replay.ground_truth import GroundTruthFrame, check_categories, from_coco_panoptic
from panoptic_ros.replay.report import ReplayRecorder
from panoptic_ros.structures import VOID_ID, panoptic_id

ROAD_ID, CAR_ID = panoptic_id(ROAD, 0), panoptic_id(CAR, 1)


def _road_and_a_crowd_of_cars(tmp_path, stamp: str = "1700000000000000000", crowd_category: int = CAR):
    """Road on the left half, a crowd region on the right: written as a COCO panoptic folder."""
    segments = np.ones((4, 6), np.int32)
    segments[:, 3:] = 2
    sample = PanopticSample(np.zeros((4, 6, 3), np.uint8), segments, {1: ROAD, 2: crowd_category},
                            crowd=frozenset({2}), name=stamp)
    table = CategoryTable((*STREET_CATEGORIES.categories, Category(14, "truck", True, (0, 0, 70))))
    path = write_coco_panoptic(tmp_path / "gt", [sample], table, write_images=False)
    return path, tmp_path / "gt" / "panoptic"


def test_crowd_regions_are_neither_misses_nor_false_positives(tmp_path):
    (frame,) = from_coco_panoptic(*_road_and_a_crowd_of_cars(tmp_path))[0].values()
    assert frame.crowd == {CAR_ID} and set(np.unique(frame.panoptic)) == {ROAD_ID, CAR_ID}
    recorder = ReplayRecorder(STREET_CATEGORIES)
    exact_on_road = np.where(frame.panoptic == ROAD_ID, ROAD_ID, VOID_ID)  # nothing on the crowd
    recorder.add_ground_truth(0, frame, exact_on_road)
    on_the_crowd = frame.panoptic.copy()  # a car predicted over the crowd region of cars
    recorder.add_ground_truth(0, frame, on_the_crowd)
    summary = recorder.pq.summary()
    assert summary["All"]["pq"] == 1.0 and "car" not in summary["per_class"]


def test_categories_the_model_lacks_are_named_before_anything_runs(tmp_path):
    gt, declared = from_coco_panoptic(*_road_and_a_crowd_of_cars(tmp_path, crowd_category=14))
    with pytest.raises(ValueError, match=r"category ids the model does not know: \[14\]"):
        check_categories(gt, STREET_CATEGORIES, declared)
    check_categories({0: GroundTruthFrame.of(np.array([[ROAD_ID, VOID_ID]]))}, STREET_CATEGORIES)


def test_an_id_that_means_another_class_in_the_ground_truth_is_refused(tmp_path):
    """A COCO JSON whose id 1 is "person" (a thing), scored against a model whose 1 is road, would have
    counted every person as road without a word; a JSON declaring only things is readable too."""
    segments = np.ones((4, 6), np.int32)
    sample = PanopticSample(np.zeros((4, 6, 3), np.uint8), segments, {1: ROAD}, name="1700000000000000000")
    person_as_1 = (Category(ROAD, "person", True, (220, 20, 60)),)
    path = write_coco_panoptic(tmp_path / "gt", [sample], _Table(person_as_1), write_images=False)
    gt, declared = from_coco_panoptic(path, tmp_path / "gt" / "panoptic")
    with pytest.raises(ValueError, match="1 is 'person' \\(thing\\) in the ground truth, 'road' \\(stuff\\) in the model"):
        check_categories(gt, STREET_CATEGORIES, declared)
    same = tuple(c for c in STREET_CATEGORIES.categories if c.id == ROAD)
    check_categories(gt, STREET_CATEGORIES, same)


class _Table:
    """Just the categories ``write_coco_panoptic`` reads (a real table needs a thing and a stuff class)."""

    def __init__(self, categories) -> None:
        self.categories = categories


def test_files_not_named_by_a_stamp_are_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="'frame_0001.png' is not named by its frame's stamp"):
        from_coco_panoptic(*_road_and_a_crowd_of_cars(tmp_path, stamp="frame_0001"))


def test_label_images_are_held_compressed_and_come_back_exactly():
    labels = np.full((512, 1024), ROAD_ID, np.int32)
    labels[100:200, 300:400] = VOID_ID
    frame = GroundTruthFrame.of(labels)
    assert np.array_equal(frame.panoptic, labels) and frame.panoptic.dtype == np.int32
    assert len(frame.labels.data) < labels.nbytes / 100


def test_a_coco_folder_without_categories_is_refused(tmp_path):
    """Without them nothing says which segments are things: every instance of a class would merge."""
    path, panoptic_dir = _road_and_a_crowd_of_cars(tmp_path)
    data = json.loads(path.read_text())
    del data["categories"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="lists no categories"):
        from_coco_panoptic(path, panoptic_dir)


def test_a_label_image_that_cannot_be_deserialised_is_refused_not_taken_for_the_storage_s_end(tmp_path, monkeypatch):
    """Storage damage ends the ground truth where it is; one bad message in a readable bag would drop
    every label image after it, so it is refused as before."""
    from panoptic_ros.data.dataset import SyntheticStreetScenes
    from panoptic_ros.replay import bag_io
    from panoptic_ros.replay.ground_truth import from_label_topic
    from panoptic_ros.replay.sample_bag import GT_TOPIC, write_sample_bag
    bag = write_sample_bag(tmp_path / "bag", SyntheticStreetScenes(6, 5, 32, 64), 6)
    deserialized, calls = bag_io._deserialized, []

    def second_fails(raw, cls):
        calls.append(1)
        return (None, "a message cannot be deserialised (test)") if len(calls) == 2 else deserialized(raw, cls)

    monkeypatch.setattr(bag_io, "_deserialized", second_fails)
    with pytest.raises(bag_io.MessageError, match="cannot be deserialised"):
        from_label_topic(bag, GT_TOPIC)
