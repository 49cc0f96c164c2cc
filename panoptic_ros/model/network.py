"""``PanopticNet``: backbone, semantic head, instance head and the panoptic heads, end to end.

Stages are separate methods (``extract``, ``semantic``, ``detect``, ``masks``, ``panoptic``), run in
order by ``panoptic_maps`` under a hook the benchmarks use to time and count each one. One set of weights serves every inference mode: any ``head``
(``affinity``, ``upsnet``, ``heuristic``) with or without mask cues.
"""
from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection.image_list import ImageList

from panoptic_ros.categories import VOID, CategoryTable
from panoptic_ros.config import ModelConfig
from panoptic_ros.heads import HeadKind
from panoptic_ros.model.affinity_head import AffinityHead
from panoptic_ros.model.backbone import INPUT_SCALING, build_backbone, family
from panoptic_ros.model.fold_norm import fold_batch_norms
from panoptic_ros.model.instance_head import InstanceHead, mask_loss
from panoptic_ros.model.lovasz import lovasz_softmax
from panoptic_ros.model.result import build_results
from panoptic_ros.structures import Detections, PanopticResult, PanopticTargets
from panoptic_ros.model.semantic_head import SemanticHead
from panoptic_ros.model.panoptic_heads import PanopticInputs, run_panoptic_head
from panoptic_ros.model.postprocess import suppress_overlaps, void_small_stuff
from panoptic_ros.model.matching import keep_some_instances, match_detections, positive_proposals
from panoptic_ros.model.upsnet_head import IGNORE, NEG, panoptic_targets

SIZE_DIVISOR = 32
# ``panoptic_maps``'s stages, in order, as the benchmarks name them
NETWORK_STAGES = BACKBONE, SEMANTIC, INSTANCE, PANOPTIC_HEAD = ("backbone", "semantic", "instance", "panoptic_head")
SEM_STRIDE = 4  # the semantic and panoptic logits live at 1/4 of the (padded) input
# The layers whose outputs are the categories (one per class, or per thing class); all else is shared
# by models of other classes, so a model fine-tuned to new classes starts only these afresh.
CLASS_LAYERS = ("semantic_head.classifier.", "instance.roi_heads.box_predictor.",
                "instance.roi_heads.mask_predictor.mask_fcn_logits.")


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, ignore_index: int,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
    """``F.cross_entropy``'s (weighted) mean, but 0 instead of NaN when every pixel is ignored
    (a crop of void pixels, or no stuff and no instance)."""
    total = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index, reduction="sum")
    valid = target != ignore_index
    count = weight[target[valid]].sum() if weight is not None else valid.sum()
    return total / count.clamp(min=1e-6)


