import math

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from panoptic_ros.model.affinity_head import AffinityHead


def _head(temperature: float) -> AffinityHead:
    head = AffinityHead(in_channels=8, embed_dim=2)
    with torch.no_grad():
        head.log_temperature.fill_(math.log(temperature))
    return head


def test_propagation_with_a_known_affinity_averages_within_each_instance():
    # Two instances: left two columns embed as (1, 0), right two as (0, 1). With a sharp affinity
    # every pixel takes the mean of the logits over its own instance.
    emb = torch.zeros(1, 2, 3, 4)
    emb[0, 0, :, :2] = 1
    emb[0, 1, :, 2:] = 1
    logits = torch.arange(2 * 12, dtype=torch.float32).reshape(1, 2, 3, 4)
    out = _head(60.0).propagate(logits, emb)
    left = logits[..., :2].mean(dim=(-1, -2))
    right = logits[..., 2:].mean(dim=(-1, -2))
    assert torch.allclose(out[..., :2], left[..., None, None].expand(1, 2, 3, 2), atol=1e-4)
    assert torch.allclose(out[..., 2:], right[..., None, None].expand(1, 2, 3, 2), atol=1e-4)


def test_fused_propagation_equals_the_explicit_affinity_matrix():
    torch.manual_seed(0)
    emb = F.normalize(torch.randn(2, 2, 3, 5), dim=1)
    logits = torch.randn(2, 4, 3, 5)
    t = 7.0
    out = _head(t).propagate(logits, emb)
    e = emb.flatten(2)                                       # [B, D, L]
    affinity = torch.softmax(t * e.transpose(1, 2) @ e, -1)  # [B, L, L], rows sum to 1
    expected = (affinity @ logits.flatten(2).transpose(1, 2)).transpose(1, 2).reshape_as(logits)
    assert torch.allclose(out, expected, atol=1e-5)


def test_propagation_runs_on_a_fused_kernel_whatever_the_widths():
    # 3-d embeddings and 5 logit channels: unpadded, no fused kernel accepts them (math disabled here).
    torch.manual_seed(0)
    emb = F.normalize(torch.randn(1, 3, 4, 6), dim=1)
    logits = torch.randn(1, 5, 4, 6)
    head = _head(5.0)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
        fused = head.propagate(logits, emb)
    with sdpa_kernel([SDPBackend.MATH]):
        math = head.propagate(logits, emb)
    assert fused.shape == logits.shape and torch.allclose(fused, math, atol=1e-5)


def test_attention_inputs_have_unit_last_stride_whatever_the_widths(monkeypatch):
    # The fused CUDA kernels reject a last-dimension stride other than 1. A zero pad (embed_dim already a
    # multiple of 8, as in the R50 config) keeps the transposed layout, which sent an H100 to the math kernel.
    seen = []
    sdpa = F.scaled_dot_product_attention

    def spy(q, k, v, **kwargs):
        seen.append((q.stride(-1), k.stride(-1), v.stride(-1)))
        return sdpa(q, k, v, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    for embed_dim, channels in ((8, 5), (3, 16), (8, 8)):
        head = AffinityHead(in_channels=8, embed_dim=embed_dim)
        head.propagate(torch.randn(1, channels, 4, 6), F.normalize(torch.randn(1, embed_dim, 4, 6), dim=1))
    assert seen == [(1, 1, 1)] * 3


def test_affinity_loss_prefers_embeddings_that_separate_segments():
    head = _head(10.0)
    segments = torch.zeros(1, 4, 4, dtype=torch.long)
    segments[0, :, 2:] = 1
    good = torch.zeros(1, 2, 4, 4)
    good[0, 0, :, :2] = 1
    good[0, 1, :, 2:] = 1
    bad = F.normalize(torch.ones(1, 2, 4, 4), dim=1)
    torch.manual_seed(0)
    good_loss = head.loss(good, segments, 64)
    torch.manual_seed(0)
    assert good_loss < 0.01 and head.loss(bad, segments, 64) > 0.5


def test_affinity_loss_is_the_row_softmax_mass_outside_each_pixel_s_own_segment(monkeypatch):
    """With the sample fixed to every pixel once: for each labelled pixel with another pixel of its
    segment, -log of the share of its row's softmax (over the other labelled pixels) that falls in its
    own segment, the weights propagation averages with; averaged over those pixels."""
    head = _head(4.0)
    emb = F.normalize(torch.randn(1, 2, 2, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    segments = torch.tensor([[[0, 0, 1], [1, -1, 2]]])  # a void pixel, and segment 2 alone in its segment
    monkeypatch.setattr(torch, "multinomial", lambda weights, n, replacement: torch.arange(n)[None])
    loss = head.loss(emb, segments, 6)
    e, seg = emb.flatten(2)[0].T.tolist(), segments.flatten().tolist()
    affinity = lambda p, q: math.exp(4.0 * sum(a * b for a, b in zip(e[p], e[q])))  # noqa: E731
    terms = []
    for p in range(6):
        same = [q for q in range(6) if q != p and seg[q] == seg[p]]
        if seg[p] < 0 or not same:
            continue
        row = sum(affinity(p, q) for q in range(6) if q != p and seg[q] >= 0)
        terms.append(-math.log(sum(affinity(p, q) for q in same) / row))
    assert len(terms) == 4  # pixels of segments 0 and 1
    assert math.isclose(loss.item(), sum(terms) / len(terms), rel_tol=1e-5)


def test_a_pixel_drawn_twice_is_not_its_own_neighbour(monkeypatch):
    """Sampling with replacement draws some pixels twice; the copy must not count as another pixel of
    the same segment (its affinity is the maximum: a free share of the row)."""
    head = _head(4.0)
    emb = F.normalize(torch.randn(1, 2, 2, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    segments = torch.tensor([[[0, 0, 1], [1, -1, 2]]])  # pixel 5 is alone in segment 2
    monkeypatch.setattr(torch, "multinomial", lambda weights, n, replacement: torch.tensor([[5, 5, 0]]))
    assert head.loss(emb, segments, 3).item() == 0.0  # no drawn pixel has another pixel of its segment
