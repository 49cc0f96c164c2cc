from panoptic_ros.message_kind import KIND_CHARS, message_kind


def test_messages_that_differ_only_in_their_numbers_are_one_kind():
    assert message_kind("data has 1000 bytes, expected 3*4 = 12") == message_kind("data has 7 bytes, expected 5*6 = 30")
    assert message_kind("data has 7 bytes") != message_kind("step 7 is smaller")
    assert len(message_kind("x" * 1_000_000)) == KIND_CHARS
