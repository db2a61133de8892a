"""ganblocks.cli: one ``error:`` line and exit code 2 for whatever goes wrong with the input."""

import argparse

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ganblocks.backbones import WeightsError
from ganblocks.cli import ArgumentParser, HelpFormatter, error_message, fail, resolve_device, user_errors
from ganblocks.training import CheckpointError


def _refusal(capsys: pytest.CaptureFixture, error: BaseException, context: str | None = None) -> str:
    with pytest.raises(SystemExit) as e, user_errors(context):
        raise error
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err.rstrip("\n")


def test_an_exception_becomes_one_line_with_its_context(capsys: pytest.CaptureFixture) -> None:
    assert _refusal(capsys, ValueError("bad width"), "cannot build the networks") == \
        "error: cannot build the networks: bad width"
    assert _refusal(capsys, FileNotFoundError("no such file: x")) == "error: no such file: x"


@given(st.text())
def test_any_message_is_one_line(message: str) -> None:
    for err in (RuntimeError(message), KeyError(message), Exception(message)):
        line = error_message(err)
        assert "\n" not in line and "\r" not in line and line.strip() == line and line


def test_exceptions_that_do_not_speak_to_users_are_named(capsys: pytest.CaptureFixture) -> None:
    assert _refusal(capsys, KeyError("config")) == "error: missing entry 'config'"
    assert _refusal(capsys, ZeroDivisionError("division by zero")) == "error: ZeroDivisionError: division by zero"
    assert _refusal(capsys, AssertionError()) == "error: AssertionError"


def test_exits_and_interrupts_pass_through() -> None:
    with pytest.raises(SystemExit) as e, user_errors():
        raise SystemExit(143)
    assert e.value.code == 143
    with pytest.raises(KeyboardInterrupt), user_errors():
        raise KeyboardInterrupt


def test_the_traceback_can_be_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANBLOCKS_TRACEBACK", "1")
    with pytest.raises(ValueError, match="bad width"), user_errors("context"):
        raise ValueError("bad width")


def test_weights_errors_name_the_flag_of_their_python_argument() -> None:
    err = WeightsError("weights file 'w.safetensors' does not exist.", argument="dino_weights", random="None")
    assert "Pass dino_weights=<path" in str(err) and "dino_weights=None for random" in str(err)
    line = error_message(err)
    assert "Pass --dino-weights <path" in line and "--dino-weights none for random" in line
    assert "dino_weights=" not in line
    own = WeightsError("the 'tiny' preset has no published weights.")  # a factory's own argument
    assert error_message(own) == str(own) and "pretrained=False" in str(own)


def test_advice_for_python_callers_is_left_out(capsys: pytest.CaptureFixture) -> None:
    err = CheckpointError("run/G.safetensors does not fit network 'G'", python_hint="pass strict=False")
    assert str(err) == "run/G.safetensors does not fit network 'G'. pass strict=False"
    assert _refusal(capsys, err) == "error: run/G.safetensors does not fit network 'G'"


def test_fail_prints_one_line(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        fail("two\nlines")
    assert e.value.code == 2 and capsys.readouterr().err == "error: two lines\n"


def test_argument_errors_are_one_line_without_the_usage(capsys: pytest.CaptureFixture) -> None:
    p = ArgumentParser(prog="tool")
    p.add_argument("--steps", type=int, default=3, help="steps")
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("go").add_argument("--n", type=int)
    for argv, needle in ((["--steps", "x"], "--steps: invalid int value: 'x'"), (["--nope"], "--nope"),
                         (["go", "--n", "y"], "tool go --help")):
        with pytest.raises(SystemExit) as e:
            p.parse_args(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ") and needle in err, err


def test_help_shows_defaults_where_they_say_something() -> None:
    p = argparse.ArgumentParser(formatter_class=HelpFormatter, description="line one\n  kept as written")
    p.add_argument("--batch", type=int, default=32, help="images per pass")
    p.add_argument("--out", default=None, help="output file")
    p.add_argument("--seeds", default="0-7", help="seeds (default 0-7)")
    p.add_argument("--fast", action="store_true", help="go fast")
    p.add_argument("--prompt", action="append", default=[], help="a prompt")
    text = " ".join(p.format_help().split())
    assert "images per pass (default: 32)" in text
    assert "output file --seeds" in text and "(default 0-7) --fast" in text and "go fast --prompt" in text
    assert "line one\n  kept as written" in p.format_help()


def test_devices_are_checked() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'tpu0' is not a device name"):
        resolve_device("tpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda:0")
