"""Inference: the ``Predictor`` interface the node and tools call, and overlay rendering."""
