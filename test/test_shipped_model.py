"""The model in models/ loads with the real loading code and really segments (a quality floor well
below its measured held-out PQ, so a broken or untrained model cannot ship)."""
from panoptic_ros.data.dataset import HELD_OUT_SEED, SyntheticStreetScenes
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.eval.model_eval import evaluate_model
from panoptic_ros.inference.predictor import shipped_model_path
from panoptic_ros.model.checkpoint import load_checkpoint


def test_shipped_model_segments_held_out_scenes():
    model, meta = load_checkpoint(shipped_model_path())
    assert meta["name"] == "street_r18" and model.categories == STREET_CATEGORIES
    held_out = SyntheticStreetScenes(12, HELD_OUT_SEED, 128, 256)
    for mask_cues, floor in ((True, 0.55), (False, 0.5)):
        summary = evaluate_model(model, held_out, model.cfg.panoptic.kind, mask_cues)
        assert summary["All"]["pq"] > floor, summary["All"]
        assert summary["Stuff"]["pq"] > 0.8 and summary["Things"]["pq"] > 0.15, summary
