"""What an operator installs and runs next to Asterisk: serve --only, hold music, the docs."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from cac311.cli import build_parser
from case_core.domain.callbacks import CallbackKind
from ivr.prompts.hold_music import FILE_NAME, SAMPLE_RATE, write_hold_music

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "parts"),
    [
        (["serve", "--only", "ami,web"], {"ami", "web"}),
        (["serve", "--only", "ami", "--only", "web"], {"ami", "web"}),
        (["serve", "--only", "ivr, dialer", "--only", "web"], {"ivr", "dialer", "web"}),
    ],
)
def test_given_serve_only_as_a_comma_list_or_repeated_then_both_are_accepted(argv, parts):
    args = build_parser().parse_args(argv)
    assert {p for group in args.only for p in group} == parts


@pytest.mark.parametrize("value", ["ami,nope", "", ","])
def test_given_serve_only_with_an_unknown_part_then_argparse_refuses_it(value, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--only", value])
    assert "invalid part" in capsys.readouterr().err


def test_given_the_moh_command_then_a_playable_8khz_file_fills_the_class_directory(tmp_path):
    args = build_parser().parse_args(["prompts", "moh", "--out", str(tmp_path / "moh/cac311")])
    assert args.handler(None, args) == 0
    path = tmp_path / "moh/cac311" / FILE_NAME
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
        assert w.getnframes() >= 20 * SAMPLE_RATE  # long enough not to loop every few seconds
        frames = w.readframes(w.getnframes())
    assert max(frames) > 0  # not silence
    assert list(tmp_path.glob("moh/cac311/*")) == [path]  # no temporary file left
    write_hold_music(tmp_path / "moh/cac311")  # idempotent


def test_given_the_asterisk_readme_then_callback_kinds_are_the_dialers():
    text = (ROOT / "asterisk_conf" / "README.md").read_text(encoding="utf-8")
    kinds = set(re.findall(r"CAC311_CALLBACK_KIND=(\w+)", text))
    assert kinds, "the README documents the callback kind"
    assert kinds <= {k.value for k in CallbackKind}
    assert "followup`" not in text and "=satisfaction" not in text
