"""Text helpers shared by ingestion, chunking, search and answering.

Stored text stays as written, less what ``clean_text`` removes at ingestion
(terminal escapes, invisible format and control characters); ``for_search``
makes the form we match on (the same cleaning, NFKC folds full-width digits
and letters, zhconv folds traditional to simplified, case is folded).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RE = re.compile(f"[{CJK}]")
# Chinese punctuation, full-width forms and brackets: spaces next to these are layout noise.
CJK_PUNCT = "，。、；：？！…—·“”‘’「」『』《》〈〉（）【】〔〕％～﹏"
SENTENCE_END = "。！？!?；;…"
CLOSERS = "”’」』）)》】"

_SPACE_RE = re.compile(r"[ \t\u3000\u00a0]+")


def _is_wordish(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "%.-+/'")


def squeeze_spaces(text: str) -> str:
    """Drop layout spaces inside Chinese text; keep one space between Latin words or numbers."""
    out: list[str] = []
    pos = 0
    for m in _SPACE_RE.finditer(text):
        out.append(text[pos:m.start()])
        before = text[m.start() - 1] if m.start() > 0 else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if before and after and _is_wordish(before) and _is_wordish(after):
            out.append(" ")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def join_lines(a: str, b: str) -> str:
    """Join two layout lines of one paragraph (column breaks fall anywhere)."""
    if a and b and a[-1].isascii() and a[-1].isalpha() and b[0].isascii() and b[0].isalpha():
        return a + " " + b
    return a + b


@lru_cache(maxsize=1)
def _zhconv():
    import zhconv

    return zhconv


def simplified_in_place(text: str) -> str:
    """Traditional characters converted to simplified, every character kept in
    place, so positions in the result are positions in ``text``.

    Word by word as zhconv segments it: a few words convert to another length
    (公尺 → 米, 波札那 → 博茨瓦纳), and converting the whole text shifted everything
    after them (two such words can even cancel out in the total length). Those
    words are converted character by character instead."""
    if not CJK_RE.search(text):
        return text
    kept = "".join(map(_simplified_word, _zhconv().tokenize(text, "zh-cn")))
    return kept if len(kept) == len(text) else text


@lru_cache(maxsize=65536)
def _simplified_word(word: str) -> str:
    """One word as zhconv segments it, simplified in place (the same words recur on every page)."""
    conv = _zhconv().convert(word, "zh-cn")
    return conv if len(conv) == len(word) else "".join(map(_one_character, word))


def _one_character(c: str) -> str:
    s = _zhconv().convert(c, "zh-cn")
    return s if len(s) == 1 else c


def for_search(text: str) -> str:
    # Stored text is clean already; a question may still carry a zero-width
    # space or soft hyphen that would split a word from its match.
    text = unicodedata.normalize("NFKC", clean_text(text)).lower()
    if CJK_RE.search(text):
        text = _zhconv().convert(text, "zh-cn")
    return text


def cjk_ratio(text: str) -> float:
    if not text:
        return 0.0
    return len(CJK_RE.findall(text)) / len(text)


# Terminal escape sequences (CSI such as "\x1b[31m", OSC such as a window title,
# and the two-character forms), 7-bit and C1: removed whole, or their parameters
# ("[31m") would stay behind as visible garbage once ESC itself is dropped.
_ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]{0,512}(?:\x07|\x1b\\|\x9c)"  # only when terminated: never eats the text
    r"|\x1b[ -/]+[0-~]"  # character-set designations such as "\x1b(B"
    r"|\x1b[@-Z\\-_]"
)
# Old Mac, DOS and Unicode line and page separators all mean "new line" to a reader.
_LINE_BREAK_RE = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")


# The ranges _invisible_ranges() finds in Unicode 14.0 (Python 3.11): scanning all 1.1M code
# points took 0.44 s of every cold start. Another Unicode version gets them scanned.
_INVISIBLE_UNICODE = "14.0.0"
_INVISIBLE = ((0x0, 0x8), (0xB, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
              (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
              (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0xFFFD, 0xFFFD),
              (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
              (0xE0001, 0xE0001), (0xE0020, 0xE007F))


def _invisible_ranges() -> tuple[tuple[int, int], ...]:
    """Every control (Cc) and format (Cf) character except newline and tab,
    plus U+FFFD, which only ever marks bytes that could not be decoded."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t") or ch == "\ufffd":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return tuple(ranges)


@lru_cache(maxsize=1)
def _invisible_re() -> re.Pattern[str]:
    ranges = _INVISIBLE if unicodedata.unidata_version == _INVISIBLE_UNICODE else _invisible_ranges()
    parts = (re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{''.join(parts)}]+")


def clean_text(text: str) -> str:
    """Text as a reader sees it: no terminal escapes, no invisible format or
    control characters (zero-width spaces, soft hyphens, bidi marks, NUL, bell),
    line breaks as "\\n". Applied to every text at ingestion (and by ``for_search``
    to questions), so the stored text, what search matches and every quote
    agree, and nothing printed can drive a terminal."""
    if "\x1b" in text or "\x9b" in text or "\x9d" in text:
        text = _ANSI_RE.sub("", text)
    text = _LINE_BREAK_RE.sub("\n", text)
    return _invisible_re().sub("", text)
