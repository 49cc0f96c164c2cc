"""Defaults of the run-time options that the node's parameters, the predictor and every command line
share, defined once and without PyTorch, so the launch file's parameter table can read them."""
from __future__ import annotations

DEFAULT_DEVICE = "auto"  # the first GPU if there is one, else the CPU
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
DEFAULT_SCORE_THRESHOLD = 0.5  # a model config's minimum detection score, unless it sets its own
SCORE_THRESHOLD_RANGE = (0.0, 1.0)  # what a score threshold may be: scores are probabilities
CHECKPOINT_SCORE_THRESHOLD = -1.0  # the node's parameter for "the checkpoint's own" (a ROS double has no None)
FULL_BITS = 16  # a 16-bit camera frame's significant bits unless its camera says fewer (cv_bridge's assumption)
DEFAULT_OVERLAY_ALPHA = 0.5  # opacity of the segment colours in the overlay
OVERLAY_ALPHA_RANGE = (0.0, 1.0)  # what an overlay's opacity may be: from the image alone to the colours alone
