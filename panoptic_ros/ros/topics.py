"""The node's name and topic names, defined once: the node creates its publishers and subscriptions
from these, and the launch file, the replay and soak tools and the test harness find it by them."""
from __future__ import annotations

import re
from typing import Callable

from panoptic_msgs.msg import PanopticSegmentation
from sensor_msgs.msg import Image

NODE_NAME = "panoptic"  # the default; the launch file's node_name:= renames the node
NODE_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # rcl's rule for a node's base name
DIAGNOSTICS = "/diagnostics"
CATEGORIES = "categories"  # ~/categories (latched)
LEGEND = "legend"          # ~/legend (latched)
# A camera's inputs, relative, so remapping and namespaces apply (image_transport's names).
IMAGE = "image"
TRANSPORTS = ("raw", "compressed")  # the node's input_transport: image, or image/compressed
RAW, COMPRESSED = TRANSPORTS
COMPRESSED_SUFFIX = "/compressed"
COMPRESSED_IMAGE = IMAGE + COMPRESSED_SUFFIX
DEFAULT_CAMERA = "/camera/image_raw"  # the camera topic the launch file and the tools assume
# Per camera, private (~/<camera>/<name>): the results, then the overlay drawn from them.
PANOPTIC, SEMANTIC, SEGMENTS, OVERLAY = "panoptic", "semantic", "segments", "overlay"
RESULT_OUTPUTS = {PANOPTIC: Image, SEMANTIC: Image, SEGMENTS: PanopticSegmentation}
LABEL_IMAGES = (PANOPTIC, SEMANTIC)  # the full-size label images among them
OUTPUTS = {**RESULT_OUTPUTS, OVERLAY: Image}
# The image outputs' encodings: panoptic ids (structures.panoptic_id) as int32, category ids, the overlay.
ENCODINGS = {PANOPTIC: "32SC1", SEMANTIC: "mono8", OVERLAY: "rgb8"}


def camera_topic(camera: str, name: str) -> str:
    """Camera ``camera``'s topic ``name`` (``image``, ``panoptic``, ...): ``camera/name``, or ``name``
    itself for the unnamed camera ``""``, whose topics are those of the single-camera node."""
    return f"{camera}/{name}" if camera else name


def compressed_topic(image_topic: str) -> str:
    """The compressed stream of the image topic ``image_topic``, as image_transport names it."""
    return image_topic + COMPRESSED_SUFFIX


def input_topic(compressed: bool) -> str:
    """A camera's input topic for the transport: ``image`` or ``image/compressed``."""
    return COMPRESSED_IMAGE if compressed else IMAGE


def camera_input_topic(camera: str, compressed: bool, resolve: Callable[..., str]) -> str:
    """Camera ``camera``'s input, named as image_transport names it: the compressed stream is the image
    topic, remapped, + ``/compressed`` (``-r image:=/cam/image_raw`` moves both), unless
    ``image/compressed`` is remapped itself. ``resolve``: the node's ``resolve_topic_name`` (a name
    with remappings applied, or with ``only_expand=True`` without them)."""
    name = camera_topic(camera, input_topic(compressed))
    if not compressed or resolve(name) != resolve(name, only_expand=True):
        return name
    return compressed_topic(resolve(camera_topic(camera, IMAGE)))


def node_name(namespace: str = "", name: str = NODE_NAME) -> str:
    """The node's fully qualified name in ``namespace``: ``/panoptic``, ``/ns/panoptic`` (``name``: its
    base name; ``ValueError`` unless letters, digits and _, not starting with a digit)."""
    if not NODE_NAME_PATTERN.fullmatch(name):
        raise ValueError(f"node name {name[:80]!r}: letters, digits and _, not starting with a digit")
    namespace = namespace.strip("/")
    return f"/{namespace}/{name}" if namespace else f"/{name}"


def node_topic(name: str, namespace: str = "", node: str = NODE_NAME) -> str:
    """The absolute name of the private topic ``name`` of the node ``node`` in ``namespace``:
    ``/panoptic/segments``."""
    return f"{node_name(namespace, node)}/{name}"


def camera_output_topic(name: str, camera: str = "", namespace: str = "", node: str = NODE_NAME) -> str:
    """The absolute name of camera ``camera``'s output ``name`` of the node ``node`` in ``namespace``:
    ``/panoptic/segments``, ``/robot1/panoptic/front/segments``."""
    return node_topic(camera_topic(camera, name), namespace, node)
