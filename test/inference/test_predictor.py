import pytest
import torch

from helpers import small_categories, small_model_config
from panoptic_ros.device import resolve_device
from panoptic_ros.inference.predictor import PredictorOptions, TorchPredictor
from panoptic_ros.model.network import PanopticNet


def _predictor(**options) -> TorchPredictor:
    torch.manual_seed(0)
    model = PanopticNet(small_model_config(), small_categories())
    return TorchPredictor(model, "small", PredictorOptions(device="cpu", score_threshold=0.0, **options))


def test_outputs_come_back_at_each_inputs_resolution_with_mixed_sizes():
    p = _predictor(inference_size=(64, 96))
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for h, w in ((120, 200), (64, 96), (120, 200))]
    passes = []
    extract = p.model.extract
    p.model.extract = lambda image_list: passes.append(image_list.tensors.shape[0]) or extract(image_list)
    results = p.predict(images)
    assert passes == [3]  # one network pass for the whole mix of resolutions
    assert [tuple(r.panoptic.shape) for r in results] == [(120, 200), (64, 96), (120, 200)]
    assert torch.equal(p.predict(images[:1])[0].panoptic, results[0].panoptic)  # batching changes nothing
    assert torch.equal(p.predict(images[1:2])[0].panoptic, results[1].panoptic)


def test_with_one_side_zero_each_aspect_ratio_gets_its_own_pass_at_its_own_shape():
    p = _predictor(inference_size=(64, 0))
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for h, w in ((120, 240), (90, 160), (60, 120))]
    passes = []
    predict = p.model.predict
    p.model.predict = lambda batch, *args, **kwargs: passes.append(tuple(batch.shape)) or predict(batch, *args, **kwargs)
    results = p.predict(images)
    assert sorted(passes) == [(1, 3, 64, 114), (2, 3, 64, 128)]  # 16:9 apart; the two 2:1 frames in one pass
    assert [tuple(r.panoptic.shape) for r in results] == [(120, 240), (90, 160), (60, 120)]


def test_the_options_say_each_inputs_own_size_one_way():
    assert PredictorOptions(inference_size=(0, 0)).inference_size is None  # the node parameter's [0, 0]
    assert PredictorOptions(inference_size=[360, 0]).inference_size == (360, 0)  # type: ignore[arg-type]
    images = [torch.randint(0, 256, (3, 60, 90), dtype=torch.uint8)]
    assert torch.equal(_predictor(inference_size=(0, 0)).predict(images)[0].panoptic,
                       _predictor().predict(images)[0].panoptic)


def test_bf16_autocast_runs_on_the_cpu_and_mostly_agrees_with_fp32():
    image = [torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))]
    fp32 = _predictor().predict(image)[0]
    bf16 = _predictor(precision="bf16").predict(image)[0]
    assert bf16.panoptic.shape == fp32.panoptic.shape
    assert (bf16.semantic == fp32.semantic).float().mean() > 0.5


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        _predictor(precision="fp16")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="precision must be one of fp32, fp16, bf16"):
        _predictor(precision="fp8")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no such CUDA device"):
            resolve_device("cuda:0")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_offload_puts_every_weight_in_host_memory_and_restore_gives_the_same_results():
    p = _predictor(inference_size=(64, 96))
    image = [torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))]
    before = p.predict(image)[0]
    p.offload()
    assert all(t.device.type == "cpu" for t in (*p.model.parameters(), *p.model.buffers()))
    p.restore()
    assert all(t.device == p.device for t in p.model.parameters())
    assert torch.equal(p.predict(image)[0].panoptic, before.panoptic)


def test_a_model_path_under_the_home_folder_may_be_written_with_a_tilde(tmp_path, monkeypatch):
    """``model:=~/models/x.pt``: no shell expands a ``~`` after ``:=`` or in a params file."""
    from panoptic_ros.model.checkpoint import save_checkpoint
    monkeypatch.setenv("HOME", str(tmp_path))
    save_checkpoint(tmp_path / "own.pt", PanopticNet(small_model_config(), small_categories()), "own")
    predictor = TorchPredictor.from_checkpoint("~/own.pt", PredictorOptions(device="cpu"))
    assert predictor.model_name == "own"
