"""Panoptic quality evaluation (no ROS imports)."""
