import dataclasses

import numpy as np
import pytest
import torch

from helpers import small_categories, small_model_config
from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.dataset import SyntheticStreetScenes, TrainingDataset, collate
from panoptic_ros.model.checkpoint import load_checkpoint, save_checkpoint
from panoptic_ros.model.network import CLASS_LAYERS, PanopticNet
from panoptic_ros.structures import PanopticTargets
from panoptic_ros.structures import ID_DIVISOR, PanopticResult
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.heads import HEAD_KINDS


def _images(b: int = 2, h: int = 64, w: int = 96) -> torch.Tensor:
    return torch.randint(0, 256, (b, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def assert_consistent(r: PanopticResult) -> None:
    """Every pixel has one id; the segment list is exactly the ids present, with exact areas and boxes."""
    pan = r.panoptic.numpy()
    assert r.panoptic.dtype == torch.int32 and r.semantic.dtype == torch.uint8
    ids, counts = np.unique(pan[pan >= 0], return_counts=True)
    assert r.segment_ids.tolist() == ids.tolist()
    assert r.areas.tolist() == counts.tolist()
    for sid, box in zip(r.segment_ids.tolist(), r.boxes.tolist()):
        ys, xs = np.nonzero(pan == sid)
        assert box == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert torch.equal(r.category_ids, r.segment_ids.long() // ID_DIVISOR)
    sem = np.where(pan >= 0, pan // ID_DIVISOR, 255)
    assert np.array_equal(r.semantic.numpy(), sem)
    things = r.instance_ids > 0
    assert len(set(r.segment_ids[things].tolist())) == int(things.sum())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = PanopticNet(small_model_config(), small_categories())
    return str(save_checkpoint(tmp_path_factory.mktemp("ckpt") / "small.pt", model, "small"))


@pytest.mark.parametrize("head", HEAD_KINDS)
@pytest.mark.parametrize("mask_cues", [True, False])
def test_every_head_and_mode_runs_from_one_checkpoint(checkpoint, head, mask_cues):
    model, meta = load_checkpoint(checkpoint)
    assert meta["name"] == "small"
    results = model.predict(_images(), mask_cues=mask_cues, head=head, out_size=(80, 120))
    assert len(results) == 2
    for r in results:
        assert r.panoptic.shape == (80, 120) and r.mask_cues is mask_cues
        assert_consistent(r)


def test_no_mask_cue_mode_never_runs_the_mask_head(checkpoint, monkeypatch):
    model, _ = load_checkpoint(checkpoint)
    calls = []
    monkeypatch.setattr(model.instance.roi_heads.mask_head, "forward", lambda *a: calls.append(1))
    model.predict(_images(1), mask_cues=False)
    assert not calls


def test_the_affinity_grid_follows_the_config_at_every_call(checkpoint, monkeypatch):
    """affinity_stride is an inference-time setting: one trained model runs on a finer grid."""
    model, _ = load_checkpoint(checkpoint)
    grids = []
    embeddings = model.affinity.embeddings

    def recorded(fused: torch.Tensor, pool: int) -> torch.Tensor:
        emb = embeddings(fused, pool)
        grids.append(tuple(emb.shape[-2:]))
        return emb
    monkeypatch.setattr(model.affinity, "embeddings", recorded)
    model.predict(_images(1), head="affinity")
    model.cfg = dataclasses.replace(model.cfg, panoptic=dataclasses.replace(model.cfg.panoptic, affinity_stride=4))
    model.predict(_images(1), head="affinity")
    assert grids[0] == (8, 12) and grids[1] == (16, 24)  # 64x96 input at 1/8, then 1/4


def test_channels_last_and_batched_inference_agree_with_single_images(checkpoint):
    model, _ = load_checkpoint(checkpoint)
    images = _images(2)
    batch = model.predict(images)
    single = model.predict(images[1:])
    assert torch.equal(batch[1].panoptic, single[0].panoptic)
    model = model.to(memory_format=torch.channels_last)
    assert torch.equal(model.predict(images[1:])[0].panoptic, single[0].panoptic)


def test_cameras_of_mixed_output_sizes_build_no_index_from_host_data_once_the_layout_is_known(checkpoint):
    """On a GPU a tensor built from host data every frame waits for the whole network to finish."""
    from panoptic_ros.tools.bench_dispatch import DispatchCounter
    from panoptic_ros.model.network import _device_index
    _device_index.cache_clear()  # layouts other tests made are known already
    model, _ = load_checkpoint(checkpoint)
    images = _images(3)
    waits = []
    for sizes in ([(64, 96), (32, 48), (64, 96)], [(64, 96), (32, 48), (64, 96)], [(32, 48), (64, 96), (64, 96)]):
        counter = DispatchCounter()
        with counter:
            model.predict(images, out_size=sizes)
        waits.append(sum(counter.waits.values()))
    assert waits[2] - waits[1] == 2  # a new layout builds its two index tensors once; a known one none


def _street_batch(n: int = 1):
    ds = TrainingDataset(SyntheticStreetScenes(n, seed=3, height=64, width=128), Augmentation((1.0, 1.0), (64, 128), False, 0))
    return collate([ds[0, i] for i in range(n)])


def _street_model() -> PanopticNet:
    torch.manual_seed(0)
    return PanopticNet(small_model_config(), STREET_CATEGORIES).train()


def test_panoptic_loss_alone_reaches_the_backbone():
    model = _street_model()
    images, targets = _street_batch()
    for mask_cues in (True, False):
        model.zero_grad()
        model(images, targets, mask_cues=mask_cues)["loss_panoptic"].backward()
        grad = model.backbone.body.conv1.weight.grad
        assert grad is not None and grad.abs().sum() > 0
        assert model.semantic_head.classifier.weight.grad.abs().sum() > 0
        assert model.affinity.embed[0].weight.grad.abs().sum() > 0
        mask_grad = model.instance.roi_heads.mask_predictor.mask_fcn_logits.weight.grad
        assert (mask_grad is not None and mask_grad.abs().sum() > 0) if mask_cues else mask_grad is None


def test_a_few_steps_on_one_image_drive_the_loss_down():
    model = _street_model()
    images, targets = _street_batch()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    history = []
    for step in range(25):
        losses = model(images, targets, mask_cues=step % 2 == 0)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append({k: v.item() for k, v in losses.items()})
    first, last = history[0], history[-1]
    assert sum(last.values()) < 0.5 * sum(first.values())
    assert last["loss_panoptic"] < 0.5 * first["loss_panoptic"]


def test_batches_without_any_thing_instance_train_with_finite_losses():
    """Real data has crops without cars or people (and crops that are all void): no crash, no NaN."""
    model = _street_model()
    images, targets = _street_batch(2)
    empty = PanopticTargets(targets.semantic.clone(), targets.segments.clone(), torch.full_like(targets.instances, -1),
                            [b[:0] for b in targets.boxes], [lb[:0] for lb in targets.labels])
    void = PanopticTargets(torch.full_like(targets.semantic, 255), torch.full_like(targets.segments, -1),
                           empty.instances, empty.boxes, empty.labels)
    for t in (empty, void):
        for mask_cues in (True, False):
            model.zero_grad()
            losses = model(images, t, mask_cues=mask_cues, lovasz=True)
            assert all(torch.isfinite(v) for v in losses.values()) and "loss_lovasz" in losses, losses
            sum(losses.values()).backward()
    weight = torch.ones(STREET_CATEGORIES.num_stuff + STREET_CATEGORIES.num_things)
    losses = model(images, targets, semantic_weight=weight, lovasz=True)
    assert torch.isfinite(losses["loss_semantic"]) and 0 < losses["loss_lovasz"] <= 1


@pytest.mark.parametrize("count", ["none", "one", "many"])
def test_panoptic_heads_train_on_the_networks_own_detections(count):
    """Li et al.: the panoptic heads learn from the detections they will see at inference."""
    model = _street_model()
    images, targets = _street_batch(2)
    heads = model.instance.roi_heads
    heads.score_thresh, heads.detections_per_img = {"none": (1.1, 50), "one": (0.0, 1), "many": (0.0, 50)}[count]
    seen = []
    original = model.affinity.forward
    def spy(sem, fused, dets, *args):
        seen.append(dets.valid.sum(dim=1).tolist())
        return original(sem, fused, dets, *args)
    model.affinity.forward = spy
    for mask_cues in (True, False):
        model.zero_grad()
        losses = model(images, targets, mask_cues=mask_cues, own_detections=True)
        assert all(torch.isfinite(v) for v in losses.values()), losses
        sum(losses.values()).backward()
        assert model.affinity.embed[0].weight.grad.abs().sum() > 0
    expected = {"none": [0, 0], "one": [1, 1]}.get(count)
    assert all(s == expected for s in seen) if expected else all(min(s) > 1 for s in seen)


def test_a_model_of_other_classes_lends_all_but_its_class_layers():
    torch.manual_seed(0)
    other = PanopticNet(small_model_config(), small_categories())
    street = PanopticNet(small_model_config(), STREET_CATEGORIES)
    fresh = street.load_all_but_class_layers(other.state_dict())
    assert len(fresh) == 8 and all(name.startswith(CLASS_LAYERS) for name in fresh)
    mine = street.state_dict()
    assert all(torch.equal(value, mine[name]) for name, value in other.state_dict().items() if name not in fresh)
    narrower = dataclasses.replace(small_model_config(), semantic=dataclasses.replace(
        small_model_config().semantic, channels=16))
    with pytest.raises(RuntimeError, match="size mismatch"):
        street.load_all_but_class_layers(PanopticNet(narrower, small_categories()).state_dict())


def test_every_affinity_stride_pools_the_padded_input_exactly():
    """The embeddings (``avg_pool2d``, which drops a remainder) and the logits (adaptive pooling over the
    whole frame) must describe the same pixels: the pool divides the padded 1/4 grid."""
    from panoptic_ros.config import AFFINITY_STRIDES
    from panoptic_ros.model.network import SEM_STRIDE, SIZE_DIVISOR
    assert all(stride % SEM_STRIDE == 0 and SIZE_DIVISOR % stride == 0 for stride in AFFINITY_STRIDES)
