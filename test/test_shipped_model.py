"""The model in models/ loads with the real loading code and really segments real streets: quality
floors well below its measured held-out figures (models/README.md), so a broken, untrained or
synthetic-only model cannot ship."""
from pathlib import Path

import pytest

from panoptic_ros.config import SourceConfig
from panoptic_ros.data.camvid import CamVidDataset
from panoptic_ros.data.dataset import build_source
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.eval.model_eval import evaluate_model
from panoptic_ros.inference.predictor import shipped_model_path
from panoptic_ros.model.checkpoint import load_checkpoint

CAMVID = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "camvid"


class _Every:
    """Every ``step``-th sample of a source: a few frames spread over the whole held-out drive."""

    def __init__(self, source, step: int) -> None:
        self.source, self.step, self.categories = source, step, source.categories

    def __len__(self) -> int:
        return len(self.source) // self.step

    def __getitem__(self, i: int):
        return self.source[i * self.step]


@pytest.fixture(scope="module")
def model():
    model, meta = load_checkpoint(shipped_model_path())
    assert meta["name"] == "street_lite0" and model.categories == STREET_CATEGORIES
    return model


def test_shipped_model_segments_the_held_out_camvid_drive(model):
    held_out = _Every(CamVidDataset(CAMVID, "heldout"), 17)  # 5 frames of drive 0006R0
    summary = evaluate_model(model, held_out, model.cfg.panoptic.kind, True)
    assert summary["miou"] > 0.35, summary["miou_per_class"]
    assert summary["per_class"]["car"]["tp"] > 0, summary["per_class"]  # cars are found as instances
    assert summary["Stuff"]["pq"] > 0.25, summary


def test_shipped_model_still_segments_synthetic_scenes(model):
    held_out = build_source(SourceConfig(split="heldout", images=8, height=128, width=256))
    for mask_cues in (True, False):
        summary = evaluate_model(model, held_out, model.cfg.panoptic.kind, mask_cues)
        assert summary["All"]["pq"] > 0.3, summary["All"]
