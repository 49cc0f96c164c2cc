"""Operator tools that drive the ROS node from outside (soak and fuzz runs)."""
