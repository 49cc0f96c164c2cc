import json
from pathlib import Path

import numpy as np
import pytest

from helpers import write_coco_panoptic
from panoptic_ros.data.coco_panoptic import CocoPanopticDataset, id_to_rgb, read_rgb, rgb_to_id
from panoptic_ros.data.sample import PanopticSample

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco_panoptic_sample"


def _dataset() -> CocoPanopticDataset:
    return CocoPanopticDataset(SAMPLE / "panoptic_examples.json", SAMPLE / "panoptic_examples", SAMPLE / "input_images")


def test_reads_the_real_coco_sample():
    ds = _dataset()
    assert len(ds) == 2 and ds.categories.num_things == 80 and ds.categories.num_stuff == 53
    counts = []
    for i in range(len(ds)):
        s = ds[i]
        assert s.image.shape[:2] == s.segments.shape and s.image.dtype == np.uint8
        present = set(np.unique(s.segments).tolist()) - {0}
        assert present == set(s.categories)  # every listed segment is in the PNG and vice versa
        counts.append(len(s.categories))
    assert sorted(counts) == [18, 32]


def test_two_channel_format_agrees_with_rgb_ids():
    ds = _dataset()
    import cv2
    for i, ann in enumerate(ds.annotations):
        seg, cats, _ = ds.load_segments(i)
        two = cv2.imread(str(SAMPLE / "panoptic_examples_2ch_format" / ann["file_name"]), cv2.IMREAD_UNCHANGED)
        category = two[..., 2]  # BGR order on disk: channel 0 of the file = category
        for sid, cat in cats.items():
            assert np.all(category[seg == sid] == cat)


def test_id_encoding_round_trip():
    ids = np.array([[0, 1, 255], [256, 65536, 16777215]])
    assert np.array_equal(rgb_to_id(id_to_rgb(ids)), ids)


def test_write_then_read_round_trip(tmp_path):
    ds = _dataset()
    s = ds[0]
    write_coco_panoptic(tmp_path, [PanopticSample(s.image, s.segments, s.categories, s.crowd, "x")], ds.categories)
    back = CocoPanopticDataset(tmp_path / "panoptic.json", tmp_path / "panoptic", tmp_path / "images")[0]
    assert np.array_equal(back.segments, s.segments) and back.categories == s.categories
    assert np.array_equal(back.image, s.image)
    info = json.loads((tmp_path / "panoptic.json").read_text())["annotations"][0]["segments_info"]
    original = {x["id"]: x for x in json.loads((SAMPLE / "panoptic_examples.json").read_text())["annotations"][0]["segments_info"]}
    for x in info:
        assert x["bbox"] == original[x["id"]]["bbox"] and x["area"] == original[x["id"]]["area"]


def test_a_png_holding_ids_its_segments_info_does_not_list_is_named(tmp_path):
    import cv2
    data = json.loads((SAMPLE / "panoptic_examples.json").read_text())
    (tmp_path / "panoptic").mkdir()
    for ann in data["annotations"]:  # written the way cv2.imwrite writes an RGB array: channels swapped
        bgr = cv2.imread(str(SAMPLE / "panoptic_examples" / ann["file_name"]))
        cv2.imwrite(str(tmp_path / "panoptic" / ann["file_name"]), np.ascontiguousarray(bgr[..., ::-1]))
    ds = CocoPanopticDataset(SAMPLE / "panoptic_examples.json", tmp_path / "panoptic")
    with pytest.raises(ValueError, match=f"{data['annotations'][0]['file_name']}: segment ids .* not in its segments_info"):
        ds.load_segments(0)


def test_a_segment_of_an_unlisted_category_or_a_missing_image_is_refused_when_opened(tmp_path):
    ds = _dataset()
    s = ds[0]
    path = write_coco_panoptic(tmp_path, [PanopticSample(s.image, s.segments, s.categories, s.crowd, "x")],
                               ds.categories)
    data = json.loads(path.read_text())
    data["annotations"][0]["segments_info"][0]["category_id"] = 254  # no such category in the file
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"x.png has segments of category \[254\], which its categories do not list"):
        CocoPanopticDataset(path, tmp_path / "panoptic")
    data["categories"] = []  # a prediction file may list none: nothing to check against
    path.write_text(json.dumps(data))
    CocoPanopticDataset(path, tmp_path / "panoptic")
    (tmp_path / "images" / "x.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 image.* missing, e.g. x.png"):
        CocoPanopticDataset(path, tmp_path / "panoptic", tmp_path / "images")


def test_images_are_read_as_stored_whatever_their_exif_orientation(tmp_path):
    from PIL import Image

    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:4] = 255  # a bright top, which a quarter turn would move to a side
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to display", as a phone held upright writes
    Image.fromarray(rgb).save(tmp_path / "tagged.jpg", exif=exif, quality=100)
    read = read_rgb(tmp_path / "tagged.jpg")  # as the labels were drawn on it
    assert read[:4].mean() > 200 and read[8:].mean() < 50


def test_image_and_labels_of_different_sizes_are_refused_with_the_sample_named():
    with pytest.raises(ValueError, match="frame_7: image \\(4, 6\\) and its labels \\(3, 6\\) differ"):
        PanopticSample(np.zeros((4, 6, 3), np.uint8), np.zeros((3, 6), np.int32), {}, name="frame_7")
