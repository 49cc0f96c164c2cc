"""The replay report's Markdown: the settings that tell two reports apart, and what a latency measures."""
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.replay.report import ReplayRecorder, markdown


def _report(extra):
    recorder = ReplayRecorder(STREET_CATEGORIES)
    recorder.add_result([1], [10], 0.2)
    return recorder.finish({"mode": "offline", "model": "m", "device": "cpu", "mask_cues": True, **extra})


def test_the_page_names_the_settings_and_that_offline_latency_is_a_batchs():
    page = markdown(_report({"head": "upsnet", "precision": "fp32", "score_threshold": 0.5,
                             "inference_size": [360, 0], "batch": 4}))
    assert "head: upsnet, precision: fp32, score threshold: 0.5, inference size: [360, 0], batch: 4" in page
    assert "inference latency (each frame: its batch of up to 4): p50 200.0 ms" in page
    single = markdown(_report({"batch": 1}))
    assert "- inference latency: p50 200.0 ms" in single and "head:" not in single


def test_each_kind_of_bad_frame_reason_is_kept_once_with_where_it_first_happened_and_its_count():
    """A flaky camera's corrupt JPEGs differ in their byte counts: one reason, not one per frame."""
    recorder = ReplayRecorder(STREET_CATEGORIES)
    recorder.bad("compressed image (1000 bytes) could not be decoded", 1_700_000_000_200_000_000)
    for size in range(2000, 2100):
        recorder.bad(f"compressed image ({size} bytes) could not be decoded", 1_700_000_001_000_000_000)
    recorder.bad("not a JPEG")
    recorder.failed("inference failed: out of memory (tried 20 MiB)")
    recorder.failed("inference failed: out of memory (tried 40 MiB)")
    assert recorder.bad_frames == 102 and recorder.failed_frames == 2
    assert recorder.errors == ["compressed image (1000 bytes) could not be decoded (first at bag time "
                               "1700000000.200000000 s); 101 frames of this kind", "not a JPEG"]
    assert recorder.failures == ["inference failed: out of memory (tried 20 MiB); 2 frames of this kind"]
    report = recorder.finish({})
    assert report["bad_frame_errors"] == recorder.errors and report["failures"] == recorder.failures


def test_a_label_image_is_scored_against_one_frame_of_its_stamp_only():
    """A driver without a clock stamps every frame alike: the label image is one frame's, not all of theirs."""
    import numpy as np
    from panoptic_ros.replay.ground_truth import GroundTruthFrame
    recorder = ReplayRecorder(STREET_CATEGORIES)
    labels = np.full((4, 4), 1000, np.int32)  # category 1 (road) everywhere
    truth = GroundTruthFrame.of(labels)
    for _ in range(3):
        recorder.add_ground_truth(0, truth, labels)
    assert recorder.gt_frames == 1 and len(recorder.gt_skipped) == 2
    assert "another frame has this stamp" in recorder.gt_skipped[0]


def test_with_ground_truth_the_page_says_where_each_class_s_pixels_went():
    import numpy as np
    from panoptic_ros.replay.ground_truth import GroundTruthFrame
    recorder = ReplayRecorder(STREET_CATEGORIES)
    truth = np.full((4, 4), 1000, np.int32)  # road everywhere
    predicted = truth.copy()
    predicted[:1] = 2000  # its first row taken for sidewalk
    recorder.add_ground_truth(0, GroundTruthFrame.of(truth), predicted)
    report = recorder.finish({"mode": "offline", "model": "m", "device": "cpu", "mask_cues": True})
    assert report["pq"]["confusion"] == {"road": {"road": 12, "sidewalk": 4}}
    assert "road              75.00  75.00 100.00  sidewalk 25.0 %" in markdown(report)
