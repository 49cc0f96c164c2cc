"""``build_results`` computes its statistics on the network's small maps; they must equal the
straightforward computation on the resized full-resolution maps, for every ratio."""
import pytest
import torch
import torch.nn.functional as F

from helpers import small_categories
from panoptic_ros.categories import VOID
from panoptic_ros.structures import Detections
from panoptic_ros.model.result import build_results, channel_tables
from panoptic_ros.structures import ID_DIVISOR

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# (small map size, output size): odd sizes, non-integer up- and downscaling, mixed, exact 2x, identity
SIZES = [((7, 9), (23, 31)), ((13, 11), (5, 4)), ((9, 10), (20, 7)), ((8, 6), (16, 12)), ((5, 7), (5, 7)),
         ((6, 5), (37, 3)), ((16, 32), (1024, 2048))]


def _reference(channels, confidence, dets, categories, out_size):
    """Today's definition, spelt out: resize the maps, then measure every segment pixel by pixel."""
    cats, inst = channel_tables(dets, categories)
    flat = channels.flatten(1)
    cat = cats.gather(1, flat).view_as(channels)
    panoptic = torch.where(cat >= 0, cat * ID_DIVISOR + inst.gather(1, flat).view_as(channels), -1)
    panoptic = F.interpolate(panoptic[:, None].double(), size=out_size, mode="nearest")[:, 0].long()
    confidence = F.interpolate(confidence[:, None], size=out_size, mode="nearest")[:, 0]
    out = []
    for i in range(panoptic.shape[0]):
        segments = []
        for sid in panoptic[i].unique().tolist():
            if sid < 0:
                continue
            mask = panoptic[i] == sid
            ys, xs = mask.nonzero(as_tuple=True)
            instance = sid % ID_DIVISOR
            score = dets.scores[i, instance - 1] if instance else confidence[i][mask].double().mean()
            segments.append((sid, sid // ID_DIVISOR, instance, int(mask.sum()),
                             [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1], float(score)))
        semantic = torch.where(panoptic[i] >= 0, panoptic[i] // ID_DIVISOR, VOID)
        out.append((panoptic[i], semantic, segments))
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("small,out_size", SIZES)
def test_statistics_equal_the_full_resolution_computation(device, small, out_size):
    categories = small_categories()
    gen = torch.Generator().manual_seed(small[0] * 100 + out_size[1])
    b, n = 2, 3
    channels_count = categories.num_stuff + 1 + n
    # blocky maps (segments spanning several pixels) plus per-pixel speckle (segments a resize may drop)
    blocks = torch.randint(0, channels_count, (b, 1, 3, 3), generator=gen).float()
    channels = F.interpolate(blocks, size=small, mode="nearest")[:, 0].long()
    speckle = torch.rand(b, *small, generator=gen) < 0.2
    channels = torch.where(speckle, torch.randint(0, channels_count, (b, *small), generator=gen), channels)
    confidence = torch.rand(b, *small, generator=gen)
    valid = torch.tensor([[True, True, False], [True, False, False]])
    dets = Detections(torch.zeros(b, n, 4), torch.tensor([[1, 2, 0], [2, 0, 0]]), torch.rand(b, n, generator=gen),
                      valid)
    expected = _reference(channels, confidence, dets, categories, out_size)
    on_device = Detections(*(t.to(device) for t in (dets.boxes, dets.labels, dets.scores, dets.valid)))
    results = build_results(channels.to(device), confidence.to(device), on_device, categories, out_size)
    for r, (panoptic, semantic, segments) in zip(results, expected):
        assert not {"panoptic", "semantic"} & set(vars(r))  # the full-size maps wait until asked for
        maps = r.write_maps()  # on the result's device: the CUDA resize is checked there
        assert maps is r and {"panoptic", "semantic"} <= set(vars(r))
        pan, sem = r.panoptic.cpu(), r.semantic.cpu()
        r = r.to("cpu")
        assert r.size == tuple(panoptic.shape)
        assert pan.dtype == torch.int32 and torch.equal(pan.long(), panoptic)
        assert sem.dtype == torch.uint8 and torch.equal(sem.long(), semantic)
        assert r.segment_ids.tolist() == [s[0] for s in segments]
        assert r.category_ids.tolist() == [s[1] for s in segments]
        assert r.instance_ids.tolist() == [s[2] for s in segments]
        assert r.areas.tolist() == [s[3] for s in segments]
        assert r.boxes.tolist() == [s[4] for s in segments]
        assert torch.allclose(r.scores.double(), torch.tensor([s[5] for s in segments], dtype=torch.float64),
                              rtol=1e-5, atol=1e-6)
