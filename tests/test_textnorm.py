"""Simplified copies of traditional text keep every character in place."""

from __future__ import annotations

import zhconv

from retrieval.textnorm import simplified_in_place


def test_words_of_another_length_do_not_shift_the_text_after_them():
    # 公尺 → 米 and 波札那 → 博茨瓦纳 change length and cancel out over the whole sentence
    text = "這座塔高三百公尺，位於波札那的首都，由陳美玲設計。"
    out = simplified_in_place(text)
    assert len(out) == len(text)
    i = text.index("陳美玲")
    assert out[i:i + 3] == "陈美玲"
    assert out[text.index("位於"):][:2] == "位于"
    assert out[text.index("設計"):][:2] == "设计"


def test_simplified_and_latin_text_is_left_as_it_is():
    for text in ("京安城际铁路投资有限公司总工程师王院淼等45人获岗位标兵", "Hello, world 2020"):
        assert simplified_in_place(text) == text


def test_no_traditional_character_is_left_next_to_words_of_another_length():
    text = "臺灣的軟體公司在波札那設立了辦公室，距離首都二十公尺。"
    out = simplified_in_place(text)
    assert len(out) == len(text)
    assert [c for c in out if zhconv.convert(c, "zh-cn") != c] == []
