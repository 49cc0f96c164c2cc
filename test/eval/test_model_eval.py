"""``evaluate_model``: the network can run at the node's ``inference_size`` while scores stay at each
image's own resolution."""
import torch

from helpers import small_model_config
from panoptic_ros.config import SourceConfig
from panoptic_ros.data.dataset import build_source
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.eval.model_eval import evaluate_model
from panoptic_ros.model.network import PanopticNet


def test_the_network_runs_at_the_inference_size_and_results_come_back_at_the_image_size():
    torch.manual_seed(0)
    model = PanopticNet(small_model_config(), STREET_CATEGORIES).eval()
    source = build_source(SourceConfig(split="heldout", images=2, height=64, width=96))
    seen = []
    predict = model.predict

    def spy(images, *args, **kwargs):
        results = predict(images, *args, **kwargs)
        seen.append((tuple(images.shape[-2:]), [tuple(r.panoptic.shape) for r in results]))
        return results

    model.predict = spy
    summary = evaluate_model(model, source, "upsnet", True, inference_size=(80, 144))
    assert seen == [((80, 144), [(64, 96)])] * 2 and summary["images"] == 2 and 0 <= summary["miou"] <= 1
    seen.clear()
    evaluate_model(model, source, "upsnet", True, batch_size=2)  # default: each image's own size
    assert seen == [((64, 96), [(64, 96), (64, 96)])]


class _Listed:
    """A source over a list of samples."""

    def __init__(self, samples, categories) -> None:
        self.samples, self.categories = samples, categories

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def test_images_of_different_sizes_are_batched_apart():
    torch.manual_seed(0)
    model = PanopticNet(small_model_config(), STREET_CATEGORIES).eval()
    small = build_source(SourceConfig(split="heldout", images=2, height=64, width=96))
    large = build_source(SourceConfig(split="heldout", images=1, height=96, width=128))
    mixed = _Listed([small[0], large[0], small[1]], STREET_CATEGORIES)
    sizes = []
    predict = model.predict
    model.predict = lambda images, *args, **kwargs: sizes.append((tuple(images.shape), torch.is_grad_enabled())) or predict(
        images, *args, **kwargs)
    summary = evaluate_model(model, mixed, "upsnet", True, batch_size=3)
    assert summary["images"] == 3  # no autograd graphs either
    assert sizes == [((1, 3, 64, 96), False), ((1, 3, 96, 128), False), ((1, 3, 64, 96), False)]
