"""Dense instance affinity panoptic head (Li, Qi, Torr, CVPR 2020).

A light learnt submodule: per-pixel embeddings e (unit norm, ``embed_dim`` wide, at 1/``stride`` of
the input) define one affinity, ``A = softmax(t * E E^T)`` row by row: how much of pixel p's
attention goes to pixel q. The same operator is

* used for propagation: each pixel takes the A-weighted average of the initial panoptic logits;
* trained: for pixels sampled uniformly over the image, the share of their row of A (restricted to
  the sample) that falls inside their own segment should be one (cross-entropy of that share).

Training on the row softmax itself, with pixels drawn as propagation meets them, teaches what
propagation needs: a large road region must not outweigh a person's few pixels in the person's row
however many road pixels there are, which a per-pair probability (the earlier ``sigmoid(t s + b)``)
never asked for.

Why this form: the N x N affinity at 1/8 of a 1024x2048 frame would be 32768^2 entries (4 GiB in
fp32). As low-rank attention it runs through ``scaled_dot_product_attention``, whose fused kernels
never materialise the matrix, so memory stays linear in pixels; the cost is one attention call.

The initial logits are UPSNet's (with or without mask cues). Propagation lets an instance reclaim
pixels its box or mask missed and give up pixels that belong to another instance, so with boxes
only (no mask head at all) the affinity does the shaping.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from panoptic_ros.structures import Detections
from panoptic_ros.model.upsnet_head import NEG, InstanceLogits, upsnet_logits

SDPA_ALIGN = 8  # query/value width multiple that every fused attention kernel accepts (fp16, bf16, fp32)


class AffinityHead(nn.Module):
    """Li, Qi & Torr's learnt dense instance affinity: embeddings whose row-softmax similarity
    propagates the initial panoptic logits (see the module's docstring)."""
    def __init__(self, in_channels: int, embed_dim: int) -> None:
        """``in_channels``: the semantic head's fused 1/4 features. The grid the affinity works on
        (``pool``: 1/4 -> affinity scale) is chosen per call: the embedding layers are convolutions, so
        one trained model can run on a finer grid where inputs are small."""
        super().__init__()
        self.embed = nn.Sequential(
            nn.Conv2d(in_channels, 128, 3, padding=1, bias=False), nn.GroupNorm(32, 128), nn.ReLU(inplace=True),
            nn.Conv2d(128, embed_dim, 1),
        )
        self.log_temperature = nn.Parameter(torch.tensor(math.log(10.0)))
        self.mix = nn.Parameter(torch.tensor(1.0))  # weight of the propagated logits

    def embeddings(self, fused: torch.Tensor, pool: int) -> torch.Tensor:
        """Unit-norm embeddings [B, D, h/pool, w/pool]."""
        x = F.avg_pool2d(fused, pool) if pool > 1 else fused
        return F.normalize(self.embed(x).float(), dim=1)

    def propagate(self, logits: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """softmax(t E E^T) V with V the logits pooled to the embedding grid; back at the logits' size.

        Queries and values are zero-padded to one width, a multiple of ``SDPA_ALIGN``: zero columns
        change neither q.k nor the kept output columns, and the fused kernels (flash on CPU and CUDA,
        memory-efficient on CUDA) want equal widths divisible by 8 (fp16) or 4 (fp32). The value width
        S+1+N changes with the detections, so unpadded most frames would fall back to the math kernel,
        which materialises the L x L matrix (4 GiB at 1/8 of 1024x2048).
        """
        b, c, h, w = logits.shape
        d = emb.shape[1]
        width = -(-max(c, d) // SDPA_ALIGN) * SDPA_ALIGN
        v = F.adaptive_avg_pool2d(logits, emb.shape[-2:]).flatten(2).transpose(1, 2)           # [B,L,C]
        q = (emb * self.log_temperature.exp().sqrt()).flatten(2).transpose(1, 2).to(v.dtype)  # [B,L,D]
        # contiguous: a zero pad keeps the transposed layout, and the fused CUDA kernels need the last
        # dimension's stride to be 1 (else the math kernel runs: seen at embed_dim == width on an H100)
        v, q = (F.pad(x, (0, width - x.shape[-1])).contiguous()[:, None] for x in (v, q))
        out = F.scaled_dot_product_attention(q, q, v, scale=1.0)[:, 0, :, :c]
        out = out.transpose(1, 2).reshape(b, c, *emb.shape[-2:])
        return F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)

    def forward(self, sem_logits: torch.Tensor, fused: torch.Tensor, dets: Detections,
                mask_logits: torch.Tensor | None, num_stuff: int, stride: float, pool: int,
                pasted: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, InstanceLogits, torch.Tensor]:
        """(affinity logits, UPSNet logits they start from, the instance logits behind those, embeddings).
        Both logits [B, S+1+N, h, w]; embeddings at 1/``pool`` of the fused features (``pasted``: see
        ``upsnet_head.instance_logits``)."""
        init, inst = upsnet_logits(sem_logits, dets, mask_logits, num_stuff, stride, pasted)
        # Propagate the finite form (instances 0 outside their box) so they can grow past the box.
        start = torch.cat([init[:, : num_stuff + 1], inst.values], dim=1)
        emb = self.embeddings(fused, pool)
        out = start + self.mix * self.propagate(start, emb)
        out[:, num_stuff + 1:].masked_fill_(~dets.valid[:, :, None, None], NEG)  # in place: no third copy
        return out, init, inst, emb

    def loss(self, emb: torch.Tensor, segments: torch.Tensor, samples: int) -> torch.Tensor:
        """Cross-entropy of the affinity's row mass inside each pixel's own segment, on ``samples`` pixels
        drawn per image over its labelled pixels.

        Args:
            emb: [B, D, h, w] unit-norm embeddings.
            segments: [B, h, w] int64 segment id at the embedding's resolution, -1 for void.
        Returns:
            The mean over sampled pixels with at least one other sampled pixel in their segment (void
            pixels take no part in any row, and a pixel drawn twice is not its own neighbour; 0 when
            no pixel qualifies).
        """
        b, d = emb.shape[:2]
        seg = segments.flatten(1)
        labelled = seg >= 0
        weights = torch.where(labelled.any(dim=1, keepdim=True), labelled.float(), 1.0)  # all void: any
        idx = torch.multinomial(weights, samples, replacement=True)                     # [B, P]
        e = emb.flatten(2).gather(2, idx[:, None].expand(-1, d, -1))                    # [B, D, P]
        s = seg.gather(1, idx)
        logits = self.log_temperature.exp() * torch.einsum("bdp,bdq->bpq", e, e)
        # other pixels, not merely other draws: a pixel drawn twice would be its own neighbour (cosine 1),
        # a free share of the row in its own segment (about a quarter of the rows on a 288x384 crop)
        others = (s >= 0)[:, None, :] & (idx[:, :, None] != idx[:, None, :])
        same = others & (s[:, :, None] == s[:, None, :])
        row_mass = torch.logsumexp(logits.masked_fill(~others, NEG), dim=2)
        own_mass = torch.logsumexp(logits.masked_fill(~same, NEG), dim=2)
        rows = (s >= 0) & same.any(dim=2)
        return ((row_mass - own_mass) * rows).sum() / rows.sum().clamp(min=1)
