"""The one invisible-character rule (digest_mailer/text.py) in its three shapes."""

from __future__ import annotations

import pytest

from digest_mailer.text import is_invisible, one_line, visible, without_format

HIDDEN = "\u202e\u200b\u2066\u00ad\u2069\x07\u200f\ufeff\ud800"


@pytest.mark.parametrize("char", HIDDEN)
def test_every_hiding_character_is_invisible(char: str) -> None:
    assert is_invisible(char)


@pytest.mark.parametrize("char", "aZ9 王é\u00a0-")
def test_letters_and_spaces_are_not(char: str) -> None:
    assert not is_invisible(char)


def test_feed_text_loses_its_controls_inside_words_and_keeps_its_line_breaks_as_spaces() -> None:
    assert visible("a\x00b\x07c\u200bd\x85e") == "abcde"
    assert visible("Ada\nLovelace\u2028and\tBabbage") == "Ada Lovelace and Babbage"
    assert visible("\u202eevil\u202c title") == "evil title"  # a bidi override hides nothing
    assert visible("plain ASCII, untouched") == "plain ASCII, untouched"


def test_a_name_keeps_the_gap_a_control_made_and_a_format_character_vanishes() -> None:
    assert one_line("Ada\x00Lovelace") == "Ada Lovelace"
    assert one_line("Ada\u200bLovelace") == "AdaLovelace"


def test_without_format_keeps_everything_but_format_characters() -> None:
    assert without_format("王\u200b小\u202e明\n") == "王小明\n"
    assert without_format("محمد\u200cعلی") == "محمدعلی"
