"""The ROS 2 layer: message conversion and the node. Everything else lives in the ROS-free core."""
