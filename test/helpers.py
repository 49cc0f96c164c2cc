"""Small, fast network configurations and category tables for CPU tests."""
from __future__ import annotations

import json
import os
import shutil
import time
import types
from pathlib import Path
from typing import Iterable

import torch

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.coco_panoptic import category_records, id_to_rgb, segments_info, write_rgb
from panoptic_ros.data.sample import PanopticSample
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


def yuv422_from_rgb(rgb: "np.ndarray", encoding: str) -> "np.ndarray":
    """[H, W, 2] uint8 4:2:2 bytes of an RGB image (BT.601 video range, as cameras send them and OpenCV
    decodes them): ``yuv422`` / ``uyvy`` is UYVY (U Y0 V Y1 per pixel pair), ``yuv422_yuy2`` / ``yuyv`` YUYV
    (Y0 U Y1 V)."""
    import numpy as np
    y, u, v = _bt601_video_range(rgb)
    pair_u = np.repeat((u[:, 0::2] + u[:, 1::2]) / 2, 2, axis=1)
    pair_v = np.repeat((v[:, 0::2] + v[:, 1::2]) / 2, 2, axis=1)
    chroma = np.where(np.arange(rgb.shape[1]) % 2 == 0, pair_u, pair_v)
    planes = (chroma, y) if encoding in ("yuv422", "uyvy") else (y, chroma)
    return np.clip(np.round(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)


def two_plane_yuv_from_rgb(rgb: "np.ndarray", encoding: str) -> "np.ndarray":
    """The unpadded buffer of an RGB image as ``nv12`` / ``nv21`` (4:2:0: chroma averaged over each 2x2
    block, U V or V U pairs) or ``nv24`` (4:4:4, U V pairs), BT.601 video range, as [rows, W] uint8: the
    Y rows, then the chroma plane cut into rows of W bytes."""
    import numpy as np
    y, u, v = _bt601_video_range(rgb)
    if encoding != "nv24":
        u, v = ((c[0::2, 0::2] + c[0::2, 1::2] + c[1::2, 0::2] + c[1::2, 1::2]) / 4 for c in (u, v))
    pairs = np.stack((v, u) if encoding == "nv21" else (u, v), axis=-1)
    planes = np.concatenate([y.ravel(), pairs.ravel()])
    return np.clip(np.round(planes), 0, 255).astype(np.uint8).reshape(-1, rgb.shape[1])


def _bt601_video_range(rgb: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    """Y, U, V (float) of an RGB uint8 image, BT.601 video range (Y 16-235), as cameras send them."""
    import numpy as np
    r, g, b = np.moveaxis(rgb.astype(np.float64) / 255, -1, 0)
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b, 128 - 37.797 * r - 74.203 * g + 112.0 * b,
            128 + 112.0 * r - 93.786 * g - 18.214 * b)


def save_small_street_model(folder: Path) -> str:
    """A small seeded network over the street categories, untrained, saved as ``street_small.pt`` in
    ``folder``: for the tools that load a checkpoint by path."""
    from panoptic_ros.data.street_categories import STREET_CATEGORIES
    from panoptic_ros.model.checkpoint import save_checkpoint
    from panoptic_ros.model.network import PanopticNet
    torch.manual_seed(0)
    return str(save_checkpoint(folder / "street_small.pt", PanopticNet(small_model_config(), STREET_CATEGORIES),
                               "street-small"))


def write_coco_panoptic(out_dir: str | Path, samples: Iterable[PanopticSample], categories: CategoryTable,
                        write_images: bool = True) -> Path:
    """Write ``images/``, ``panoptic/`` and ``panoptic.json``; returns the JSON path."""
    out = Path(out_dir)
    (out / "panoptic").mkdir(parents=True, exist_ok=True)
    if write_images:
        (out / "images").mkdir(exist_ok=True)
    images, annotations = [], []
    for k, s in enumerate(samples):
        name = s.name or f"{k:06d}"
        if write_images:
            write_rgb(out / "images" / f"{name}.png", s.image)
        write_rgb(out / "panoptic" / f"{name}.png", id_to_rgb(s.segments))
        h, w = s.segments.shape
        images.append({"id": name, "file_name": f"{name}.png", "height": h, "width": w})
        annotations.append({"image_id": name, "file_name": f"{name}.png",
                            "segments_info": segments_info(s.segments, s.categories, s.crowd)})
    path = out / "panoptic.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": category_records(categories)}))
    return path


def damaged_mid_way(folder: Path, bag: Path | None = None, at: float = 0.6) -> Path:
    """A copy of a sqlite3 bag (default: ../shared's sample, 6 frames on each of its two topics) with
    one database page zeroed at ``at`` of its file, as a disk failing mid-recording leaves one: the bag
    opens and its first messages read (6 of the shared one's 12 at 0.6), then sqlite reports the
    database malformed."""
    shutil.copytree(bag or Path(__file__).resolve().parents[2] / "shared" / "data" / "bags" / "coco_sample_sqlite3",
                    folder)
    (db,) = folder.glob("*.db3")
    db.chmod(0o644)
    data = bytearray(db.read_bytes())
    page = 4096 * int(len(data) // 4096 * at)
    data[page: page + 4096] = bytes(4096)
    db.write_bytes(bytes(data))
    return folder


def swallowing_import(signum: int):
    """An ``import_module`` that receives ``signum`` and swallows what it raises, as ``import
    torchvision`` did with a ``KeyboardInterrupt``; the tool it returns must never run."""
    def import_module(name: str) -> types.SimpleNamespace:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(0.2)  # the handler runs here
        except KeyboardInterrupt:
            pass
        import pytest
        return types.SimpleNamespace(main=lambda: pytest.fail(f"{name} ran after the signal"))
    return import_module
