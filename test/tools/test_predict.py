"""panoptic-predict: images, folders and videos through the model, COCO panoptic files that
panoptic-eval reads, and bad inputs skipped with their reason."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import save_small_street_model, write_coco_panoptic
from panoptic_ros.data.dataset import SyntheticStreetScenes
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.eval.cli import main as evaluate
from panoptic_ros.tools.predict import main as predict

COCO_PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco_panoptic_sample" / "input_images"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return save_small_street_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> tuple[Path, Path]:
    """A folder of 3 synthetic scenes as PNGs, and their ground truth in COCO panoptic format."""
    root = tmp_path_factory.mktemp("scenes")
    samples = [SyntheticStreetScenes(3, 7, 64, 128)[i] for i in range(3)]
    write_coco_panoptic(root / "gt", samples, STREET_CATEGORIES)
    return root / "gt" / "images", root / "gt"


def _args(model, out, *inputs, extra=("--inference-size", "0", "0")):
    return [*map(str, inputs), "--out", str(out), "--model", model, "--device", "cpu", *extra]


# each image's own size, and the node's default (360 rows: these 64-row scenes scaled up, results
# brought back to the image's size)
@pytest.mark.parametrize("size", [("--inference-size", "0", "0"), ()])
def test_images_give_overlays_and_coco_panoptic_files_that_panoptic_eval_scores(model, scenes, tmp_path, capsys, size):
    images, gt = scenes
    out = tmp_path / "out"
    assert predict(_args(model, out, images, extra=size)) == 0
    names = sorted(p.stem for p in images.iterdir())
    assert sorted(p.stem for p in (out / "overlay").iterdir()) == sorted(p.stem for p in (out / "panoptic").iterdir()) == names
    coco = json.loads((out / "panoptic.json").read_text())
    assert [c["name"] for c in coco["categories"]] == [c.name for c in STREET_CATEGORIES.categories]
    assert sorted(i["file_name"] for i in coco["images"]) == sorted(p.name for p in images.iterdir())  # the inputs
    first = coco["annotations"][0]
    png = cv2.imread(str(out / "panoptic" / first["file_name"]))[..., ::-1].astype(np.int64)
    ids = png[..., 0] + 256 * png[..., 1] + 256 * 256 * png[..., 2]
    present, areas = np.unique(ids[ids > 0], return_counts=True)
    # each segment's record is exact: area and box as the PNG has them, a score, its category
    records = {s["id"]: s for s in first["segments_info"]}
    assert sorted(records) == present.tolist()
    for sid, area in zip(present.tolist(), areas.tolist()):
        ys, xs = np.nonzero(ids == sid)
        assert records[sid]["area"] == area and 0 <= records[sid]["score"] <= 1
        assert records[sid]["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert records[sid]["category_id"] == (sid - 1) // 1000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_predicted"] == 3
    assert {key: summary[key] for key in ("head", "mask_cues", "precision", "inference_size")} == {
        "head": "affinity", "mask_cues": True, "precision": "fp32", "inference_size": [0, 0] if size else [360, 0]}
    assert evaluate(["--gt-json", str(gt / "panoptic.json"), "--gt-dir", str(gt / "panoptic"),
                     "--pred-json", str(out / "panoptic.json"), "--pred-dir", str(out / "panoptic")]) == 0
    assert "All" in capsys.readouterr().out
    # COCO's own ground truth has numeric ids: paired by the PNG's file name instead
    numbered = json.loads((gt / "panoptic.json").read_text())
    for k, (image, ann) in enumerate(zip(numbered["images"], numbered["annotations"])):
        image["id"] = ann["image_id"] = 1000 + k
    (gt / "numbered.json").write_text(json.dumps(numbered))
    assert evaluate(["--gt-json", str(gt / "numbered.json"), "--gt-dir", str(gt / "panoptic"), "--out", str(tmp_path / "a.json"),
                     "--pred-json", str(out / "panoptic.json"), "--pred-dir", str(out / "panoptic")]) == 0
    assert evaluate(["--gt-json", str(gt / "panoptic.json"), "--gt-dir", str(gt / "panoptic"), "--out", str(tmp_path / "b.json"),
                     "--pred-json", str(out / "panoptic.json"), "--pred-dir", str(out / "panoptic")]) == 0
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads((tmp_path / "b.json").read_text())
    partial = json.loads((out / "panoptic.json").read_text())
    missing = partial["annotations"].pop()["file_name"]
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    assert evaluate(["--gt-json", str(gt / "numbered.json"), "--gt-dir", str(gt / "panoptic"),
                     "--pred-json", str(tmp_path / "partial.json"), "--pred-dir", str(out / "panoptic")]) == 2
    assert f"no prediction for image 1002 ({missing})" in capsys.readouterr().err


def test_a_video_gives_an_overlay_video_at_its_rate_and_a_strip(model, tmp_path):
    path = tmp_path / "drive.mp4"
    video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (128, 64))
    for i in range(7):
        video.write(SyntheticStreetScenes(7, 3, 64, 128)[i].image[..., ::-1].copy())
    video.release()
    out = tmp_path / "out"
    assert predict(_args(model, out, path, extra=["--batch", "3"])) == 0
    written = cv2.VideoCapture(str(out / "video" / "drive.mp4"))
    assert written.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0) and int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 7
    assert cv2.imread(str(out / "video" / "drive.png")) is not None
    assert json.loads((out / "summary.json").read_text())["frames_predicted"] == 7


def test_an_unreadable_file_is_skipped_with_its_reason_and_the_rest_predicted(model, scenes, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    (folder / "notes.txt").write_text("passed over: not an image by its suffix")
    cv2.imwrite(str(folder / "scene.png"), cv2.imread(str(next(scenes[0].iterdir()))))
    out = tmp_path / "out"
    assert predict(_args(model, out, folder)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_predicted"] == 1 and summary["skipped"] == [f"{folder / 'broken.jpg'}: cannot be read as an image"]
    assert "skipped" in capsys.readouterr().err
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"")
    assert predict(_args(model, tmp_path / "out2", only_bad)) == 1  # nothing predicted


@pytest.mark.parametrize("name, message", [
    ("missing.jpg", "no such file or folder"),
    ("notes.txt", "not an image"),
    (".", "no image"),  # a folder with neither images nor videos in it
])
def test_inputs_that_cannot_be_predicted_are_refused_before_any_work(model, tmp_path, capsys, name, message):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "notes.txt").write_text("")
    assert predict(_args(model, tmp_path / "out", folder / name)) == 2
    assert message in capsys.readouterr().err


def test_two_inputs_of_one_name_and_a_used_output_folder_are_refused(model, scenes, tmp_path, capsys):
    one = next(scenes[0].iterdir())
    copy = tmp_path / "elsewhere" / one.name
    copy.parent.mkdir()
    copy.write_bytes(one.read_bytes())
    assert predict(_args(model, tmp_path / "out", one, copy)) == 2
    assert f"inputs {one} and {copy} are named alike" in capsys.readouterr().err
    for name in ("0007.png", "7.jpg"):  # one image id, 7
        (tmp_path / "numbered" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "numbered" / name).write_bytes(one.read_bytes())
    assert predict(_args(model, tmp_path / "out", tmp_path / "numbered")) == 2
    assert f"{tmp_path / 'numbered' / '0007.png'} and {tmp_path / 'numbered' / '7.jpg'} have one COCO image id" in (
        capsys.readouterr().err)
    (tmp_path / "clip").mkdir()
    for name in ("7.png", "7.mp4"):  # a video has no image id, but its outputs share the name
        (tmp_path / "clip" / name).write_bytes(one.read_bytes())
    assert predict(_args(model, tmp_path / "out", tmp_path / "clip")) == 2
    assert "are named alike" in capsys.readouterr().err
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.txt").write_text("")
    with pytest.raises(SystemExit):
        predict(_args(model, used, one))
    assert "is not an empty folder" in capsys.readouterr().err and (used / "mine.txt").exists()


def test_the_shipped_model_predicts_real_photos_by_default(tmp_path):
    out = tmp_path / "out"
    assert predict([str(COCO_PHOTOS), "--out", str(out), "--device", "cpu"]) == 0
    coco = json.loads((out / "panoptic.json").read_text())
    assert len(coco["annotations"]) == 2 and all(a["segments_info"] for a in coco["annotations"])
    # COCO's numeric ids, as its ground truth has them (panopticapi pairs by image_id alone)
    assert sorted(a["image_id"] for a in coco["annotations"]) == sorted(i["id"] for i in coco["images"]) == [
        142238, 439180]
    known = {c.id for c in STREET_CATEGORIES.categories}
    assert {s["category_id"] for a in coco["annotations"] for s in a["segments_info"]} <= known


def test_it_runs_where_ros_is_not_installed(tmp_path):
    """A user with images and a GPU but no ROS: nothing on the tool's path imports a ROS package."""
    import subprocess
    import sys
    ros = ["rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "panoptic_msgs", "visualization_msgs",
           "diagnostic_msgs", "lifecycle_msgs", "builtin_interfaces", "rosbags"]
    code = (f"import sys\nfor name in {ros!r}:\n    sys.modules[name] = None  # importing it raises\n"
            "from panoptic_ros.tools.predict import main\nsys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", code, str(COCO_PHOTOS), "--out", str(tmp_path / "out"), "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "panoptic.json").exists()


def test_grey_16_bit_transparent_and_one_pixel_images_are_predicted(model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "grey.png"), np.full((48, 64), 128, np.uint8))
    cv2.imwrite(str(folder / "deep.png"), np.full((48, 64, 3), 40000, np.uint16))
    cv2.imwrite(str(folder / "rgba.png"), np.full((48, 64, 4), 200, np.uint8))
    cv2.imwrite(str(folder / "dot.png"), np.full((1, 1, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert predict(_args(model, out, folder, extra=())) == 0  # the node's default size
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_predicted"] == 4 and summary["skipped"] == []
    assert cv2.imread(str(out / "panoptic" / "dot.png")).shape == (1, 1, 3)  # outputs at each input's size
