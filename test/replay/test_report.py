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
