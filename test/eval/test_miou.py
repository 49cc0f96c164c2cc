import numpy as np
import pytest

from helpers import small_categories
from panoptic_ros.categories import VOID
from panoptic_ros.eval.miou import VOID_NAME, IoUAccumulator, format_iou_table

ROAD, SKY, CAR, PERSON = 1, 2, 11, 12


def test_iou_per_class_by_hand():
    gt = np.array([[ROAD, ROAD, ROAD, SKY],
                   [CAR, CAR, VOID, SKY]], np.uint8)
    pred = np.array([[ROAD, ROAD, SKY, SKY],
                     [CAR, VOID, CAR, 99]], np.uint8)  # 99: no such category, counts as void
    acc = IoUAccumulator(small_categories())
    acc.add(gt, pred)
    out = acc.summary()
    # road: TP 2, FN 1 -> 2/3; sky: TP 1, FP 1, FN 1 (predicted 99) -> 1/3; car: TP 1, FN 1 (left void),
    # and the car predicted on void ground truth is not counted -> 1/2; person occurs nowhere -> absent
    assert out["per_class"] == pytest.approx({"road": 2 / 3, "sky": 1 / 3, "car": 1 / 2})
    assert out["miou"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 2) / 3)
    # where each labelled class's pixels went (void ground truth in no row; zero shares left out)
    assert out["confusion"] == {"road": {"road": 2, "sky": 1}, "sky": {"sky": 1, VOID_NAME: 1},
                                "car": {"car": 1, VOID_NAME: 1}}


def test_iou_table_says_whether_a_class_is_missed_or_given_to_others():
    acc = IoUAccumulator(small_categories())
    gt = np.array([[ROAD, ROAD, ROAD, ROAD, SKY, SKY, SKY]], np.uint8)
    acc.add(gt, np.array([[ROAD, ROAD, SKY, CAR, SKY, SKY, ROAD]], np.uint8))
    acc.add(np.array([[ROAD]], np.uint8), np.array([[CAR]], np.uint8))  # road: 2 of 5 found, 2 taken for a car
    out = acc.summary()
    rows = {line.split()[0]: line.split()[1:] for line in format_iou_table(out["per_class"], out["confusion"]).splitlines()[1:]}
    # class: IoU, found, right, [its pixels taken for: class share %], [its label given to: class share %]
    assert rows["road"] == [f"{100 * 2 / 6:.2f}", "40.00", f"{100 * 2 / 3:.2f}", "car", "40.0", "%", "sky", "33.3", "%"]
    assert rows["sky"] == [f"{100 * 2 / 4:.2f}", f"{100 * 2 / 3:.2f}", f"{100 * 2 / 3:.2f}", "road", "33.3", "%",
                           "road", "33.3", "%"]
    assert rows["car"] == ["0.00", "-", "0.00", "-", "road", "100.0", "%"]  # predicted only, never in the ground truth


def test_images_accumulate_into_one_confusion_matrix():
    acc = IoUAccumulator(small_categories())
    acc.add(np.full((2, 2), ROAD, np.uint8), np.full((2, 2), ROAD, np.uint8))
    acc.add(np.full((1, 4), ROAD, np.uint8), np.full((1, 4), SKY, np.uint8))
    assert acc.summary()["per_class"] == pytest.approx({"road": 4 / 8, "sky": 0.0})


def test_merged_accumulators_score_as_one_that_saw_every_image():
    a, b, both = (IoUAccumulator(small_categories()) for _ in range(3))
    for acc, images in ((a, [(ROAD, ROAD)]), (b, [(ROAD, SKY), (SKY, SKY)]), (both, [(ROAD, ROAD), (ROAD, SKY),
                                                                                     (SKY, SKY)])):
        for gt, pred in images:
            acc.add(np.full((2, 2), gt, np.uint8), np.full((2, 2), pred, np.uint8))
    a.merge(b)
    assert a.summary() == both.summary() and a.summary()["per_class"]["road"] == pytest.approx(0.5)


def test_sizes_must_match():
    with pytest.raises(ValueError, match="differ in size"):
        IoUAccumulator(small_categories()).add(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))
