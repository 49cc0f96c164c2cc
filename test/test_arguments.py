"""Argument types of the command-line tools: refused before any work starts."""
import argparse

import pytest

from panoptic_ros.arguments import CTRL_C_STATUS, positive_float, positive_int, quiet_ctrl_c


def test_counts_and_rates_above_zero_pass():
    assert positive_int("3") == 3 and positive_float("0.5") == 0.5


@pytest.mark.parametrize("kind,text,message", [(positive_int, "0", "at least 1"), (positive_int, "2.5", "not an integer"),
                                               (positive_float, "0", "above 0"), (positive_float, "inf", "above 0"),
                                               (positive_float, "nan", "above 0"), (positive_float, "x", "not a number")])
def test_values_that_would_divide_by_zero_or_run_forever_are_refused(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)


def _predictor_args(*argv):
    from panoptic_ros.arguments import add_predictor_arguments, check_predictor_arguments
    parser = argparse.ArgumentParser()
    add_predictor_arguments(parser)
    args = parser.parse_args(list(argv))
    check_predictor_arguments(parser, args)
    return args


def test_the_predictor_arguments_are_the_checkpoint_and_the_predictor_s_options():
    import dataclasses
    from panoptic_ros.arguments import PREDICTOR_ARGUMENTS
    from panoptic_ros.inference.predictor import PredictorOptions
    assert PREDICTOR_ARGUMENTS == ("model", *(f.name for f in dataclasses.fields(PredictorOptions)))
    assert set(vars(_predictor_args())) == set(PREDICTOR_ARGUMENTS)


def test_the_network_s_options_default_to_the_node_s():
    from panoptic_ros.ros.parameters import BY_NAME, score_threshold_option
    args = _predictor_args()
    assert args.score_threshold is score_threshold_option(BY_NAME["score_threshold"].default) is None  # checkpoint's
    assert args.inference_size == BY_NAME["inference_size"].default and args.mask_cues and args.model is None


@pytest.mark.parametrize("argv, message", [(["--score-threshold", "1.5"], "--score-threshold must be in"),
                                           (["--score-threshold", "-0.1"], "--score-threshold must be in"),
                                           (["--inference-size", "-1", "0"], "--inference-size")])
def test_network_options_no_network_could_run_with_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        _predictor_args(*argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_tool_stopped_by_ctrl_c_says_one_line_and_exits_as_a_shell_expects(capsys):
    @quiet_ctrl_c("panoptic-test")
    def main(argv: list[str]) -> int:
        """The tool's entry."""
        if argv:
            raise KeyboardInterrupt
        return 0

    assert main([]) == 0 and main.__doc__ == "The tool's entry."
    assert main(["stop"]) == CTRL_C_STATUS == 130
    assert capsys.readouterr().err == "panoptic-test: interrupted\n"
