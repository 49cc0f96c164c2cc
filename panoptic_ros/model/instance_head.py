"""Mask R-CNN instance head (RPN, box head, mask head) from torchvision building blocks.

Submodule names follow torchvision's ``MaskRCNN`` (``rpn``, ``roi_heads.box_head`` ...,
``roi_heads.mask_head``, ``roi_heads.mask_predictor``) so its weights load by name. The mask branch is
run by us, not by ``RoIHeads``, on padded [B, N] boxes in one batched call, so it can be skipped
entirely in the no-mask-cue mode and serves ground-truth boxes at training time.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import roi_align

from panoptic_ros.config import InstanceHeadConfig
from panoptic_ros.model.fixed_size_detection import fixed_size_detections
from panoptic_ros.model.wait_free import FixedSizeRPN, LevelSelectRoIAlign, WaitFreeBoxCoder
from panoptic_ros.structures import Detections

MASK_SIZE = 28


class CachedAnchorGenerator(AnchorGenerator):
    """torchvision's anchors, remembered for the last grid they were made for.

    Anchors depend only on the padded image size and the feature map sizes, which stay the same from
    frame to frame in the node (a fixed ``inference_size``), while making them takes about a hundred
    small tensor ops per frame: on a GPU, that many kernel launches for nothing.
    """

    def __init__(self, sizes: tuple[tuple[int, ...], ...], aspect_ratios: tuple[tuple[float, ...], ...]) -> None:
        super().__init__(sizes, aspect_ratios)
        self._cached: tuple[tuple, torch.Tensor] | None = None

    def forward(self, image_list: ImageList, feature_maps: list[torch.Tensor]) -> list[torch.Tensor]:
        """One [A, 4] float32 anchor tensor per image, the same (shared, read-only) tensor for every image.

        Float32 whatever the features' precision: in bf16, coordinates between 1024 and 2048 are 8 pixels
        apart, which moved boxes by several pixels (torchvision makes anchors in the features' dtype).
        """
        key = (tuple(image_list.tensors.shape[-2:]), tuple(tuple(f.shape[-2:]) for f in feature_maps),
               feature_maps[0].device)
        if self._cached is None or self._cached[0] != key:
            one_image = ImageList(image_list.tensors[:1], image_list.image_sizes[:1])
            shapes_only = [f[:1, :1].float() for f in feature_maps]  # the generator reads sizes and dtype
            self._cached = (key, super().forward(one_image, shapes_only)[0])
        return [self._cached[1]] * len(image_list.image_sizes)


class InstanceHead(nn.Module):
    """Mask R-CNN's instance branch from torchvision's parts (RPN, RoI box head, mask head), with
    the mask logits computed separately (``mask_logits``) so boxes-only inference skips them."""
    def __init__(self, cfg: InstanceHeadConfig, in_channels: int, num_things: int) -> None:
        super().__init__()
        anchors = CachedAnchorGenerator(tuple((s,) for s in cfg.anchor_sizes), ((0.5, 1.0, 2.0),) * 5)
        self.rpn = FixedSizeRPN(
            anchors, RPNHead(in_channels, 3), fg_iou_thresh=0.7, bg_iou_thresh=0.3,
            batch_size_per_image=256, positive_fraction=0.5,
            pre_nms_top_n={"training": 2 * cfg.rpn_pre_nms_top_n, "testing": cfg.rpn_pre_nms_top_n},
            post_nms_top_n={"training": 2 * cfg.rpn_post_nms_top_n, "testing": cfg.rpn_post_nms_top_n},
            nms_thresh=0.7,
        )
        levels = ["0", "1", "2", "3"]
        rep = cfg.box_representation
        self.roi_heads = RoIHeads(
            LevelSelectRoIAlign(levels, 7, 2), TwoMLPHead(in_channels * 49, rep),
            FastRCNNPredictor(rep, num_things + 1),
            fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=cfg.roi_batch_per_image, positive_fraction=0.25,
            bbox_reg_weights=None, score_thresh=cfg.score_threshold, nms_thresh=cfg.nms_threshold,
            detections_per_img=cfg.detections_per_image,
            mask_head=MaskRCNNHeads(in_channels, [cfg.mask_head_channels] * cfg.mask_head_layers, 1),
            mask_predictor=MaskRCNNPredictor(cfg.mask_head_channels, cfg.mask_head_channels, num_things + 1),
        )  # no mask_roi_pool: RoIHeads then leaves masks to ``mask_logits`` below
        self.roi_heads.box_coder = WaitFreeBoxCoder(self.roi_heads.box_coder.weights)
        self.mask_roi_pool = LevelSelectRoIAlign(levels, 14, 2)

    def set_score_threshold(self, threshold: float) -> None:
        """Minimum score of a detection from the next call on (the node's dynamic parameter)."""
        self.roi_heads.score_thresh = threshold

    @property
    def score_threshold(self) -> float:
        """The minimum score of a detection now."""
        return float(self.roi_heads.score_thresh)

    def detect(self, images: ImageList, features: OrderedDict[str, torch.Tensor],
               targets: list[dict[str, torch.Tensor]] | None = None
               ) -> tuple[Detections, list[torch.Tensor], dict[str, torch.Tensor]]:
        """RPN + box head: (padded detections, per-image proposals, losses).

        Training (``targets`` given) adds the RPN and box losses and still returns the detections the
        box head makes of the same proposals (without gradient), so the panoptic heads can be trained
        on the network's own detections, as they will see them at inference.
        """
        proposals, losses = self.rpn(images, features, targets)
        if self.training:
            _, box_losses = self.roi_heads(features, proposals, images.image_sizes, targets)
            losses = {**losses, **box_losses}
        heads = self.roi_heads
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.training):
            pooled = heads.box_head(heads.box_roi_pool(features, proposals, images.image_sizes))
            class_logits, box_regression = heads.box_predictor(pooled)
            if self.rpn.use_wait_free(pooled):  # fixed-size proposals: detections of fixed size too
                dets = fixed_size_detections(class_logits, box_regression, torch.stack(proposals), heads.box_coder,
                                             images.image_sizes[0], heads.score_thresh, heads.nms_thresh,
                                             heads.detections_per_img)
            else:
                boxes, scores, labels = heads.postprocess_detections(class_logits, box_regression, proposals,
                                                                     images.image_sizes)
                dets = Detections.from_lists(boxes, labels, scores)
        return dets, proposals, losses

    def mask_logits(self, features: OrderedDict[str, torch.Tensor], dets: Detections,
                    image_size: tuple[int, int]) -> torch.Tensor:
        """Mask logits of each box's own class: [B, N, 28, 28] (padding slots included, ignored later)."""
        b, n = dets.labels.shape
        if n == 0:
            return features["0"].new_zeros(b, 0, MASK_SIZE, MASK_SIZE)
        pooled = self.mask_roi_pool(features, list(dets.boxes.unbind(0)), [image_size] * b)
        logits = self.roi_heads.mask_predictor(self.roi_heads.mask_head(pooled))  # [B*N, T+1, 28, 28]
        idx = dets.labels.reshape(-1, 1, 1, 1).expand(-1, 1, MASK_SIZE, MASK_SIZE)
        return logits.gather(1, idx).reshape(b, n, MASK_SIZE, MASK_SIZE)


def mask_loss(mask_logits: torch.Tensor, dets: Detections, instance_map: torch.Tensor,
              source: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of box-aligned mask logits against ground-truth instance masks.

    Args:
        mask_logits: [B, N, 28, 28] logits of each box's own class.
        dets: [B, N] the boxes they were pooled from.
        instance_map: [B, H, W] int64 ground-truth instance index of each pixel (-1: none).
        source: [B, N] the ground-truth instance whose mask each box learns (-1: none).
    Returns:
        The mean loss over the cells of every valid box (0 when there is none).
    """
    b, n = dets.valid.shape
    if not bool(dets.valid.any()):
        return mask_logits.sum() * 0.0
    masks = (instance_map[:, None] == source[:, :, None, None]).flatten(0, 1)[:, None].float()
    rois = torch.cat([torch.arange(b * n, device=masks.device, dtype=masks.dtype)[:, None],
                      dets.boxes.reshape(-1, 4).to(masks.dtype)], dim=1)
    # aligned=False, as MultiScaleRoIAlign pools the features these logits come from
    targets = roi_align(masks, rois, MASK_SIZE, 1.0, aligned=False).reshape(b, n, MASK_SIZE, MASK_SIZE)
    valid = dets.valid[..., None, None].expand_as(targets)
    return F.binary_cross_entropy_with_logits(mask_logits[valid].float(), (targets[valid] > 0.5).float())
