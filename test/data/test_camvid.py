"""CamVid reader: split by whole sequences, street categories, thing instances from connected components."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from panoptic_ros.data.camvid import (
    CAMVID_VOID, DRIVES, SPLITS, CamVidDataset, camvid_segments, read_label, sequence_of,
)
from panoptic_ros.data.street_categories import CAR, PERSON, ROAD, SKY, STREET_CATEGORIES

CAMVID = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "camvid"


def test_connected_components_become_instances_and_stuff_one_segment_per_class():
    label = np.full((6, 8), 3, np.uint8)                      # road
    label[0, :] = 0                                            # sky
    label[2:4, 0:2] = 8                                        # car A
    label[2:4, 5:7] = 8                                        # car B, not touching A
    label[4, 3] = 9                                            # a one-pixel pedestrian
    label[5, 7] = CAMVID_VOID
    segments, categories = camvid_segments(label)
    cats = np.vectorize(lambda s: categories.get(s, 0))(segments)
    assert sorted(categories.values()) == sorted([SKY, ROAD, CAR, CAR, PERSON])
    assert len(np.unique(segments[cats == ROAD])) == 1 and len(np.unique(segments[cats == SKY])) == 1
    assert segments[2, 0] != segments[2, 5] and len(np.unique(segments[cats == CAR])) == 2
    assert segments[5, 7] == 0 and (segments == 0).sum() == 1
    # touching objects of one class merge into one instance: the documented limit
    label[2:4, 2:5] = 8
    segments, categories = camvid_segments(label)
    assert sum(c == CAR for c in categories.values()) == 1


def test_splits_hold_out_whole_sequences():
    assert not set(SPLITS["train"]) & set(SPLITS["heldout"])
    assert set(SPLITS["all"]) == set(SPLITS["train"]) | set(SPLITS["heldout"])


def test_one_drive_splits_partition_the_frames():
    sizes = {drive: len(CamVidDataset(CAMVID, drive)) for drive in DRIVES}
    assert sizes == {"0001TP": 62, "0006R0": 101, "0016E5": 305}
    assert sum(sizes.values()) == len(CamVidDataset(CAMVID, "all"))


def test_reads_the_shared_frames_with_street_categories():
    train, held_out = CamVidDataset(CAMVID, "train"), CamVidDataset(CAMVID, "heldout")
    assert (len(train), len(held_out)) == (367, 101)
    assert not {sequence_of(p) for p, _ in train.pairs} & {sequence_of(p) for p, _ in held_out.pairs}
    sample = held_out[0]
    assert sample.image.shape == (360, 480, 3) and sample.image.dtype == np.uint8
    assert sample.segments.shape == (360, 480)
    assert set(sample.categories.values()) <= {c.id for c in STREET_CATEGORIES.categories}
    assert CamVidDataset.categories == STREET_CATEGORIES


def test_a_wrong_folder_or_split_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a CamVid folder"):
        CamVidDataset(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        CamVidDataset(CAMVID, "test")


def _png(path: Path, array: np.ndarray, palette: bool = False) -> None:
    from PIL import Image
    img = Image.fromarray(array)
    if palette:
        img = img.convert("P") if array.ndim == 3 else Image.fromarray(array, mode="L").convert("P")
        img.putpalette([v for k in range(256) for v in ((37 * k) % 256, (91 * k) % 256, (151 * k) % 256)])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_labels_are_class_indices_even_in_a_palette_png_and_anything_else_is_refused(tmp_path):
    label = np.tile(np.arange(12, dtype=np.uint8), (3, 1))
    _png(tmp_path / "palette.png", label, palette=True)
    assert np.array_equal(read_label(tmp_path / "palette.png"), label)  # indices, not brightness of colours
    _png(tmp_path / "colour.png", np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="not one channel"):
        read_label(tmp_path / "colour.png")
    _png(tmp_path / "32class.png", label + 12)
    with pytest.raises(ValueError, match="outside the 11 classes"):
        read_label(tmp_path / "32class.png")
    with pytest.raises(FileNotFoundError, match="cannot read CamVid label"):
        read_label(tmp_path / "missing.png")


def test_the_original_segnet_lists_with_absolute_paths_are_read_under_the_root(tmp_path):
    _png(tmp_path / "train" / "0001TP_0001.png", np.zeros((6, 8, 3), np.uint8))
    _png(tmp_path / "trainannot" / "0001TP_0001.png", np.full((6, 8), 3, np.uint8))
    (tmp_path / "train.txt").write_text("/SegNet/CamVid/train/0001TP_0001.png /SegNet/CamVid/trainannot/0001TP_0001.png\n")
    (tmp_path / "val.txt").write_text("")
    sample = CamVidDataset(tmp_path, "train")[0]
    assert sample.image.shape == (6, 8, 3) and set(sample.categories.values()) == {ROAD}
