"""Rosbag replay evaluation: offline (batched, straight into the predictor) and live (through the node)."""
