"""``python -m panoptic_ros.replay.sample_bag``: its arguments are refused before anything is written."""
import pytest

from panoptic_ros.replay.sample_bag import main


@pytest.mark.parametrize("extra,message", [([], "exists: a bag is written to a new folder"),
                                           (["--frames", "-3"], "must be at least 1")])
def test_an_existing_folder_or_no_frames_is_a_usage_error_not_a_traceback(extra, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), *extra])  # tmp_path exists
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_data_set_it_cannot_read_is_one_line_and_status_2(tmp_path, capsys):
    assert main([str(tmp_path / "bag"), "--data", "camvid", "--root", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sample_bag: not a CamVid folder") and err.count("\n") == 1
