"""Small, fast network configurations and category tables for CPU tests."""
from __future__ import annotations

import torch

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.config import BackboneConfig, InstanceHeadConfig, ModelConfig, PanopticHeadConfig, SemanticHeadConfig

torch.set_num_threads(2)


def small_categories() -> CategoryTable:
    return CategoryTable((
        Category(1, "road", False, (128, 64, 128)),
        Category(2, "sky", False, (70, 130, 180)),
        Category(11, "car", True, (0, 0, 142)),
        Category(12, "person", True, (220, 20, 60)),
    ))


def small_model_config() -> ModelConfig:
    return ModelConfig(
        backbone=BackboneConfig(name="resnet18", fpn_channels=32, norm="bn", trainable_layers=5),
        semantic=SemanticHeadConfig(channels=32, deform_layers=1),
        instance=InstanceHeadConfig(anchor_sizes=(8, 16, 32, 64, 128), rpn_pre_nms_top_n=200,
                                    rpn_post_nms_top_n=50, box_representation=64, mask_head_channels=32,
                                    mask_head_layers=2, detections_per_image=10, score_threshold=0.0),
        panoptic=PanopticHeadConfig(embed_dim=16, affinity_pairs=128),
    )
