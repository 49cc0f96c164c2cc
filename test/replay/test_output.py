"""The replay's output folder: only a replay's own output is ever replaced."""
import json

import pytest

from panoptic_ros.replay.output import INCOMPLETE, REPORT_JSON, StagedOutput


def _finish(out):
    with StagedOutput(out) as work:
        (work / REPORT_JSON).write_text(json.dumps({"bag": "b", "mode": "offline"}))
        (work / "output_bag").mkdir()


def test_a_replay_replaces_its_own_output(tmp_path):
    out = tmp_path / "out"
    _finish(out)
    (out / "output_bag" / "old").write_text("")
    _finish(out)
    assert sorted(p.name for p in out.iterdir()) == ["output_bag", REPORT_JSON]
    assert not (out / "output_bag" / "old").exists() and not (tmp_path / "out.partial").exists()


@pytest.mark.parametrize("files, why", [
    ({REPORT_JSON: '{"pq": {}}', "preview.png": ""}, "its report.json is not a replay's report"),  # panoptic-eval's
    ({REPORT_JSON: '{"bag": "b", "mode": "live"}', "calib.yaml": "k: 1"}, "it holds calib.yaml"),
    ({REPORT_JSON: "not json"}, "its report.json is not a replay's report"),
    ({"preview.png": ""}, "no report.json"),
])
def test_a_folder_that_is_not_a_replays_output_is_refused_and_kept(tmp_path, files, why):
    out = tmp_path / "out"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    with pytest.raises(ValueError, match=f"is not a replay's \\({why}"):
        with StagedOutput(out):
            pass
    assert {p.name: p.read_text() for p in out.iterdir()} == files


def test_a_staging_folder_is_reused_only_when_a_replay_left_it(tmp_path):
    partial = tmp_path / "out.partial"
    partial.mkdir()
    (partial / INCOMPLETE).write_text("stopped")
    (partial / "report.md").write_text("")
    _finish(tmp_path / "out")  # a replay's leftover staging folder: replaced
    (partial := tmp_path / "x.partial").mkdir()
    (partial / INCOMPLETE).write_text("")
    (partial / "thesis.tex").write_text("mine")
    with pytest.raises(ValueError, match="it holds thesis.tex"):
        _finish(tmp_path / "x")
    assert (partial / "thesis.tex").read_text() == "mine"


def test_a_failure_keeps_what_was_written_with_its_reason_and_leaves_nothing_when_nothing_was(tmp_path):
    with pytest.raises(RuntimeError):
        with StagedOutput(tmp_path / "early"):
            raise RuntimeError("bad --model")
    assert not (tmp_path / "early.partial").exists() and not (tmp_path / "early").exists()
    with pytest.raises(RuntimeError):
        with StagedOutput(tmp_path / "late") as work:
            (work / "output_bag").mkdir()
            raise RuntimeError("disk full")
    assert "disk full" in (tmp_path / "late.partial" / INCOMPLETE).read_text()
    assert not (tmp_path / "late").exists()


def test_each_cameras_preview_of_a_several_camera_replay_is_a_replays_own_file(tmp_path):
    from panoptic_ros.replay.output import preview_names
    assert preview_names("front", several=False) == ("preview.mp4", "preview.png")
    assert preview_names("rig/front", several=True) == ("preview_rig-front.mp4", "preview_rig-front.png")
    assert preview_names("front", several=False, video_format="webm") == ("preview.webm", "preview.png")
    out = tmp_path / "out"
    with StagedOutput(out) as work:
        (work / REPORT_JSON).write_text(json.dumps({"bag": "b", "mode": "offline"}))
        for name in {*preview_names("rig/front", several=True), *preview_names("rear", True, "webm")}:
            (work / name).write_text("")
    _finish(out)  # replaced: every name in it is a replay's
    (out / "preview_my notes.png").write_text("")
    with pytest.raises(ValueError, match="it holds preview_my notes.png"):
        _finish(out)
