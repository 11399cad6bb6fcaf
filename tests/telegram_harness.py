"""Drive the real bot over HTTP: a local Bot API emulator (tests/telegram_emulator)
and `newsqa bot` as a subprocess, talked to the way Telegram users would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import httpx

from conftest import NEWSQA, ROOT

EMULATOR_DIR = ROOT / "tests" / "telegram_emulator"
TOKEN = "123456789:AAEhBP0av28fj3kdD-test_token-xYz0123"
BOT_ID = 666
BOT_USERNAME = "TestNameBot"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "newsqa test", "username": BOT_USERNAME}


@dataclass
class BotMessage:
    """A message the bot sent, as the emulator stored it."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    reply_to: int | None
    buttons: list[dict]
    time_ms: int

    @classmethod
    def from_stored(cls, item: dict[str, Any]) -> BotMessage:
        import json

        m = item["message"]
        reply = m.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        markup = m.get("reply_markup") or {}
        buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
        return cls(item["messageId"], int(m["chat_id"]), m.get("text", ""), m.get("parse_mode"),
                   reply.get("message_id") if reply else None, buttons, item["time"])

    def as_message(self) -> dict[str, Any]:
        """The message object Telegram would put into a callback query or reply."""
        return {"message_id": self.message_id, "date": self.time_ms // 1000, "text": self.text,
                "from": BOT_USER, "chat": {"id": self.chat_id, "type": "private"}}


def user_message(text: str, user_id: int, chat_id: int | None = None, chat_type: str = "private") -> dict[str, Any]:
    """What a user's plain text message looks like to the emulator's client API."""
    chat_id = user_id if chat_id is None else chat_id
    return {
        "botToken": TOKEN, "date": int(time.time()), "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
        "chat": {"id": chat_id, "type": chat_type, **({"title": "测试群"} if chat_type != "private" else
                                                       {"first_name": f"user{user_id}"})},
    }


@dataclass
class Outage:
    """A window (epoch milliseconds) in which the emulated Bot API fails."""

    kind: str
    since_ms: int
    until_ms: int
    hits: int = 0  # Bot API calls it failed (known once it has ended)


