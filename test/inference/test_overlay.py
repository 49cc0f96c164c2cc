import torch

from panoptic_ros.inference.overlay import render_overlay


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
