"""Datasets, formats and augmentation (no ROS imports)."""
