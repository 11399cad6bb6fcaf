"""Answers in sentences from a language model, every sentence checked.

The reader's extractive answer comes first, as without a model. When it found
an answer, the model gets the question, the conversation so far and the top
passages, numbered, and must end every sentence with the passages it comes
from ([n]). Each sentence is then checked against the passages it cites
(retrieval/llm/check.py): unsupported sentences are dropped, and when none is
left, or the server fails or times out, the extractive answer stands with a
one-line warning. The quotes shown are the extractive answer's, as always.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from retrieval.config import LLMConfig
from retrieval.llm.check import CheckedSentence, check_answer
from retrieval.llm.client import LLMClient, LLMError
from retrieval.types import Answer, Hit

if TYPE_CHECKING:
    from retrieval.index.lexical import Tokenizer

SYSTEM_PROMPT = (
    "你是新闻问答助手。只根据用户给出的编号新闻段落回答问题，用简体中文，最多三句话。"
    "每句话末尾用方括号注明它来自哪个段落，例如 [1] 或 [1][2]。段落里没有的内容一句也不要写。"
)
WARNING_NOTHING = "语言模型的回答没有一句能在原文中核实，以下是从原文摘出的答案。"
WARNING_FAILED = "语言模型没有答完（{why}），以下是从原文摘出的答案。"
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class GroundedAnswer:
    """What the model wrote, checked sentence by sentence, beside the
    extractive answer that stands when nothing it wrote is supported."""

    answer: Answer
    passages: tuple[Hit, ...]
    sentences: tuple[CheckedSentence, ...]
    raw: str
    warning: str = ""  # one line when the extractive answer stands; "" otherwise
    seconds: float = 0.0

    @property
    def supported(self) -> tuple[CheckedSentence, ...]:
        return tuple(s for s in self.sentences if s.supported)

    @property
    def used(self) -> bool:
        return not self.warning and bool(self.supported)

    @property
    def text(self) -> str:
        """The supported sentences, with their citation marks."""
        return "".join(s.text for s in self.supported)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text if self.used else "", "used": self.used, "warning": self.warning,
                "sentences": [{"text": s.text, "cites": list(s.cites), "supported": s.supported,
                               "reason": s.reason} for s in self.sentences],
                "passages": [{"n": i, "title": h.article.title, "article_id": h.article.id,
                              "paragraph": h.chunk.paragraph} for i, h in enumerate(self.passages, 1)]}


def day_text(date: str | None) -> str:
    m = _DATE.match(date or "")
    return f"{int(m.group(1))}年{int(m.group(2))}月{int(m.group(3))}日" if m else (date or "")


def passage_text(hit: Hit) -> str:
    """A passage as the model sees it and as its sentences are checked against:
    the headline, day and page, then the chunk."""
    a = hit.article
    head = " ".join(x for x in (f"《{a.title}》", day_text(a.date), f"第{a.page}版" if a.page else "") if x)
    return f"{head}\n{hit.chunk.text}"


def top_passages(answer: Answer, n: int) -> list[Hit]:
    out: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    for h in answer.hits:
        key = (h.article.id, h.chunk.start)
        if key not in seen:
            seen.add(key)
            out.append(h)
        if len(out) >= n:
            break
    return out


def build_messages(question: str, history: Sequence[tuple[str, str]], passages: Sequence[Hit]) -> list[dict[str, str]]:
    numbered = "\n\n".join(f"[{i}] {passage_text(h)}" for i, h in enumerate(passages, 1))
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for q, a in history:
        messages.append({"role": "user", "content": q})
        messages.append({"role": "assistant", "content": a or "资料中没有提到。"})
    messages.append({"role": "user", "content": f"新闻段落：\n{numbered}\n\n问题：{question}"})
    return messages


def grounded_answer(client: LLMClient, cfg: LLMConfig, question: str, history: Sequence[tuple[str, str]],
                    answer: Answer, tokenizer: Tokenizer,
                    on_text: Callable[[str], None] | None = None) -> GroundedAnswer:
    """The model's answer to ``question`` from ``answer``'s top passages, checked.
    ``on_text`` gets the text as it arrives (a terminal prints it, Telegram
    edits a message with it)."""
    passages = top_passages(answer, cfg.passages)
    started = time.monotonic()
    parts: list[str] = []
    warning = ""
    try:
        for piece in client.stream(build_messages(question, history, passages), cfg.max_tokens, cfg.timeout_s):
            parts.append(piece)
            if on_text is not None:
                on_text(piece)
    except LLMError as exc:
        warning = WARNING_FAILED.format(why=exc)
    raw = "".join(parts)
    sentences = tuple(check_answer(raw, [passage_text(h) for h in passages], tokenizer)) if not warning else ()
    if not warning and not any(s.supported for s in sentences):
        warning = WARNING_NOTHING
    return GroundedAnswer(answer, tuple(passages), sentences, raw, warning, time.monotonic() - started)


REWRITE_PROMPT = ("把用户的追问改写成一个不依赖上文、可以单独检索的完整问题。只输出改写后的问题，不要解释。")


def rewrite_follow_up(client: LLMClient, cfg: LLMConfig, question: str,
                      history: Sequence[tuple[str, str]]) -> str | None:
    """The follow-up as a question of its own, by the model; None when the
    model fails or writes something unusable (the rule-based rewrite stands)."""
    messages = [{"role": "system", "content": REWRITE_PROMPT}]
    for q, a in history:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a or "资料中没有提到。"}]
    messages.append({"role": "user", "content": f"追问：{question}"})
    try:
        text = "".join(client.stream(messages, 64, min(cfg.timeout_s, 10.0))).strip()
    except LLMError:
        return None
    text = text.splitlines()[0].strip() if text else ""
    # A rewrite must still be a Chinese question of sensible length.
    if not re.search(r"[\u4e00-\u9fff]", text) or not 2 <= len(text) <= 200:
        return None
    return text
