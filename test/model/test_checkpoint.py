import pytest
import torch

from helpers import small_categories, small_model_config
from panoptic_ros.model.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from panoptic_ros.model.network import PanopticNet


def _model() -> PanopticNet:
    torch.manual_seed(0)
    return PanopticNet(small_model_config(), small_categories())


def test_round_trip_keeps_weights_config_and_categories(tmp_path):
    model = _model()
    path = save_checkpoint(tmp_path / "m.pt", model, "demo", extra={"pq": 0.5})
    loaded, meta = load_checkpoint(path)
    assert meta == {"name": "demo", "extra": {"pq": 0.5}}
    assert loaded.categories == model.categories and loaded.cfg == model.cfg
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_half_precision_checkpoint_loads_into_float_model(tmp_path):
    model = _model()
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "h.pt", model, "h", half=True))
    w = loaded.semantic_head.classifier.weight
    assert w.dtype == torch.float32
    assert torch.allclose(w, model.semantic_head.classifier.weight, atol=1e-3)


def test_clear_errors_for_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    path = save_checkpoint(tmp_path / "m.pt", _model(), "m")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[: 1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a panoptic_ros checkpoint.*model.backbone.pretrained=FILE"):
        load_checkpoint(foreign)
    legacy = tmp_path / "legacy.pt"  # torch.save's pre-1.6 format is a torch file too
    torch.save({"weight": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="not a panoptic_ros checkpoint"):
        load_checkpoint(legacy)


@pytest.mark.parametrize("content", [b"# a config\nmodel: 1\n", b"\x08\x01\x12onnx", b""])
def test_a_file_that_is_no_torch_file_is_named_as_such_not_as_unsafe(tmp_path, content):
    other = tmp_path / "model.yaml"
    other.write_bytes(content)
    with pytest.raises(CheckpointError, match="is not a PyTorch file") as info:
        read_checkpoint(other)
    assert "could run code" not in str(info.value)


def test_refuses_code_in_pickles(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "x", "obj": torch.nn.Linear(1, 1)}, evil)  # a pickled module is not plain data
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_checkpoint(evil)


def test_wrong_shapes_and_missing_keys_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model(), "m")
    data = torch.load(path, weights_only=True)
    data["state_dict"]["semantic_head.classifier.weight"] = torch.zeros(1, 1, 1, 1)
    del data["state_dict"]["affinity.mix"]
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"missing keys: affinity.mix.*wrong shapes: semantic_head.classifier"):
        load_checkpoint(tmp_path / "bad.pt")


def _rewritten(tmp_path, name: str, change) -> str:
    """A checkpoint of the small model with ``change(data)`` applied to its saved dictionary."""
    data = torch.load(save_checkpoint(tmp_path / "m.pt", _model(), "m"), weights_only=True)
    change(data)
    torch.save(data, tmp_path / name)
    return tmp_path / name


def test_non_finite_weights_are_refused_at_load_with_the_tensor_named(tmp_path):
    path = _rewritten(tmp_path, "nan.pt",
                      lambda d: d["state_dict"]["semantic_head.classifier.weight"].fill_(float("nan")))
    with pytest.raises(CheckpointError, match=r"non-finite values .*semantic_head.classifier.weight") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
    path = _rewritten(tmp_path, "inf.pt", lambda d: d["state_dict"]["affinity.mix"].fill_(float("inf")))
    with pytest.raises(CheckpointError, match=r"non-finite values .*affinity.mix"):
        load_checkpoint(path)


@pytest.mark.parametrize("state_dict,message", [
    (None, "state_dict must be a dictionary of tensors"),
    ({"backbone.body.conv1.weight": 3}, "state_dict entry 'backbone.body.conv1.weight' is int, not a tensor"),
])
def test_state_dicts_that_are_not_tensors_are_refused(tmp_path, state_dict, message):
    path = _rewritten(tmp_path, "bad.pt", lambda d: d.update(state_dict=state_dict))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_checkpoint_without_a_name_loads_and_a_wrong_name_is_refused(tmp_path):
    _, meta = load_checkpoint(_rewritten(tmp_path, "anonymous.pt", lambda d: d.pop("name")))
    assert meta["name"] == ""
    with pytest.raises(CheckpointError, match="'name' must be a string"):
        load_checkpoint(_rewritten(tmp_path, "named.pt", lambda d: d.update(name=[1])))


def test_a_directory_is_named_as_one(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory, not a checkpoint file"):
        load_checkpoint(tmp_path)


def test_refused_pickles_never_suggest_turning_safety_off(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "x", "obj": torch.nn.Linear(1, 1)}, evil)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(evil)
    assert "weights_only" not in str(info.value) and "objects other than tensors" in str(info.value)
    assert "\n" not in str(info.value)
