"""Argument types of the command-line tools: refused before any work starts."""
import argparse

import pytest

from panoptic_ros.arguments import positive_float, positive_int


def test_counts_and_rates_above_zero_pass():
    assert positive_int("3") == 3 and positive_float("0.5") == 0.5


@pytest.mark.parametrize("kind,text,message", [(positive_int, "0", "at least 1"), (positive_int, "2.5", "not an integer"),
                                               (positive_float, "0", "above 0"), (positive_float, "inf", "above 0"),
                                               (positive_float, "nan", "above 0"), (positive_float, "x", "not a number")])
def test_values_that_would_divide_by_zero_or_run_forever_are_refused(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)
