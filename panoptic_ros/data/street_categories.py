"""One category table for street scenes, shared by every street data source.

CamVid's 11 classes and the synthetic generator's classes line up under these names, so sources can
be mixed in one training run and a model trained on them publishes one table on ``~/categories``.
Ids and colours follow Cityscapes where it has the class.
"""
from __future__ import annotations

from panoptic_ros.categories import Category, CategoryTable

ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, POLE, FENCE, TRAFFIC_SIGN = 1, 2, 3, 4, 5, 6, 7, 8
CAR, PERSON, CYCLIST = 11, 12, 13

STREET_CATEGORIES = CategoryTable((
    Category(ROAD, "road", False, (128, 64, 128)),
    Category(SIDEWALK, "sidewalk", False, (244, 35, 232)),
    Category(BUILDING, "building", False, (70, 70, 70)),
    Category(VEGETATION, "vegetation", False, (107, 142, 35)),
    Category(SKY, "sky", False, (70, 130, 180)),
    Category(POLE, "pole", False, (153, 153, 153)),
    Category(FENCE, "fence", False, (190, 153, 153)),
    Category(TRAFFIC_SIGN, "traffic_sign", False, (220, 220, 0)),
    Category(CAR, "car", True, (0, 0, 142)),
    Category(PERSON, "person", True, (220, 20, 60)),
    Category(CYCLIST, "cyclist", True, (255, 0, 0)),
))