def _subsample(label_map: torch.Tensor, stride: int) -> torch.Tensor:
    """Nearest-neighbour downsampling of a label map by an integer stride (cell centres)."""
    return label_map[:, stride // 2::stride, stride // 2::stride]


class PanopticNet(nn.Module):
    """The whole network, handed its parts: backbone + FPN, semantic head, instance head and the
    three panoptic heads on one set of weights. ``losses`` trains it, ``predict`` runs it."""
    def __init__(self, cfg: ModelConfig, categories: CategoryTable) -> None:
        super().__init__()
        self.cfg = cfg
        self.categories = categories
        fpn = cfg.backbone.fpn_channels
        num_classes = categories.num_stuff + categories.num_things
        self.backbone = build_backbone(cfg.backbone)
        self.semantic_head = SemanticHead(fpn, cfg.semantic.channels, cfg.semantic.deform_layers, num_classes,
                                          cfg.semantic.deformable)
        self.instance = InstanceHead(cfg.instance, fpn, categories.num_things)
        self.affinity = AffinityHead(4 * cfg.semantic.channels, cfg.panoptic.embed_dim)
        mean, std = INPUT_SCALING[family(cfg.backbone)]
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.inference_only = False  # set by ``for_inference``

    def load_all_but_class_layers(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Load a model of other categories' ``state``, but for ``CLASS_LAYERS``, which keep their fresh
        initialisation; returns their parameter names.

        Raises:
            RuntimeError: anything else differs (names or shapes: another backbone, FPN, head width).
        """
        shared = {name: value for name, value in state.items() if not name.startswith(CLASS_LAYERS)}
        missing, unexpected = self.load_state_dict(shared, strict=False)
        fresh = [name for name in missing if name.startswith(CLASS_LAYERS)]
        if unexpected or len(fresh) != len(missing):
            raise RuntimeError(f"missing {sorted(set(missing) - set(fresh))[:4]}, unexpected {sorted(unexpected)[:4]}")
        return fresh

    def for_inference(self) -> "PanopticNet":
        """This network as every inference path runs it: eval mode, batch norms folded into their
        convolutions (``fold_batch_norms``: fewer kernels per frame, same outputs up to rounding),
        channels-last weights. In place and one-way: afterwards it can be neither trained nor saved."""
        self.eval()
        if not self.inference_only:
            fold_batch_norms(self)
            self.inference_only = True
        return self.to(memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> "PanopticNet":
        if mode and self.inference_only:
            raise RuntimeError("this network's batch norms are folded for inference (for_inference): it cannot train")
        return super().train(mode)

    @property
    def num_stuff(self) -> int:
        return self.categories.num_stuff

    @property
    def device(self) -> torch.device:
        """Where the network's weights are, so where its inputs must be."""
        return next(self.parameters()).device

    @property
    def affinity_pool(self) -> int:
        """Pooling from the fused 1/4 features to the affinity's grid, from ``cfg.panoptic.affinity_stride``
        (an inference-time setting: read at every call)."""
        return self.cfg.panoptic.affinity_stride // SEM_STRIDE

    # ---- stages -------------------------------------------------------------------------------
    def prepare(self, images: torch.Tensor) -> ImageList:
        """uint8 RGB [B, 3, H, W] -> normalised float, zero-padded to a multiple of 32."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images [B, 3, H, W], got {tuple(images.shape)} {images.dtype}")
        h, w = images.shape[-2:]
        x = (images.float() - self.pixel_mean) / self.pixel_std
        x = F.pad(x, (0, -w % SIZE_DIVISOR, 0, -h % SIZE_DIVISOR))
        if next(self.parameters()).is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        return ImageList(x, [(int(h), int(w))] * images.shape[0])

    def extract(self, images: ImageList) -> OrderedDict[str, torch.Tensor]:
        """The FPN's feature maps of the padded batch."""
        return self.backbone(images.tensors)

    def semantic(self, feats: OrderedDict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(semantic logits at 1/4, the fused 1/4 features the affinity head embeds) from the FPN's four levels."""
        return self.semantic_head([feats[k] for k in ("0", "1", "2", "3")])

    def detect(self, images: ImageList, feats: OrderedDict[str, torch.Tensor]) -> Detections:
        """The instance head's detections in fixed slots (boxes in the padded grid's pixels)."""
        return self.instance.detect(images, feats)[0]

    def masks(self, images: ImageList, feats: OrderedDict[str, torch.Tensor], dets: Detections) -> torch.Tensor:
        """Mask logits [B, N, 28, 28] of each detection's class, in its box (the mask cues)."""
        return self.instance.mask_logits(feats, dets, tuple(images.tensors.shape[-2:]))

    def panoptic(self, sem_logits: torch.Tensor, fused: torch.Tensor, dets: Detections,
                 mask_logits: torch.Tensor | None, head: HeadKind, size: tuple[int, int] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(channel map, confidence), both [B, h, w] in the layout of ``upsnet_head``, cropped to ``size``
        (the input's; default the padded grid), after the post-processing every head shares
        (``postprocess``, steps set in ``cfg.panoptic``).

        Every head is evaluated at the input's resolution: semantic logits upsampled, masks pasted
        into their boxes at full resolution (as UPSNet does at inference). The heads' formulas do not
        depend on the grid (training computes them at 1/4), and thin objects survive.
        """
        p, s = self.cfg.panoptic, self.num_stuff
        grid = (sem_logits.shape[-2] * SEM_STRIDE, sem_logits.shape[-1] * SEM_STRIDE)
        sem = F.interpolate(sem_logits.float(), size=grid, mode="bilinear", align_corners=False)
        inputs = PanopticInputs(sem, fused, suppress_overlaps(dets, p.overlap_nms), mask_logits, self.affinity,
                                self.affinity_pool, s, p.min_visible, p.mask_removal)
        channels, confidence = run_panoptic_head(head, inputs)
        h, w = size or grid
        return void_small_stuff(channels[:, :h, :w], s, p.min_stuff_area), confidence[:, :h, :w]

    # ---- inference ----------------------------------------------------------------------------
    @torch.no_grad()
    def panoptic_maps(self, images: torch.Tensor, mask_cues: bool = True, head: HeadKind | None = None,
                      stage: Callable[[str], AbstractContextManager[Any]] = lambda name: nullcontext()
                      ) -> tuple[torch.Tensor, torch.Tensor, Detections]:
        """uint8 RGB [B, 3, H, W] -> (channel map, confidence, detections) at [H, W], before results are
        built: ``predict``'s network part. Each of ``NETWORK_STAGES`` runs under ``stage(name)``, so the
        benchmarks time and count the very code the node runs."""
        with stage(BACKBONE):
            image_list = self.prepare(images)
            feats = self.extract(image_list)
        with stage(SEMANTIC):
            sem_logits, fused = self.semantic(feats)
        with stage(INSTANCE):
            dets = self.detect(image_list, feats)
            mask_logits = self.masks(image_list, feats, dets) if mask_cues else None
        with stage(PANOPTIC_HEAD):
            channels, confidence = self.panoptic(sem_logits, fused, dets, mask_logits,
                                                 head or self.cfg.panoptic.kind, tuple(images.shape[-2:]))
        return channels, confidence, dets

    @torch.no_grad()
    def predict(self, images: torch.Tensor, mask_cues: bool = True, head: HeadKind | None = None,
                out_size: tuple[int, int] | list[tuple[int, int]] | None = None) -> list[PanopticResult]:
        """uint8 RGB [B, 3, H, W] on the model's device -> one result per image, at ``out_size`` (one size
        for all, or one per image: cameras of different resolutions share one network pass)."""
        channels, confidence, dets = self.panoptic_maps(images, mask_cues, head)
        sizes = out_size if isinstance(out_size, list) else [out_size or tuple(images.shape[-2:])] * images.shape[0]
        if len(set(sizes)) == 1:  # the usual case: one build, no regrouping
            return build_results(channels, confidence, dets, self.categories, sizes[0], mask_cues)
        results: list[PanopticResult] = [None] * len(sizes)  # type: ignore[list-item]
        for size in dict.fromkeys(sizes):  # one batched build per distinct output size
            index = [i for i, s in enumerate(sizes) if s == size]
            pick = _device_index(tuple(index), channels.device)
            built = build_results(channels[pick], confidence[pick], dets.images(pick), self.categories, size, mask_cues)
            for i, result in zip(index, built):
                results[i] = result
        return results

    # ---- training -----------------------------------------------------------------------------
    def forward(self, images: torch.Tensor, targets: PanopticTargets | None = None, mask_cues: bool = True,
                own_detections: bool = False, box_keep: float = 1.0,
                semantic_weight: torch.Tensor | None = None, lovasz: bool = False
                ) -> dict[str, torch.Tensor]:
        """The loss dictionary (``losses``), in training mode only: inference is ``predict``, which takes
        the head and the output size that a call through ``forward`` could not."""
        if not self.training:
            raise RuntimeError("PanopticNet's forward is for training (the losses); in eval mode call predict")
        if targets is None:
            raise ValueError("training needs targets")
        return self.losses(images, targets, mask_cues, own_detections, box_keep, semantic_weight, lovasz)

    def losses(self, images: torch.Tensor, t: PanopticTargets, mask_cues: bool, own_detections: bool,
               box_keep: float, semantic_weight: torch.Tensor | None = None, lovasz: bool = False
               ) -> dict[str, torch.Tensor]:
        """Every head's loss for one batch.

        Args:
            images: uint8 RGB [B, 3, H, W].
            t: the batch's ground truth; images without any thing instance are fine.
            mask_cues: whether the panoptic heads see the mask head's logits.
            own_detections: the panoptic heads see the network's own detections (matched one-to-one to
                the ground truth for their targets; misses become unknown, duplicates and false
                positives must lose) instead of ground-truth boxes.
            box_keep: with ground-truth boxes, the fraction shown (at least one per image); the hidden
                instances' pixels teach the unknown class, as in UPSNet.
            semantic_weight: [K] class weights of the semantic cross-entropy (None: unweighted).
            lovasz: also the semantic head's Lovász-softmax loss (``loss_lovasz``), on the labels at
                half resolution (at full resolution its sorts cost a third of a CPU step).
        Returns:
            Named scalar losses (torchvision's RPN/box losses, mask, semantic, panoptic, affinity).
        """
        image_list = self.prepare(images)
        pad = (0, image_list.tensors.shape[-1] - images.shape[-1], 0, image_list.tensors.shape[-2] - images.shape[-2])
        semantic = F.pad(t.semantic, pad, value=VOID)
        segments = F.pad(t.segments, pad, value=-1)
        instances = F.pad(t.instances, pad, value=-1)

        feats = self.extract(image_list)
        sem_logits, fused = self.semantic(feats)
        dets, proposals, losses = self.instance.detect(image_list, feats, [{"boxes": b, "labels": lb}
                                                                           for b, lb in zip(t.boxes, t.labels)])
        gt = Detections.from_lists(t.boxes, t.labels)
        # The mask head learns from sampled positive proposals (and the ground-truth boxes), as Mask R-CNN.
        mask_boxes, mask_source = positive_proposals(proposals, gt, self.cfg.instance.mask_positive_per_image)
        losses["loss_mask"] = mask_loss(self.masks(image_list, feats, mask_boxes), mask_boxes, instances, mask_source)

        # Semantic loss at the labels' full resolution, so thin classes (poles, signs) count fully.
        full = F.interpolate(sem_logits.float(), size=semantic.shape[-2:], mode="bilinear", align_corners=False)
        losses["loss_semantic"] = cross_entropy(full, semantic.long(), VOID, semantic_weight)
        if lovasz:
            half = _subsample(semantic, 2)
            losses["loss_lovasz"] = lovasz_softmax(
                F.interpolate(sem_logits.float(), size=half.shape[-2:], mode="bilinear", align_corners=False),
                half.long(), VOID)

        if own_detections:
            shown, shown_slot = dets, match_detections(dets, gt)
        else:
            keep = keep_some_instances(gt.valid, box_keep)
            shown = dataclasses.replace(gt, valid=keep)
            shown_slot = torch.where(keep, torch.arange(gt.num_slots, device=keep.device), -1)
        mask_logits = self.masks(image_list, feats, shown) if mask_cues else None
        s = self.num_stuff
        pan_target = panoptic_targets(_subsample(semantic, SEM_STRIDE), _subsample(instances, SEM_STRIDE),
                                      shown_slot, s)
        out, init, _, emb = self.affinity(sem_logits, fused, shown, mask_logits, s, SEM_STRIDE, self.affinity_pool)
        losses["loss_panoptic"] = cross_entropy(out, pan_target, IGNORE)
        # UPSNet's parameter-free logits cannot claim pixels outside an instance's box (a detected box
        # smaller than the object); those pixels train only the affinity head, which can grow past boxes.
        reachable = init.gather(1, pan_target.clamp(min=0)[:, None])[:, 0] > NEG / 2
        losses["loss_panoptic_upsnet"] = cross_entropy(init, torch.where(reachable, pan_target, IGNORE), IGNORE)
        seg_small = _subsample(segments, SEM_STRIDE * self.affinity_pool)
        seg_small = seg_small[:, : emb.shape[-2], : emb.shape[-1]]
        losses["loss_affinity"] = self.affinity.loss(emb, seg_small, self.cfg.panoptic.affinity_pairs)
        return losses


@functools.lru_cache(maxsize=64)
def _device_index(index: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``index`` as a (read-only) tensor on ``device``, made once per camera layout: built from host data
    every frame, it is a copy that waits for the GPU to finish the network."""
    return torch.tensor(index, device=device)
