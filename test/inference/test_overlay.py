import pytest
import torch
import torch.nn.functional as F

from helpers import small_categories
from panoptic_ros.inference.overlay import BORDER, ROLE_VOID, SEGMENT, _blend_opencv, _blend_torch, render_overlay
from panoptic_ros.inference.resize import resize_rgb
from panoptic_ros.structures import Detections
from panoptic_ros.model.result import build_results
from panoptic_ros.structures import ID_DIVISOR


def test_blends_segment_colours_leaves_void_and_draws_borders():
    image = torch.full((3, 4, 6), 100, dtype=torch.uint8)
    panoptic = torch.full((4, 6), -1, dtype=torch.int32)
    panoptic[:, 3:] = 7000  # stuff category 7
    colors = torch.zeros(256, 3, dtype=torch.uint8)
    colors[7] = torch.tensor([200, 0, 0], dtype=torch.uint8)
    out = render_overlay(image, panoptic, colors, alpha=0.5)
    assert out.shape == (4, 6, 3) and out.dtype == torch.uint8
    assert out[0, 0].tolist() == [100, 100, 100]          # void: the input
    assert out[0, 5].tolist() == [150, 50, 50]            # 50/50 blend
    assert out[:, 3].tolist() == [[255, 255, 255]] * 4    # the border column


def _float_overlay(image, panoptic, colors, alpha):
    """The overlay's definition in float, pixel by pixel at full resolution."""
    valid = panoptic >= 0
    category = torch.where(valid, panoptic // ID_DIVISOR, 0).long()
    instance = torch.where(valid, panoptic % ID_DIVISOR, 0)
    shift = ((instance * 47) % 96 - 48).where(instance > 0, 0)
    color = (colors[category].int() + shift[..., None]).clamp(0, 255).double()
    base = image.permute(1, 2, 0).double()
    out = torch.where(valid[..., None], (1 - alpha) * base + alpha * color, base)
    border = torch.zeros_like(valid)
    border[:, 1:] |= panoptic[:, 1:] != panoptic[:, :-1]
    border[1:, :] |= panoptic[1:, :] != panoptic[:-1, :]
    out[border] = 255.0
    return out, border


def _result(small, out_size, seed):
    """A result from random blocky channel maps with speckle, stuff, instances and void (unknown)."""
    gen = torch.Generator().manual_seed(seed)
    categories = small_categories()
    c = categories.num_stuff + 1 + 3
    blocks = torch.randint(0, c, (1, 1, 4, 4), generator=gen).float()
    channels = F.interpolate(blocks, size=small, mode="nearest")[:, 0].long()
    speckle = torch.rand(1, *small, generator=gen) < 0.15
    channels = torch.where(speckle, torch.randint(0, c, (1, *small), generator=gen), channels)
    dets = Detections(torch.zeros(1, 3, 4), torch.tensor([[1, 2, 1]]), torch.ones(1, 3),
                      torch.ones(1, 3, dtype=torch.bool))
    return build_results(channels, torch.rand(1, *small, generator=gen), dets, categories, out_size)[0]


SIZES = [((7, 9), (23, 31)), ((13, 11), (5, 4)), ((9, 10), (20, 7)), ((8, 6), (16, 12)), ((6, 7), (6, 7)),
         ((1, 1), (1, 1)), ((5, 4), (1, 1)), ((1, 1), (3, 2))]  # 1x1 images once made OpenCV refuse


@pytest.mark.parametrize("small,out_size", SIZES)
@pytest.mark.parametrize("alpha,tolerance", [(0.5, 1), (0.25, 1), (1.0, 0), (0.0, 0), (0.3, 2)])
def test_equals_the_float_definition_from_the_small_map(small, out_size, alpha, tolerance):
    result = _result(small, out_size, seed=small[0] + out_size[1])
    colors = small_categories().colors_by_id()
    hwc = torch.randint(0, 256, (*out_size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    image = hwc.permute(2, 0, 1)  # the layout camera messages arrive in
    expected, border = _float_overlay(image, result.panoptic, colors, alpha)
    out = render_overlay(image, result, colors, alpha)
    assert out.shape == (*out_size, 3) and out.dtype == torch.uint8
    assert (out[border] == 255).all()
    assert (out.double() - expected).abs().max() <= tolerance
    # the same from the full-resolution map, and from a planar image
    assert torch.equal(render_overlay(image.contiguous(), result.panoptic, colors, alpha), out)


@pytest.mark.parametrize("small,out_size,max_size,capped", [((9, 16), (180, 320), 100, (56, 100)),
                                                             ((16, 20), (6, 8), 5, (4, 5)),
                                                             ((8, 8), (4, 4), 3, (3, 3))])
def test_capped_size_keeps_the_aspect_and_shows_the_published_map_resized(small, out_size, max_size, capped):
    """Labels are those of the published full-size map, resized nearest; where the network's map is
    larger than the frame, a direct resize of it could show pixels the published map skips."""
    result = _result(small, out_size, seed=5)
    colors = small_categories().colors_by_id()
    image = torch.randint(0, 256, (3, *out_size), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    out = render_overlay(image, result, colors, 0.5, max_size=max_size)
    assert out.shape == (*capped, 3)
    labels = F.interpolate(result.panoptic[None, None].double(), size=capped, mode="nearest")[0, 0].int()
    assert torch.equal(out, render_overlay(resize_rgb(image, capped), labels, colors, 0.5))
    assert render_overlay(image, result, colors, 0.5, max_size=1).shape == (1, 1, 3)
    uncapped = render_overlay(image, result, colors, 0.5)
    assert torch.equal(render_overlay(image, result, colors, 0.5, max_size=max(out_size)), uncapped)


@pytest.mark.parametrize("size", [(33, 47), (1, 1), (1, 5), (5, 1)])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_the_opencv_and_torch_blends_agree(alpha, size):
    """The CPU blend (OpenCV) and the one used on other devices (PyTorch) give one overlay."""
    gen = torch.Generator().manual_seed(7)
    rgb = torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=gen).permute(1, 2, 0)  # planar
    colour = torch.randint(0, 256, (*size, 3), dtype=torch.uint8, generator=gen)
    role = torch.tensor([SEGMENT, ROLE_VOID, BORDER], dtype=torch.uint8)[torch.randint(0, 3, size, generator=gen)]
    styled = torch.cat([colour, role[..., None]], dim=2)
    a, b = _blend_opencv(rgb, styled, alpha), _blend_torch(rgb, styled, alpha)
    assert (a.int() - b.int()).abs().max() <= (0 if alpha in (0.0, 1.0) else 1)
    assert torch.equal(a[role == ROLE_VOID], rgb[role == ROLE_VOID]) and torch.equal(a[role == BORDER], colour[role == BORDER])


def test_the_border_word_filled_in_is_the_palette_s_border_style():
    """Filled as a Python number: CUDA's masked_fill_ with a tensor value reads it back to the host."""
    from panoptic_ros.inference.overlay import BORDER_WORD, _styles
    palette = _styles(torch.tensor([1000, 2001]), small_categories().colors_by_id())
    assert int(palette[-1]) == BORDER_WORD
