"""panoptic_ros: live panoptic segmentation for ROS 2 (UPSNet and dense-affinity panoptic heads)."""

__version__ = "0.1.0"
