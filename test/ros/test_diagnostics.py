"""Frame counters and the /diagnostics status, without DDS."""
from diagnostic_msgs.msg import DiagnosticStatus

from panoptic_ros.ros.diagnostics import FrameStats, NodeStats, camera_status, diagnostic_status, status_name


def test_gaps_in_each_publishers_sequence_numbers_count_as_lost_frames():
    stats = FrameStats()
    for publisher, sequence in [(b"a", 5), (b"a", 6), (b"b", 1), (b"a", 9), (b"b", 2), (b"a", 10), (b"b", 7)]:
        stats.count_received(publisher, sequence, dropped=False)
    assert (stats.received, stats.lost) == (7, 2 + 4)  # a: 7, 8 missing; b: 3..6 missing
    stats.count_received(b"a", 8, dropped=True)  # late, out of order: not a new gap
    stats.count_received(None, None, dropped=False)  # a middleware without sequence numbers
    assert (stats.received, stats.lost, stats.dropped) == (9, 6, 1)
    assert stats.snapshot()["frames_lost"] == 6


def test_what_publishers_sent_while_the_node_was_not_subscribed_is_not_lost():
    stats = FrameStats()
    for sequence in (1, 2, 3):
        stats.count_received(b"a", sequence, dropped=False)
    stats.forget_publishers()  # deactivated, then activated again: the camera went on meanwhile
    for sequence in (300, 301, 303):
        stats.count_received(b"a", sequence, dropped=False)
    assert stats.lost == 1


def test_nodes_in_different_namespaces_report_under_different_names_and_hardware_ids():
    stats = FrameStats()
    stats.count_received(b"a", 1, dropped=False)
    snap = stats.snapshot()
    a = diagnostic_status("/panoptic", "cpu", snap, {})
    b = diagnostic_status("/car2/panoptic", "cpu", snap, {})
    assert a.name == "panoptic: panoptic segmentation" == status_name("/panoptic")  # what the replay listens for
    assert b.name == "car2/panoptic: panoptic segmentation" == status_name("/car2/panoptic")
    assert a.hardware_id != b.hardware_id and a.level == DiagnosticStatus.OK


def test_problems_raise_the_level_and_are_named():
    stats = FrameStats()
    stats.count_received(b"a", 1, dropped=False)
    stats.count("bad")
    stats.count("processed", latency=0.25)
    status = diagnostic_status("/panoptic", "cpu", stats.snapshot(), {"model": "m"})
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.WARN and status.message == "1 bad frames"
    assert values["latency_p50_ms"] == "250.000" and values["model"] == "m" and values["device"] == "cpu"


def test_a_status_warns_while_its_problems_grow_and_keeps_their_totals():
    stats = FrameStats()
    stats.count_received(b"a", 1, dropped=False)
    stats.count("bad")
    stats.count("bad")
    assert diagnostic_status("/panoptic", "cpu", stats.snapshot(), {}).message == "2 bad frames"
    stats.count_received(b"a", 2, dropped=False)
    stats.count("processed", latency=0.1)
    quiet = diagnostic_status("/panoptic", "cpu", stats.snapshot(), {})  # nothing new since the last report
    values = {kv.key: kv.value for kv in quiet.values}
    assert (quiet.level, quiet.message) == (DiagnosticStatus.OK, "running")
    assert (values["bad_frames"], values["new_bad_frames"]) == ("2", "0")
    stats.count_received(b"a", 3, dropped=False)
    stats.count_received(b"a", 6, dropped=False)
    stats.count("errors")
    again = diagnostic_status("/panoptic", "cpu", stats.snapshot(), {})
    assert (again.level, again.message) == (DiagnosticStatus.WARN, "1 errors, 2 frames lost")


def test_the_node_totals_its_cameras_and_reports_batch_sizes_beside_each_cameras_own_counts():
    stats = NodeStats(["front", "left"])
    for latency in (0.1, 0.2, 0.3):
        stats.cameras["front"].count_received(None, None, dropped=latency > 0.1)
        stats.cameras["front"].count("processed", latency=latency)
    stats.cameras["left"].count_received(None, None, dropped=False)
    stats.cameras["left"].count("processed", latency=0.9)
    stats.cameras["left"].count("bad")
    for size in (2, 1, 2):
        stats.count_batch(size)
    total, per_camera = stats.snapshot()
    assert (total["frames_received"], total["frames_processed"], total["frames_dropped"], total["bad_frames"]) == (
        4, 4, 2, 1)
    assert total["latency_max_ms"] == 900.0 and total["latency_p50_ms"] == 250.0  # over both cameras' frames
    assert (total["batches"], total["batch_size_max"]) == (3, 2) and abs(total["batch_size_mean"] - 5 / 3) < 1e-9
    assert per_camera["front"]["frames_dropped"] == 2 and per_camera["left"]["frames_dropped"] == 0
    assert per_camera["front"]["latency_max_ms"] == 300.0 and "batches" not in per_camera["front"]
    left = camera_status("/car/panoptic", "cpu", "left", per_camera["left"])
    assert left.name == "car/panoptic: camera left" and left.level == DiagnosticStatus.WARN
    assert left.message == "1 bad frames" and left.hardware_id == "cpu /car/panoptic"


def test_an_active_node_without_input_warns_and_an_inactive_one_says_so():
    """A stopped camera, a mistyped topic or a QoS that matches no publisher: no frame in two reports
    (one quiet report is a 1 Hz camera, or the first report after the warm-up). While the lifecycle
    has the node inactive, no input is expected."""
    stats = NodeStats(["front", "left"])
    stats.cameras["front"].count_received(None, None, dropped=False)
    for report in range(3):
        total, per_camera = stats.snapshot()
        node = diagnostic_status("/panoptic", "cpu", total, {})
        front, left = (camera_status("/panoptic", "cpu", c, per_camera[c]) for c in ("front", "left"))
        assert node.level == DiagnosticStatus.OK if report < 2 else node.message == "no input", report
        assert front.level == DiagnosticStatus.OK if report < 2 else front.message == "no input", report
        assert (left.message == "no input") == (report >= 1), report
    assert diagnostic_status("/panoptic", "cpu", total, {}, active=False).message == "inactive"
    assert diagnostic_status("/panoptic", "cpu", total, {}, active=False).level == DiagnosticStatus.OK
    stats.cameras["left"].count_received(None, None, dropped=False)
    total, per_camera = stats.snapshot()
    assert diagnostic_status("/panoptic", "cpu", total, {}).level == DiagnosticStatus.OK  # one camera came back
    stats.forget_publishers()  # activated again after a quiet inactive spell: the first report does not warn
    assert camera_status("/panoptic", "cpu", "front", stats.snapshot()[1]["front"]).level == DiagnosticStatus.OK
