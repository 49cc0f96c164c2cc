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


def test_read_onto_the_street_categories_classes_group_as_camvid_s_and_a_rider_is_one_with_the_bike(tmp_path):
    from panoptic_ros.data.cityscapes import CROWD_SEGMENTS, CYCLIST_SEGMENTS, read_street_instance_ids
    from panoptic_ros.data.street_categories import BUILDING, CAR, CYCLIST, ROAD, SKY, VEGETATION
    ids = np.zeros((12, 20), np.uint16)
    ids[:3, :10], ids[:3, 10:] = 11, 12   # building beside a wall: one building segment
    ids[3, :] = 22                        # terrain: vegetation
    ids[4, :] = 23                        # sky
    ids[5:, :] = 7                        # road
    ids[6:8, 0:3] = 26001                 # a car ...
    ids[6:8, 4:7] = 27001                 # ... and a truck: two car instances
    ids[6:8, 8:10] = 26                   # cars without instances ...
    ids[10:12, 0:2] = 27                  # ... and trucks: one car crowd segment
    ids[6:8, 12:14] = 25001               # a rider ...
    ids[8, 12:14] = 33001                 # ... on a bicycle: one cyclist
    ids[6:8, 17:19] = 33002               # a bicycle apart: another
    ids[9, 19] = 1                        # ego vehicle: void
    ids[10:12, 8:10] = 33                 # a bicycle group ...
    ids[10:12, 12:14] = 25002             # ... a rider apart ...
    ids[11, 14:16] = 33                   # ... on a group of bicycles: cyclist crowd, one segment
    ids[10:12, 18:20] = 32001             # a motorcycle apart: a cyclist
    path = tmp_path / "x_gtFine_instanceIds.png"
    cv2.imwrite(str(path), ids)
    seg, cats, crowd = read_street_instance_ids(path)
    assert seg[0, 0] == seg[0, 15] and cats[int(seg[0, 0])] == BUILDING
    assert cats[int(seg[3, 0])] == VEGETATION and cats[int(seg[4, 0])] == SKY and cats[int(seg[5, 0])] == ROAD
    assert {cats[int(seg[6, 0])], cats[int(seg[6, 4])], cats[int(seg[6, 8])]} == {CAR} and len({seg[6, 0], seg[6, 4], seg[6, 8]}) == 3
    assert seg[6, 8] == seg[10, 0] == CROWD_SEGMENTS + CAR  # every car pixel of no instance: one crowd
    assert seg[6, 12] == seg[8, 13] != seg[6, 17] and min(seg[6, 12], seg[6, 17]) >= CYCLIST_SEGMENTS
    assert cats[int(seg[6, 12])] == cats[int(seg[6, 17])] == cats[int(seg[10, 18])] == CYCLIST
    assert seg[10, 8] == seg[10, 12] == seg[11, 15] == CROWD_SEGMENTS + CYCLIST
    assert crowd == {CROWD_SEGMENTS + CAR, CROWD_SEGMENTS + CYCLIST}
    assert seg[9, 19] == 0 and len(cats) == 4 + 3 + 3 + 1  # stuff; cars and their crowd; cyclists; their crowd


def test_the_street_source_serves_the_street_categories(tmp_path):
    from panoptic_ros.config import SourceConfig
    from panoptic_ros.data.dataset import build_source
    from panoptic_ros.data.street_categories import STREET_CATEGORIES
    _write_city(tmp_path)
    source = build_source(SourceConfig(kind="cityscapes_street", root=str(tmp_path), split="val"))
    sample = source[0]
    assert source.categories == STREET_CATEGORIES and sorted(set(sample.categories.values())) == [1, 5, 11]
    assert len(sample.crowd) == 1  # the cars without instances
