"""Tools on top of every layer (they may use the core, the ROS layer and the replay): the demo, the
benchmarks, soak and fuzz runs."""
