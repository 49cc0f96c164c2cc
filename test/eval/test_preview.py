"""The evaluation's preview strip."""
import cv2
import numpy as np

from helpers import small_model_config
from panoptic_ros.data.dataset import SyntheticStreetScenes
from panoptic_ros.eval.preview import write_preview
from panoptic_ros.model.network import PanopticNet


class _TwoSizes:
    """A landscape frame and a smaller one of another shape, as a data set of one's own may hold."""

    categories = SyntheticStreetScenes.categories

    def __init__(self) -> None:
        self.samples = [SyntheticStreetScenes(1, height=h, width=w)[0] for h, w in ((64, 128), (48, 64))]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        return self.samples[i]


def test_frames_of_other_sizes_share_one_strip_unscaled(tmp_path):
    source = _TwoSizes()
    model = PanopticNet(small_model_config(), source.categories).eval()
    path = write_preview(tmp_path / "preview.png", model, source, "upsnet", True)
    strip = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert strip.shape == (64 + 48, 3 * 128, 3)  # a row per frame: input | prediction | ground truth
    assert np.array_equal(strip[:64, :128], source[0].image) and np.array_equal(strip[64:, :64], source[1].image)
    assert not strip[64:, 3 * 64:].any()  # the narrower row padded with black