class Emulator:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.api_base = f"{self.url}/bot"
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        r = self.http.post(path, json=payload)
        r.raise_for_status()
        return r.json()["result"]

    def send(self, text: str, user_id: int, chat_id: int | None = None, chat_type: str = "private",
             entities: list[dict] | None = None, reply_to: dict | None = None) -> int:
        """A user sends ``text``; returns its message id."""
        msg = user_message(text, user_id, chat_id, chat_type)
        if text.startswith("/") and entities is None:
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if entities:
            msg["entities"] = entities
        if reply_to:
            msg["reply_to_message"] = reply_to
        return self._post("/sendCommand" if entities and entities[0]["type"] == "bot_command" else "/sendMessage",
                          msg)["message_id"]

    def click(self, message: BotMessage, data: str, user_id: int) -> None:
        self._post("/sendCallback", {"botToken": TOKEN, "data": data, "message": message.as_message(),
                                     "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}})

    def take(self, chat_id: int) -> list[BotMessage]:
        """Bot messages to ``chat_id`` not read before."""
        return [BotMessage.from_stored(x) for x in self._post("/getUpdates", {"token": TOKEN, "chatId": chat_id})]

    def replies(self, chat_id: int, count: int = 1, timeout: float = 60) -> list[BotMessage]:
        got: list[BotMessage] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            got += self.take(chat_id)
            if len(got) < count:
                time.sleep(0.05)
        assert len(got) >= count, f"expected {count} bot message(s) in chat {chat_id}, got {len(got)}: {got}"
        return got

    def silence(self, chat_id: int, seconds: float) -> list[BotMessage]:
        """Whatever the bot sends to ``chat_id`` within ``seconds`` (expected: nothing)."""
        time.sleep(seconds)
        return self.take(chat_id)

    def fail_next(self, method: str, chat_id: int | None, error_code: int, description: str,
                  retry_after: int | None = None, count: int = 1) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id``, if given) fail like Telegram would."""
        payload: dict[str, Any] = {"method": method, "error_code": error_code, "description": description,
                                   "count": count}
        if chat_id is not None:
            payload["chat_id"] = chat_id
        if retry_after:
            payload["retry_after"] = retry_after
        self.http.post("/_compat/fail", json=payload).raise_for_status()

    def outage(self, kind: str, seconds: float, methods: list[str] | None = None,
               retry_after: int | None = None) -> Outage:
        """From now on for ``seconds``, Bot API calls (all, or ``methods``) fail: kind "500", "hang" (held
        until the window ends, then dropped) or "429" (retry_after: the rest of the window unless given)."""
        payload: dict[str, Any] = {"kind": kind, "seconds": seconds}
        if methods:
            payload["methods"] = methods
        if retry_after:
            payload["retry_after"] = retry_after
        window = self._post("/_compat/outage", payload)
        return Outage(kind, window["since"], window["until"])

    def end_outages(self) -> list[Outage]:
        """Ends every outage window now; returns all windows so far, with the calls each failed."""
        return [Outage(o["kind"], o["since"], o["until"], o["hits"]) for o in self._post("/_compat/outage/clear", {})]

    def take_all(self) -> list[BotMessage]:
        """Bot messages to any chat not read before."""
        return [BotMessage.from_stored(x) for x in self._post("/_compat/botMessages", {"token": TOKEN})]

    def calls(self, method: str) -> list[dict[str, Any]]:
        return self._post("/_compat/calls", {"method": method})

    def commands(self) -> list[dict[str, str]] | None:
        return self._post("/_compat/commands", {"token": TOKEN})


@contextmanager
def emulator() -> Iterator[Emulator]:
    node = shutil.which("node")
    if node is None or not (EMULATOR_DIR / "node_modules" / "telegram-test-api").is_dir():
        raise RuntimeError("the Bot API emulator is not installed: run `make test` (it runs npm ci in "
                           "tests/telegram_emulator)")
    proc = subprocess.Popen([node, str(EMULATOR_DIR / "launch.js")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING"):
        proc.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    emu = Emulator(proc, int(line.split()[1]))
    try:
        yield emu
    finally:
        emu.http.close()
        proc.terminate()
        proc.wait(10)


class BotProcess:
    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def peak_rss_mb(self) -> float | None:
        """The process's peak resident memory so far (VmHWM), None once it has exited."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        kb = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:")), None)
        return None if kb is None else kb / 1024

    def wait_for_log(self, needle: str, timeout: float = 180, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log[after:]:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the bot exited ({self.proc.returncode}):\n{self.log[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no '{needle}' in the bot's log after {timeout}s:\n{self.log[-3000:]}")


def bot_env(emu: Emulator | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": TOKEN, **extra}
    if emu is not None:
        env["TELEGRAM_BASE_URL"] = emu.api_base
    return env


@contextmanager
def running_bot(emu: Emulator, config: Path, workdir: Path, ready: str = "Application started") -> Iterator[BotProcess]:
    log_path = workdir / f"bot-{int(time.time() * 1000)}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(NEWSQA + ["--config", str(config), "bot"], cwd=workdir, env=bot_env(emu),
                                stdout=log, stderr=subprocess.STDOUT)
    bot = BotProcess(proc, log_path)
    try:
        bot.wait_for_log(ready)
        yield bot
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


class TagBalance(HTMLParser):
    """Checks that start and end tags nest properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ok = True
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False

    def handle_data(self, data: str) -> None:
        self.text += data


def visible_text(html_text: str) -> tuple[str, bool]:
    """The text a reader sees and whether the tags were balanced."""
    p = TagBalance()
    p.feed(html_text)
    p.close()
    return p.text, p.ok and not p.stack
