"""Package files: from the ament share directory when installed there, else from the source tree."""
from panoptic_ros.resources import SOURCE_ROOT, package_file


def test_files_are_found_in_the_source_tree_without_an_ament_install():
    assert package_file("panoptic_ros", "config", "panoptic.yaml") == SOURCE_ROOT / "config" / "panoptic.yaml"
    assert package_file("panoptic_msgs", "msg").parent == SOURCE_ROOT / "panoptic_msgs"
    assert package_file("panoptic_ros", "config", "panoptic.yaml").is_file()
