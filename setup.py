"""panoptic_ros: an ament_python package (the repository root)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "panoptic_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*")),
        (f"share/{PACKAGE}/samples/street_demo", glob("samples/street_demo/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="panoptic_ros maintainers",
    maintainer_email="maintainers@panoptic-ros.dev",
    description="Live panoptic segmentation (UPSNet and dense-affinity heads) for ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "panoptic_node = panoptic_ros.ros.entry:main",
            "replay = panoptic_ros.entry:replay",
            "panoptic-replay = panoptic_ros.entry:replay",
            "panoptic-train = panoptic_ros.entry:train",
            "panoptic-eval = panoptic_ros.entry:evaluate",
            "panoptic-bench = panoptic_ros.entry:bench",
            "panoptic-soak = panoptic_ros.entry:soak",
            "panoptic-predict = panoptic_ros.entry:predict",
        ],
    },
)
