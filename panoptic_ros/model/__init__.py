"""The panoptic network, in plain PyTorch (no ROS imports)."""
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.structures import PanopticResult

__all__ = ["PanopticNet", "PanopticResult"]
