"""Text helpers shared by ingestion, chunking, search and answering.

Stored text stays as written; ``for_search`` makes the form we match on
(NFKC folds full-width digits and letters, zhconv folds traditional to
simplified, case is folded).
"""

from __future__ import annotations

import re
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


def for_search(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    if CJK_RE.search(text):
        text = _zhconv().convert(text, "zh-cn")
    return text


def cjk_ratio(text: str) -> float:
    if not text:
        return 0.0
    return len(CJK_RE.findall(text)) / len(text)
