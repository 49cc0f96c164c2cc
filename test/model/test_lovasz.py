"""The Lovász-softmax loss: 1 - IoU on one-hot predictions, small when right, differentiable."""
import torch

from panoptic_ros.model.lovasz import lovasz_softmax

IGNORE = 255


def _one_hot_logits(prediction: torch.Tensor, classes: int) -> torch.Tensor:
    """Logits whose softmax is (almost exactly) the one-hot of ``prediction`` [N, H, W]."""
    return torch.nn.functional.one_hot(prediction, classes).permute(0, 3, 1, 2).float() * 100.0


def test_on_one_hot_predictions_it_is_one_minus_the_mean_iou_of_the_classes_present():
    torch.manual_seed(0)
    target = torch.randint(0, 3, (2, 6, 7))
    target[0, 0, :3] = IGNORE
    prediction = torch.where(torch.rand(2, 6, 7) < 0.3, torch.randint(0, 4, (2, 6, 7)), target.clamp(max=2))
    prediction[0, 0, :3] = 3  # wrong where unlabelled: must not count
    labelled = target != IGNORE
    ious = [((prediction == c) & (target == c)).sum() / (((prediction == c) & labelled) | (target == c)).sum()
            for c in range(3)]
    loss = lovasz_softmax(_one_hot_logits(prediction, 4), target, IGNORE)
    assert torch.isclose(loss, 1 - torch.stack(ious).float().mean(), atol=1e-5)


def _by_definition(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """The Lovász extension of the Jaccard loss from its definition: the errors' prefixes in
    decreasing order, each set function value Delta(M) = |M| / |foreground or M| computed on sets."""
    values = []
    for c in sorted(set(labels.tolist())):
        foreground = {i for i, label in enumerate(labels.tolist()) if label == c}
        errors = [abs((i in foreground) - p) for i, p in enumerate(probabilities[:, c].tolist())]
        order = sorted(range(len(errors)), key=lambda i: -errors[i])
        value, previous = 0.0, 0.0
        for k in range(1, len(order) + 1):
            mistakes = set(order[:k])
            delta = len(mistakes) / len(foreground | mistakes)
            value += errors[order[k - 1]] * (delta - previous)
            previous = delta
        values.append(value)
    return sum(values) / len(values)


def test_on_soft_predictions_it_is_the_lovasz_extension_by_its_definition():
    torch.manual_seed(1)
    for _ in range(5):
        logits, target = torch.randn(1, 3, 3, 4), torch.randint(0, 3, (1, 3, 4))
        target[0, 0, 0] = IGNORE
        labelled = target.reshape(-1) != IGNORE
        probabilities = logits.softmax(1).permute(0, 2, 3, 1).reshape(-1, 3)[labelled]
        expected = _by_definition(probabilities, target.reshape(-1)[labelled])
        assert abs(lovasz_softmax(logits, target, IGNORE).item() - expected) < 1e-6


def test_a_right_prediction_costs_nothing_and_a_batch_without_labels_keeps_the_graph():
    target = torch.randint(0, 3, (1, 5, 5))
    assert lovasz_softmax(_one_hot_logits(target, 3), target, IGNORE) < 1e-5
    logits = torch.randn(1, 3, 5, 5)
    logits[0, 0, 0, 0] = float("inf")  # an overflowed score under an all-void crop: still no NaN
    logits.requires_grad_()
    loss = lovasz_softmax(logits, torch.full((1, 5, 5), IGNORE), IGNORE)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None and torch.isfinite(logits.grad).all()


def test_its_gradient_raises_the_score_of_a_small_class_where_it_is_missed():
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, 3:5, 3:5] = 1  # a small object on a large background
    logits = torch.zeros(1, 2, 8, 8, requires_grad=True)
    lovasz_softmax(logits, target, IGNORE).backward()
    assert (logits.grad[0, 1, 3:5, 3:5] < 0).all() and (logits.grad[0, 0, 3:5, 3:5] > 0).all()
