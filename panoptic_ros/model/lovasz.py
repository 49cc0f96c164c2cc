"""The Lovász-softmax loss (Berman, Rannen Triki and Blaschko, CVPR 2018): a convex surrogate of
1 - IoU per class, for training the semantic head toward the mean IoU it is judged by.

Cross-entropy weighs every pixel alike, so a class of few pixels (a pole, a sign, a far pedestrian)
counts little toward it, yet as much as the road toward the mean IoU. The Lovász extension of the
Jaccard loss, evaluated on the softmax probabilities' errors sorted from largest to smallest, gives
each class the weight of its IoU; on one-hot predictions it equals 1 - IoU exactly.
"""
from __future__ import annotations

import torch


def _jaccard_gradient(foreground_sorted: torch.Tensor) -> torch.Tensor:
    """The Lovász extension's weights for errors sorted in decreasing order: the increase of the
    Jaccard loss as each pixel joins the set of mistakes, given which of them are the class's.

    Args:
        foreground_sorted: [P] 1 where the pixel is the class's, in the order of decreasing error.

    Returns:
        [P] the weights, summing to the Jaccard loss of getting every pixel wrong (1).
    """
    total = foreground_sorted.sum()
    intersection = total - foreground_sorted.cumsum(0)
    union = total + (1 - foreground_sorted).cumsum(0)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def lovasz_softmax(logits: torch.Tensor, target: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """The Lovász-softmax loss over a batch's pixels together, averaged over the classes present.

    Args:
        logits: [N, C, H, W] class scores.
        target: [N, H, W] class indices, ``ignore_index`` where unlabelled.
        ignore_index: the label of pixels that count for nothing.

    Returns:
        A scalar: 0 when the batch has no labelled pixel (it still depends on ``logits``, so the
        graph stays whole).
    """
    classes = logits.shape[1]
    probabilities = logits.float().softmax(1).permute(0, 2, 3, 1).reshape(-1, classes)
    labels = target.reshape(-1)
    labelled = labels != ignore_index
    probabilities, labels = probabilities[labelled], labels[labelled]
    losses = []
    for c in labels.unique().tolist():  # one sort per class present: a handful, not a loop over pixels
        foreground = (labels == c).float()
        errors = (foreground - probabilities[:, c]).abs()
        errors_sorted, order = errors.sort(descending=True)
        losses.append(torch.dot(errors_sorted, _jaccard_gradient(foreground[order])))
    return torch.stack(losses).mean() if losses else logits.reshape(-1)[:0].sum()  # 0, even beside an inf
