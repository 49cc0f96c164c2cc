"""PQ against hand-computed cases and against a naive reference on real COCO panoptic ground truth."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.coco_panoptic import CocoPanopticDataset, id_to_rgb, write_rgb
from panoptic_ros.eval.cli import evaluate_files, main as eval_main
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.eval.pq import PQAccumulator

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco_panoptic_sample"
TABLE = CategoryTable((Category(1, "road", False, (0, 0, 0)), Category(2, "car", True, (0, 0, 0))))


def reference_pq(pairs, categories: CategoryTable) -> dict[int, tuple[float, int, int, int]]:
    """Straight from panopticapi's ``pq_compute``, one boolean mask at a time (slow, obvious): only id 0
    is void; every listed non-crowd segment unmatched is a false negative; a category's crowd region is
    the last one listed."""
    stats = {c.id: [0.0, 0, 0, 0] for c in categories.categories}
    for gt, gt_cats, crowd, pred, pred_cats in pairs:
        void = gt == 0
        crowd_of = {gc: g for g, gc in gt_cats.items() if g in crowd}
        matched_p = set()
        for g, gc in gt_cats.items():
            if g in crowd:
                continue
            gm = gt == g
            hit = False
            for p, pc in pred_cats.items():
                pm = pred == p
                if pc != gc or not pm.any() or not gm.any():
                    continue
                inter = (gm & pm).sum()
                union = (gm | pm).sum() - (pm & void).sum()
                if inter / union > 0.5:
                    stats[gc][0] += inter / union
                    stats[gc][1] += 1
                    matched_p.add(p)
                    hit = True
            if not hit:
                stats[gc][3] += 1
        for p, pc in pred_cats.items():
            pm = pred == p
            if p in matched_p or not pm.any():
                continue
            ignored = (pm & void).sum() + ((pm & (gt == crowd_of[pc])).sum() if pc in crowd_of else 0)
            if ignored / pm.sum() <= 0.5:
                stats[pc][2] += 1
    return {k: tuple(v) for k, v in stats.items()}


def _pq_from(stats) -> dict[int, float]:
    return {k: (iou / (tp + fp / 2 + fn / 2) if tp + fp + fn else None) for k, (iou, tp, fp, fn) in stats.items()}


def test_hand_computed_case():
    gt = np.zeros((10, 10), np.int64)
    gt[:, :5] = 1           # road: 50 px
    gt[:4, 5:] = 2          # car A: 20 px
    gt[6:, 5:] = 3          # car B: 20 px; rows 4-5 of the right half are void
    pred = np.zeros_like(gt)
    pred[:, :6] = 10        # road with one extra column: 60 px, 4 of them on void
    pred[:4, 6:] = 20       # car A minus one column: 16 px -> IoU 16/20
    pred[6:, 8:] = 30       # car B, only 8 px -> IoU 8/20: no match, a false positive
    acc = PQAccumulator(TABLE)
    acc.add(gt, {1: 1, 2: 2, 3: 2}, set(), pred, {10: 1, 20: 2, 30: 2})
    s = acc.summary()
    road_iou = 50 / (60 + 50 - 50 - 2)  # 4 of the extra pixels sit on GT cars, 2 on void -> union 58
    assert s["per_class"]["road"]["pq"] == pytest.approx(road_iou)
    assert s["per_class"]["car"]["sq"] == pytest.approx(16 / 20)
    assert s["per_class"]["car"]["rq"] == pytest.approx(1 / (1 + 0.5 + 0.5))
    assert s["All"]["pq"] == pytest.approx((road_iou + 0.8 * 0.5) / 2)
    assert s["Things"]["n"] == 1 and s["Stuff"]["n"] == 1


def test_merged_accumulators_score_as_one_that_saw_every_image():
    """A camera rig's PQ from its cameras': the images of both, not a mean of their PQs."""
    gt = np.zeros((4, 4), np.int64)
    gt[:, :2], gt[:, 2:] = 1, 2  # road, car
    hit = (gt * 10, {10: 1, 20: 2})  # the car found
    miss = (np.where(gt == 2, 0, gt * 10), {10: 1})  # the car missed
    a, b, both = (PQAccumulator(TABLE) for _ in range(3))
    for acc, predictions in ((a, [hit]), (b, [miss, miss]), (both, [hit, miss, miss])):
        for pred, pred_cats in predictions:
            acc.add(gt, {1: 1, 2: 2}, set(), pred, pred_cats)
    a.merge(b)
    assert a.summary() == both.summary()
    assert a.summary()["per_class"]["car"]["rq"] == pytest.approx(1 / (1 + 1))  # 1 found, 2 missed


def test_crowd_and_void_do_not_make_false_positives():
    gt = np.zeros((4, 8), np.int64)
    gt[:, :4] = 5  # a crowd of cars
    pred = np.zeros_like(gt)
    pred[:, :3] = 7  # a car predicted inside the crowd
    pred[:, 5:] = 8  # a car predicted on void
    acc = PQAccumulator(TABLE)
    acc.add(gt, {5: 2}, {5}, pred, {7: 2, 8: 2})
    assert acc.summary()["per_class"] == {}


def test_unlisted_ground_truth_is_not_void_and_a_listed_segment_with_no_pixels_is_missed():
    """panopticapi's counting: ground truth the listing leaves out can still make a false positive,
    and a listed segment never drawn is a false negative (neither is dropped as the PNG's fault)."""
    gt = np.zeros((4, 8), np.int64)
    gt[:, :4] = 1  # road
    gt[:, 4:] = 9  # an id segments_info does not list
    pred = np.zeros_like(gt)
    pred[:, :4] = 10
    pred[:, 4:] = 20  # a car on the unlisted region
    acc = PQAccumulator(TABLE)
    acc.add(gt, {1: 1, 3: 2}, set(), pred, {10: 1, 20: 2})  # car 3 is listed but has no pixels
    car = acc.summary()["per_class"]["car"]
    assert (car["tp"], car["fp"], car["fn"]) == (0, 1, 1)


def test_the_last_listed_crowd_region_of_a_category_is_the_one_that_excuses_a_prediction():
    gt = np.zeros((4, 8), np.int64)
    gt[:, :4], gt[:, 4:] = 5, 6  # two crowds of cars
    pred = np.zeros_like(gt)
    pred[:, :3] = 7  # a car predicted inside crowd 5
    for listing, fp in (({6: 2, 5: 2}, 0), ({5: 2, 6: 2}, 1)):
        acc = PQAccumulator(TABLE)
        acc.add(gt, listing, {5, 6}, pred, {7: 2})
        assert acc.summary()["per_class"].get("car", {"fp": 0})["fp"] == fp


def test_repeated_category_names_or_a_void_segment_are_refused():
    with pytest.raises(ValueError, match="names must be unique"):
        PQAccumulator([Category(2, "car", True, (0, 0, 0)), Category(3, "car", True, (0, 0, 0))])
    with pytest.raises(ValueError, match="void"):
        PQAccumulator(TABLE).add(np.ones((2, 2)), {0: 1}, set(), np.ones((2, 2)), {1: 1})


def _coco_pairs(perturb):
    ds = CocoPanopticDataset(SAMPLE / "panoptic_examples.json", SAMPLE / "panoptic_examples")
    pairs = []
    rng = np.random.default_rng(0)
    for i in range(len(ds)):
        gt, cats, crowd = ds.load_segments(i)
        pred, pred_cats = perturb(gt.copy(), dict(cats), rng)
        pairs.append((gt, cats, set(crowd), pred, pred_cats))
    return ds.categories, pairs


def _drop_merge_shift(seg, cats, rng):
    ids = sorted(cats)
    seg[seg == ids[0]] = 0                               # a missed segment
    seg[seg == ids[1]] = ids[2]                          # two segments merged
    cats[ids[3]] = next(c for c in cats.values() if c != cats[ids[3]])  # a wrong class
    seg = np.roll(seg, 7, axis=1)                        # everything shifted: IoUs below 1
    noise = rng.random(seg.shape) < 0.05
    seg[noise] = ids[4]                                  # speckle
    return seg, {k: v for k, v in cats.items() if k != ids[0] and k != ids[1]}


@pytest.mark.parametrize("perturb", [lambda s, c, r: (s, c), _drop_merge_shift])
def test_matches_the_reference_on_real_coco_ground_truth(perturb):
    categories, pairs = _coco_pairs(perturb)
    acc = PQAccumulator(categories)
    for p in pairs:
        acc.add(*p)
    ref = reference_pq(pairs, categories)
    ours = {c.id: acc.stats[c.id] for c in categories.categories}
    for cid, (iou, tp, fp, fn) in ref.items():
        st = ours[cid]
        assert (st.tp, st.fp, st.fn) == (tp, fp, fn), cid
        assert st.iou == pytest.approx(iou, abs=1e-6)
    s = acc.summary()
    ref_pq = [v for v in _pq_from(ref).values() if v is not None]
    assert s["All"]["pq"] == pytest.approx(sum(ref_pq) / len(ref_pq), abs=1e-6)
    if perturb.__name__ == "<lambda>":
        assert s["All"]["pq"] == pytest.approx(1.0) and s["All"]["n"] == len(ref_pq)


def test_cli_on_prediction_files(tmp_path, capsys):
    _, pairs = _coco_pairs(_drop_merge_shift)
    data = json.loads((SAMPLE / "panoptic_examples.json").read_text())
    (tmp_path / "pred").mkdir()
    for ann, (_, _, _, pred, pred_cats) in zip(data["annotations"], pairs):
        write_rgb(tmp_path / "pred" / ann["file_name"], id_to_rgb(pred))
        ann["segments_info"] = [{"id": int(k), "category_id": v, "iscrowd": 0} for k, v in pred_cats.items()]
    (tmp_path / "pred.json").write_text(json.dumps(data))
    out = tmp_path / "report.json"
    assert eval_main(["--gt-json", str(SAMPLE / "panoptic_examples.json"), "--gt-dir", str(SAMPLE / "panoptic_examples"),
                      "--pred-json", str(tmp_path / "pred.json"), "--pred-dir", str(tmp_path / "pred"),
                      "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"All", "Things", "Stuff", "per_class"}
    assert 0 < report["All"]["pq"] < 1 and set(report["All"]) == {"pq", "sq", "rq", "n"}
    assert "All" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "pred")
    assert eval_main(["--gt-json", str(SAMPLE / "panoptic_examples.json"), "--gt-dir", str(SAMPLE / "panoptic_examples"),
                      "--pred-json", str(tmp_path / "pred.json"), "--pred-dir", str(tmp_path / "pred")]) == 2


def test_a_segment_of_a_category_outside_the_table_is_named():
    acc = PQAccumulator(STREET_CATEGORIES)
    seg = np.array([[1, 1], [2, 2]])
    with pytest.raises(ValueError, match="predicted segment 2 has category 77"):
        acc.add(seg, {1: 1, 2: 2}, set(), seg, {1: 1, 2: 77})
    with pytest.raises(ValueError, match="ground-truth segment 1 has category 99"):
        acc.add(seg, {1: 99, 2: 2}, set(), seg, {1: 1, 2: 2})


def _two_segment_files(tmp_path, gt_categories, pred_json):
    """gt/ and pred/ holding one 4x6 image of segments 1 and 2 (categories 300 and 301), and their JSONs."""
    seg = np.zeros((4, 6), np.int64)
    seg[:, :3], seg[:, 3:] = 1, 2
    for which in ("gt", "pred"):
        (tmp_path / which).mkdir()
        write_rgb(tmp_path / which / "a.png", id_to_rgb(seg))
    info = [{"id": 1, "category_id": 300, "iscrowd": 0}, {"id": 2, "category_id": 301, "iscrowd": 0}]
    annotations = [{"image_id": 1, "file_name": "a.png", "segments_info": info}]
    (tmp_path / "gt.json").write_text(json.dumps({"annotations": annotations, "categories": gt_categories}))
    (tmp_path / "pred.json").write_text(json.dumps(pred_json(annotations)))
    return ["--gt-json", str(tmp_path / "gt.json"), "--gt-dir", str(tmp_path / "gt"),
            "--pred-json", str(tmp_path / "pred.json"), "--pred-dir", str(tmp_path / "pred")]


CAR_BUS = [{"id": 300, "name": "car", "isthing": 1}, {"id": 301, "name": "bus", "isthing": 1}]


def test_files_of_any_coco_panoptic_data_set_are_scored_and_predictions_need_no_categories(tmp_path):
    """Ids above 255 and a data set of things only break a model's category table, not a file scoring."""
    out = tmp_path / "report.json"
    args = _two_segment_files(tmp_path, CAR_BUS, lambda annotations: {"annotations": annotations})
    assert eval_main([*args, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["Things"]["pq"] == pytest.approx(1.0) and report["Things"]["n"] == 2 and report["Stuff"]["n"] == 0


def test_predictions_whose_categories_mean_other_classes_are_refused(tmp_path, capsys):
    args = _two_segment_files(tmp_path, CAR_BUS, lambda annotations: {
        "annotations": annotations, "categories": [{"id": 300, "name": "road", "isthing": 0}, CAR_BUS[1]]})
    assert eval_main(args) == 2
    assert "300 'road' (stuff)" in capsys.readouterr().err


def test_a_predicted_segment_listed_without_pixels_is_refused_naming_the_image(tmp_path, capsys):
    def listed_twice_over(annotations):
        ann = dict(annotations[0], segments_info=[*annotations[0]["segments_info"],
                                                  {"id": 99999, "category_id": 300, "iscrowd": 0}])
        return {"annotations": [ann]}

    assert eval_main(_two_segment_files(tmp_path, CAR_BUS, listed_twice_over)) == 2
    err = capsys.readouterr().err
    assert "a.png" in err and "[99999] are listed but have no pixels" in err


@pytest.mark.parametrize("gt_categories, message", [
    ([{"id": 300, "name": "car"}, CAR_BUS[1]], "has no isthing"),
    ([{"name": "car", "isthing": 1}, CAR_BUS[1]], "has no id"),
])
def test_a_malformed_ground_truth_file_is_one_clear_line(tmp_path, capsys, gt_categories, message):
    assert eval_main(_two_segment_files(tmp_path, gt_categories, lambda annotations: {"annotations": annotations})) == 2
    err = capsys.readouterr().err
    assert message in err and "gt.json" in err


def test_an_annotation_without_segments_info_is_refused_naming_the_file(tmp_path, capsys):
    args = _two_segment_files(tmp_path, CAR_BUS, lambda annotations: {"annotations": [{"image_id": 1,
                                                                                          "file_name": "a.png"}]})
    assert eval_main(args) == 2
    assert "pred.json" in capsys.readouterr().err


def test_files_are_paired_by_name_before_ids_that_count_differently(tmp_path):
    """Ground truth numbered from 0 and predictions numbered by their file names (as panoptic-predict
    numbers 000001.png 1): a pairing by id first would score each frame against the next."""
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    annotations = {"gt": [], "pred": []}
    for k in range(2):
        seg = np.zeros((4, 6), np.int64)
        seg[:, : 2 + 2 * k] = 1  # the two frames differ
        seg[seg == 0] = 2
        for which, image_id in (("gt", k), ("pred", k + 1)):
            write_rgb(tmp_path / which / f"{k + 1:06d}.png", id_to_rgb(seg))
            annotations[which].append({"image_id": image_id, "file_name": f"{k + 1:06d}.png", "segments_info": [
                {"id": 1, "category_id": 300, "iscrowd": 0}, {"id": 2, "category_id": 301, "iscrowd": 0}]})
    for which in ("gt", "pred"):
        (tmp_path / f"{which}.json").write_text(json.dumps({"annotations": annotations[which], "categories": CAR_BUS}))
    report = evaluate_files(tmp_path / "gt.json", tmp_path / "gt", tmp_path / "pred.json", tmp_path / "pred")
    assert report["All"]["pq"] == pytest.approx(1.0)
