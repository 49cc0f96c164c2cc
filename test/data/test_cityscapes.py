import cv2
import numpy as np

from panoptic_ros.data.cityscapes import CityscapesDataset, read_instance_ids


def _write_city(root, split="val"):
    ids = np.zeros((8, 16), np.uint16)
    ids[:4] = 23                 # sky
    ids[4:] = 7                  # road
    ids[5:7, 1:4] = 26001        # car instance 1
    ids[5:7, 5:8] = 26002        # car instance 2
    ids[5:7, 10:12] = 26         # cars without instances: a crowd region
    ids[7, 15] = 1               # ego vehicle: void
    d = root / "gtFine" / split / "city"
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "city_000000_000001_gtFine_instanceIds.png"), ids)
    img = root / "leftImg8bit" / split / "city"
    img.mkdir(parents=True)
    cv2.imwrite(str(img / "city_000000_000001_leftImg8bit.png"), np.full((8, 16, 3), 90, np.uint8))
    return d / "city_000000_000001_gtFine_instanceIds.png"


def test_instance_ids_become_segments_with_crowd_and_void(tmp_path):
    seg, cats, crowd = read_instance_ids(_write_city(tmp_path))
    assert cats == {7: 7, 23: 23, 26: 26, 26001: 26, 26002: 26}
    assert crowd == {26} and seg[7, 15] == 0


def test_dataset_pairs_images_and_labels(tmp_path):
    _write_city(tmp_path)
    ds = CityscapesDataset(tmp_path, "val")
    s = ds[0]
    assert len(ds) == 1 and s.image.shape == (8, 16, 3) and s.name == "city_000000_000001"
