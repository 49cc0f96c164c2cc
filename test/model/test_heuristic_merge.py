import torch

from panoptic_ros.structures import Detections
from panoptic_ros.model.heuristic_merge import heuristic_channels
from panoptic_ros.model.postprocess import instance_masks


def test_higher_score_wins_overlaps_and_mostly_hidden_instances_are_dropped():
    # 2 stuff + 1 thing class; semantic says "thing" on columns 0-5, road elsewhere.
    sem = torch.zeros(1, 3, 4, 8)
    sem[0, 2, :, :6] = 5
    sem[0, 0, :, 6:] = 5
    boxes = torch.tensor([[[0.0, 0, 4, 4], [2.0, 0, 6, 4], [0.0, 0, 3, 4]]])
    dets = Detections(boxes, torch.tensor([[1, 1, 1]]), torch.tensor([[0.9, 0.8, 0.7]]),
                      torch.tensor([[True, True, True]]))
    channels, confidence = heuristic_channels(sem, dets, instance_masks(sem, dets, None, 2), num_stuff=2)
    ch = channels[0]
    assert torch.all(ch[:, :4] == 3)   # slot 0 (score 0.9)
    assert torch.all(ch[:, 4:6] == 4)  # slot 1 keeps its visible half (0.5 >= overlap)
    assert not torch.any(ch == 5)      # slot 2 is entirely hidden by slot 0: dropped
    assert torch.all(ch[:, 6:] == 0)   # road
    assert torch.allclose(confidence[0, :, :4], torch.tensor(0.9))


def test_thing_pixels_without_instances_are_unknown():
    sem = torch.zeros(1, 3, 2, 2)
    sem[0, 2] = 5
    empty = Detections(torch.zeros(1, 0, 4), torch.zeros(1, 0, dtype=torch.long), torch.zeros(1, 0),
                       torch.zeros(1, 0, dtype=torch.bool))
    channels, _ = heuristic_channels(sem, empty, instance_masks(sem, empty, None, 2), num_stuff=2)
    assert torch.all(channels == 2)
