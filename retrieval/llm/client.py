"""The language model behind ``[llm]``: a small interface and its one
implementation, any OpenAI-compatible chat-completions server (llama.cpp's
server, vLLM, Ollama, a hosted API) through the ``openai`` client package."""

from __future__ import annotations

import os
import time
from typing import Iterator, Protocol

from retrieval.config import LLMConfig
from retrieval.errors import NewsQAError

API_KEY_ENV = "NEWSQA_LLM_API_KEY"


class LLMError(NewsQAError):
    """The model server failed, timed out, or answered something that is not a
    chat completion. The message is one line, without the API key."""


class LLMClient(Protocol):
    def stream(self, messages: list[dict[str, str]], max_tokens: int, timeout_s: float) -> Iterator[str]:
        """The answer's text as it arrives, piece by piece. Raises ``LLMError``
        when the server fails or the whole answer takes longer than ``timeout_s``."""
        ...


class OpenAIClient:
    """Chat completions over HTTP with the ``openai`` package, streamed."""

    def __init__(self, cfg: LLMConfig, api_key: str | None = None) -> None:
        try:
            import openai
        except ImportError:
            raise LLMError("[llm] needs the openai package: pip install openai") from None
        self.cfg = cfg
        self._openai = openai
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        # Local servers take any key; the client refuses an empty one.
        self._client = openai.OpenAI(base_url=cfg.base_url, api_key=key or "none", timeout=cfg.timeout_s,
                                     max_retries=0)
        self._key = key

    def _fail(self, what: str) -> LLMError:
        msg = f"the language model at {self.cfg.base_url} {what}"
        return LLMError(msg.replace(self._key, "<redacted>") if self._key else msg)

    def stream(self, messages: list[dict[str, str]], max_tokens: int, timeout_s: float) -> Iterator[str]:
        openai = self._openai
        deadline = time.monotonic() + timeout_s
        try:
            response = self._client.chat.completions.create(
                model=self.cfg.model, messages=messages, max_tokens=max_tokens, stream=True, temperature=0.0,
                timeout=timeout_s)
            for chunk in response:
                if time.monotonic() > deadline:
                    response.close()
                    raise self._fail(f"took longer than {timeout_s:g} s")
                choices = getattr(chunk, "choices", None)
                if not choices:
                    continue
                delta = getattr(choices[0], "delta", None)
                text = getattr(delta, "content", None) if delta is not None else None
                if text:
                    yield text
        except LLMError:
            raise
        except openai.APITimeoutError:
            raise self._fail(f"took longer than {timeout_s:g} s") from None
        except openai.APIConnectionError as exc:
            raise self._fail(f"cannot be reached or stopped answering ({type(exc.__cause__ or exc).__name__})") from None
        except openai.APIStatusError as exc:
            raise self._fail(f"answered HTTP {exc.status_code}") from None
        except (openai.APIError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # A stream that is not chat-completion JSON ends up here (the openai package's
            # own parsing errors, or a chunk without the fields we read).
            raise self._fail(f"sent something that is not a chat completion ({type(exc).__name__})") from None
        except Exception as exc:
            # The HTTP library's own errors mid-stream (the server went away): which
            # library the openai package uses (httpx, httpx2) is its business.
            if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "h11"):
                raise self._fail(f"stopped answering ({type(exc).__name__})") from None
            raise


def open_llm(cfg: LLMConfig) -> LLMClient | None:
    """The configured model, or None when ``[llm] base_url`` is empty (off)."""
    if not cfg.base_url:
        return None
    return OpenAIClient(cfg)
