from pathlib import Path

import pytest

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.config import ModelConfig, TrainConfig, from_dict, load_config, to_dict

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["train_synthetic.yaml", "train_camvid.yaml"])
def test_shipped_training_configs_load_and_round_trip(name):
    cfg = load_config(TrainConfig, ROOT / "config" / name)
    assert from_dict(TrainConfig, to_dict(cfg)) == cfg


def test_the_default_model_mixes_real_and_synthetic_streets_from_imagenet_weights():
    cfg = load_config(TrainConfig, ROOT / "config" / "train_camvid.yaml")
    assert cfg.model.backbone.name.startswith("efficientnet_lite") and cfg.model.backbone.pretrained == "imagenet"
    assert [s.kind for s in cfg.data.sources] == ["camvid", "synthetic"] and cfg.data.sources[0].split == "train"
    assert cfg.held_out is not None and cfg.held_out.split == "heldout"


def test_overrides_reach_nested_fields():
    cfg = load_config(TrainConfig, None, ["model.backbone.name=resnet34", "data.crop=[64, 128]", "lr=0.5",
                                          "data.sources=[{kind: camvid, weight: 2}, {images: 5}]"])
    assert cfg.model.backbone.name == "resnet34" and cfg.data.crop == (64, 128) and cfg.lr == 0.5
    assert [(s.kind, s.weight, s.images) for s in cfg.data.sources] == [("camvid", 2.0, 2000), ("synthetic", 1.0, 5)]


def test_overrides_index_lists_and_read_exponents_as_numbers():
    """YAML 1.1 reads 1e-4 (no dot) as a string; a list element is reached by its index."""
    cfg = load_config(TrainConfig, ROOT / "config" / "train_camvid.yaml",
                      ["lr=1e-4", "data.sources.0.root=/my/camvid", "data.sources.1.weight=2"])
    assert cfg.lr == 1e-4 and cfg.data.sources[0].root == "/my/camvid" and cfg.data.sources[1].weight == 2.0
    with pytest.raises(ValueError, match="not an index of a list of 2"):
        load_config(TrainConfig, ROOT / "config" / "train_camvid.yaml", ["data.sources.5.root=/x"])
    for bad in ("lr=fast", "lr=nan", "grad_clip=inf", "lr=true"):
        with pytest.raises(ValueError, match="expected float"):
            load_config(TrainConfig, None, [bad])


@pytest.mark.parametrize("override,error", [("batch_size=0", "batch_size must be >= 1"),
                                            ("iterations=-1", "iterations must be >= 1"),
                                            ("checkpoint_every=0", "checkpoint_every must be >= 1"),
                                            ("lr=-0.1", "lr must be >= 0")])
def test_training_counts_out_of_range_are_refused_before_anything_is_built(override, error):
    with pytest.raises(ValueError, match=error):
        load_config(TrainConfig, None, [override])


@pytest.mark.parametrize("data,error", [
    ({"backbone": {"depth": 50}}, "unknown key"),
    ({"backbone": {"name": "resnet42"}}, "not one of"),
    ({"semantic": {"channels": "many"}}, "expected int"),
    ({"instance": {"detections_per_image": 1000}}, "1..999"),
    ({"instance": {"anchor_sizes": [32, 64]}}, "one size per FPN level"),
    ({"panoptic": {"affinity_stride": 6}}, "must be one of"),
    ({"panoptic": {"affinity_stride": 12}}, "must be one of"),  # a multiple of 4 whose pooling floors
])
def test_bad_configs_fail_loudly(data, error):
    with pytest.raises((KeyError, TypeError, ValueError), match=error):
        from_dict(ModelConfig, data)


def test_category_table_checks_and_lookups():
    table = CategoryTable.from_list([{"id": 7, "name": "road", "isthing": 0, "color": [1, 2, 3]},
                                     {"id": 26, "name": "car", "isthing": 1}])
    assert table.semantic_index() == {7: 0, 26: 1}
    assert table.channel_category_ids().tolist() == [7, 26]
    assert table.colors_by_id()[7].tolist() == [1, 2, 3]
    assert CategoryTable.from_list(table.to_list()) == table
    with pytest.raises(ValueError, match="unique"):
        CategoryTable((Category(1, "a", True, (0, 0, 0)), Category(1, "b", False, (0, 0, 0))))
    with pytest.raises(ValueError, match="at least one thing"):
        CategoryTable((Category(1, "a", False, (0, 0, 0)),))


@pytest.mark.parametrize("override", ["data.gamma_jitter=-1", "data.saturation_jitter=1.5", "data.blur=2"])
def test_augmentation_settings_out_of_range_are_refused(override):
    with pytest.raises(ValueError, match=override.split("=")[0]):
        load_config(TrainConfig, None, [override])
