"""Copy-paste augmentation (Ghiasi et al., "Simple Copy-Paste is a Strong Data Augmentation Method for
Instance Segmentation", CVPR 2021): the thing instances of one augmented training sample pasted over
another of the same size.

Why: the cars, people and cyclists of a few drives are seen in those drives' places and backgrounds
only; pasted into other frames they are seen in many, with their own exact masks, so the semantic,
box and mask targets all stay correct (on CamVid it did not pay: see the model card, which is why
``data.copy_paste`` is off by default). Pasted instances cover what was beneath them: a segment of the
target left without a pixel is dropped from its categories, one partly covered keeps its visible part
(as an occluded object is labelled).
"""
from __future__ import annotations

import numpy as np

from panoptic_ros.data.sample import PanopticSample


def paste_things(target: PanopticSample, donor: PanopticSample, things: set[int]) -> PanopticSample:
    """``target`` with every non-crowd thing segment of ``donor`` (same size) pasted over it.

    Args:
        target: the sample pasted into.
        donor: the sample whose thing instances are pasted, already augmented to ``target``'s size.
        things: the category ids that are things.

    Returns:
        A new sample: image and segment map of ``target`` with the donor's instance pixels (new segment
        ids, after ``target``'s), the categories and crowd of the segments still present.

    Raises:
        ValueError: the two samples differ in size.
    """
    if donor.segments.shape != target.segments.shape:
        raise ValueError(f"copy-paste needs samples of one size, got {target.segments.shape} and "
                         f"{donor.segments.shape}")
    pasted_ids = np.array(sorted(i for i, c in donor.categories.items()
                                 if c in things and i not in donor.crowd and i != 0), dtype=np.int64)
    mask = np.isin(donor.segments, pasted_ids)
    if not mask.any():
        return target
    # after every id of the target, labelled or not (an id without a category is void, and stays so)
    offset = max(int(target.segments.max(initial=0)), max(target.categories, default=0)) + 1
    segments = np.where(mask, donor.segments.astype(np.int64) + offset, target.segments).astype(target.segments.dtype)
    image = np.where(mask[..., None], donor.image, target.image)
    present = set(np.unique(segments).tolist())
    categories = {i: c for i, c in target.categories.items() if i in present}
    categories |= {int(i) + offset: donor.categories[int(i)] for i in pasted_ids if int(i) + offset in present}
    crowd = frozenset(i for i in target.crowd if i in present)
    return PanopticSample(image, segments, categories, crowd, f"{target.name}+{donor.name}")
