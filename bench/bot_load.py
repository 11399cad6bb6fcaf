"""The Telegram bot under load and under Bot API faults, through the local Bot API
emulator (tests/telegram_emulator) and the real `newsqa bot` process.

    python bench/bot_load.py                       # 50 chats asking at once for 60 s
    python bench/bot_load.py --chats 20 --seconds 30 --rate 5
    python bench/bot_load.py --faults              # 500s, timeouts, 429 for 30 s each, then a rebuild

Every chat is a user who asks a question, waits for the answer and asks the next
one (``--rate`` caps the questions per second over all chats). Before the load
each question is asked once; the first line of that reply (the answer, or "not
found") is what every later reply to it must start with. Replies are matched to
questions by chat, sequence and that line, so a lost, duplicated or misdirected
reply is counted as such. Printed: p50/p95/p99 reply latency,
answers per second and the bot's peak RSS; with ``--faults``, per fault the
questions asked, answered, lost and duplicated and how long after the fault
window the last question asked before its end was answered.

The corpus is the sample page in data/; the config is the default one except
that the per-user question limit is off (``--user-limit`` sets it), since the
point is to load the bot, not to be told to slow down.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from conftest import NEWSQA, SAMPLE, write_config  # noqa: E402
from telegram_harness import (TOKEN, BotMessage, BotProcess, Emulator, bot_env, emulator,  # noqa: E402
                              running_bot, user_message)

# Questions about the sample page. Only those whose replies start differently are
# used, so that a reply can be told apart from the one to the previous question.
QUESTIONS = ["谁获得了岗位标兵？", "黑山寨社区服务站位于哪个镇？", "顺义区总工会的消防安全检查由谁带队？",
             "阎村镇总工会共表彰了多少名最美劳动者？"]
FAULT_KINDS = ("500", "hang", "429")
FIRST_CHAT = 20_000


@dataclass(eq=False)  # a question is itself, whatever its fields
class Question:
    chat_id: int
    seq: int
    text: str
    expect: str  # the first line of the reply
    sent_ms: float
    replies: list[BotMessage] = field(default_factory=list)

    @property
    def first_reply_ms(self) -> float | None:
        return min(m.time_ms for m in self.replies) if self.replies else None

    @property
    def correct(self) -> bool:
        return len(self.replies) == 1 and first_line(self.replies[0]) == self.expect


@dataclass
class Tally:
    """What happened to a set of questions."""

    asked: int
    answered: int  # got at least one reply
    lost: int  # got none
    duplicated: int  # got more than one
    wrong: int  # the (first) reply is not the one this question gets

    @classmethod
    def of(cls, questions: list[Question]) -> Tally:
        return cls(len(questions), sum(bool(q.replies) for q in questions), sum(not q.replies for q in questions),
                   sum(len(q.replies) > 1 for q in questions),
                   sum(bool(q.replies) and first_line(q.replies[0]) != q.expect for q in questions))

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.wrong == 0


@dataclass
class Phase:
    """A stretch of the load: its questions are those sent between start and end."""

    name: str
    start_ms: float
    end_ms: float = float("inf")
    window: tuple[float, float] | None = None  # the fault (or rebuild), epoch ms
    recovery_s: float | None = None  # last answer to a question sent before the window ended, after its end
    note: str = ""


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def now_ms() -> float:
    return time.time() * 1000


def first_line(msg: BotMessage) -> str:
    return msg.text.split("\n", 1)[0]


def reference_replies(emu: Emulator, chat_id: int = FIRST_CHAT - 1) -> list[tuple[str, str]]:
    """(question, first line of its reply) for the questions whose replies start differently."""
    seen: dict[str, str] = {}
    for question in QUESTIONS:
        emu.send(question, chat_id)
        line = first_line(emu.replies(chat_id, 1, timeout=120)[0])
        if line not in seen.values():
            seen[question] = line
    if len(seen) < 2:
        raise SystemExit(f"the bot gives the same reply to every sample question: {next(iter(seen.values()))!r}")
    return list(seen.items())


class Load:
    """``chats`` users asking questions until stopped; replies collected and matched."""

    def __init__(self, emu: Emulator, chats: int, questions: list[tuple[str, str]], rate: float = 0.0,
                 give_up_s: float = 180.0, first_chat: int = FIRST_CHAT) -> None:
        self.emu = emu
        self.pool = questions
        self.chat_ids = list(range(first_chat, first_chat + chats))
        self.rate = rate
        self.give_up_s = give_up_s
        self.questions: list[Question] = []
        self.by_chat: dict[int, list[Question]] = {c: [] for c in self.chat_ids}
        self.stray: list[BotMessage] = []  # replies to chats that asked nothing
        self._open: dict[int, tuple[Question, asyncio.Future[None]]] = {}
        self._asking = True
        self._next_slot = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._collector: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.emu.url, timeout=30)
        self._collector = asyncio.create_task(self._collect())
        self._tasks = [asyncio.create_task(self._chat(c)) for c in self.chat_ids]

    async def stop(self, settle_s: float = 2.0) -> None:
        """No new questions; wait for the open ones (up to ``give_up_s``), then a little
        longer for late duplicates."""
        self._asking = False
        await asyncio.gather(*self._tasks)
        await asyncio.sleep(settle_s)
        assert self._collector is not None and self._client is not None
        self._collector.cancel()
        try:
            await self._collector
        except asyncio.CancelledError:
            pass
        await self._poll()  # whatever arrived last
        await self._client.aclose()

    def sent_between(self, start_ms: float, end_ms: float) -> list[Question]:
        return [q for q in self.questions if start_ms <= q.sent_ms < end_ms]

    async def wait_answered(self, questions: list[Question], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while any(not q.replies for q in questions):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    async def _pace(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1 / self.rate
        await asyncio.sleep(slot - now)

    async def _chat(self, chat_id: int) -> None:
        assert self._client is not None
        loop = asyncio.get_running_loop()
        seq = 0
        while True:
            await self._pace()
            if not self._asking:
                return
            # Consecutive questions in a chat have different answers.
            text, expect = self.pool[(chat_id + seq) % len(self.pool)]
            question = Question(chat_id, seq, text, expect, now_ms())
            done: asyncio.Future[None] = loop.create_future()
            self._open[chat_id] = (question, done)
            self.questions.append(question)
            self.by_chat[chat_id].append(question)
            r = await self._client.post("/sendMessage", json=user_message(text, chat_id))
            r.raise_for_status()
            # A user who gets no answer asks again later; the question stays counted as lost.
            await asyncio.wait({done}, timeout=self.give_up_s)
            self._open.pop(chat_id, None)
            seq += 1

    async def _collect(self) -> None:
        while True:
            try:
                await self._poll()
            except httpx.HTTPError:
                pass  # the emulator is busy; try again
            await asyncio.sleep(0.05)

    async def _poll(self) -> None:
        assert self._client is not None
        r = await self._client.post("/_compat/botMessages", json={"token": TOKEN})
        r.raise_for_status()
        for item in r.json()["result"]:
            self._match(BotMessage.from_stored(item))

    def _match(self, msg: BotMessage) -> None:
        asked = self.by_chat.get(msg.chat_id)
        if not asked:
            self.stray.append(msg)
            return
        open_ = self._open.get(msg.chat_id)
        carrying = [q for q in asked if q.expect == first_line(msg)]
        if open_ is not None and (any(q is open_[0] for q in carrying) or not carrying):
            target = open_[0]
        elif carrying:
            target = carrying[-1]  # a late second reply to an earlier question
        else:
            target = asked[-1]
        target.replies.append(msg)
        if open_ is not None and target is open_[0] and not open_[1].done():
            open_[1].set_result(None)


class RssSampler:
    """The bot's resident memory, sampled; the kernel's own peak (VmHWM) at the end."""

    def __init__(self, bot: BotProcess) -> None:
        self.bot = bot
        self.peak_rss_mb = 0.0

    def sample(self) -> None:
        try:
            import psutil  # optional

            rss = psutil.Process(self.bot.proc.pid).memory_info().rss / 2**20
        except ImportError:
            try:
                status = Path(f"/proc/{self.bot.proc.pid}/status").read_text()
            except OSError:
                return
            rss = next((int(x.split()[1]) / 1024 for x in status.splitlines() if x.startswith("VmRSS:")), 0.0)
        except Exception:  # the process is gone
            return
        self.peak_rss_mb = max(self.peak_rss_mb, rss)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)


# ------------------------------------------------------------------ phases

async def fault_phase(load: Load, kind: str, window_s: float, lead_s: float = 5.0, tail_s: float = 2.0,
                      methods: list[str] | None = None, retry_after: int | None = None,
                      recovery_timeout_s: float = 120.0) -> Phase:
    """Normal load for ``lead_s``, the Bot API failing for ``window_s``, then until every
    question sent before the window ended is answered (or ``recovery_timeout_s``)."""
    phase = Phase(kind, now_ms())
    await asyncio.sleep(lead_s)
    outage = await asyncio.to_thread(load.emu.outage, kind, window_s, methods, retry_after)
    phase.window = (outage.since_ms, outage.until_ms)
    await asyncio.sleep(max(0.0, (outage.until_ms - now_ms()) / 1000))
    backlog = load.sent_between(phase.start_ms, outage.until_ms)
    recovered = await load.wait_answered(backlog, recovery_timeout_s)
    phase.recovery_s = _recovery(backlog, outage.until_ms) if recovered else None
    await asyncio.sleep(tail_s)
    phase.end_ms = now_ms()
    return phase


async def rebuild_phase(load: Load, bot: BotProcess, config: Path, workdir: Path, lead_s: float = 5.0,
                        tail_s: float = 2.0) -> Phase:
    """`newsqa index rebuild --full` while the load goes on; the bot must switch to the
    new build without failing a question."""
    phase = Phase("rebuild", now_ms())
    await asyncio.sleep(lead_s)
    log_start = len(bot.log)
    started = now_ms()
    proc = await asyncio.create_subprocess_exec(*NEWSQA, "--config", str(config), "index", "rebuild", "--full",
                                                cwd=workdir, env=bot_env(None), stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)
    _, err = await proc.communicate()
    phase.window = (started, now_ms())
    if proc.returncode != 0:
        phase.note = f"rebuild failed ({proc.returncode}): {err.decode(errors='replace').strip()[-300:]}"
    deadline = time.monotonic() + 60
    while "switched to index build" not in bot.log[log_start:] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    switched = "switched to index build" in bot.log[log_start:]
    phase.note = phase.note or (f"rebuild took {(phase.window[1] - started) / 1000:.1f} s; "
                                + ("the bot switched to the new build" if switched else
                                   "the bot did NOT switch to the new build within 60 s"))
    backlog = load.sent_between(phase.start_ms, phase.window[1])
    if await load.wait_answered(backlog, 120):
        phase.recovery_s = _recovery(backlog, phase.window[1])
    await asyncio.sleep(tail_s)
    phase.end_ms = now_ms()
    return phase


def _recovery(backlog: list[Question], end_ms: float) -> float:
    last = max((q.first_reply_ms or 0.0 for q in backlog), default=0.0)
    return max(0.0, (last - end_ms) / 1000)


# ------------------------------------------------------------------ running it

@dataclass
class Result:
    phases: list[Phase]
    load: Load
    seconds: float  # how long questions were asked
    peak_rss_mb: float  # sampled while loaded
    vm_hwm_mb: float | None  # the kernel's peak since the bot started
    bot_alive: bool
    log: str

    def tally(self, phase: Phase | None = None) -> Tally:
        qs = self.load.questions if phase is None else self.load.sent_between(phase.start_ms, phase.end_ms)
        return Tally.of(qs)

    def answers_per_s(self) -> float:
        qs = self.load.questions
        replied = [q.first_reply_ms for q in qs if q.first_reply_ms is not None]
        if not replied:
            return 0.0
        span_s = (max(replied) - min(q.sent_ms for q in qs)) / 1000
        return len(replied) / span_s if span_s > 0 else 0.0

    def latencies_ms(self) -> list[float]:
        return [q.first_reply_ms - q.sent_ms for q in self.load.questions if q.first_reply_ms is not None]


async def drive(emu: Emulator, bot: BotProcess, chats: int, rate: float, questions: list[tuple[str, str]],
                script: Callable[[Load], Awaitable[list[Phase]]], give_up_s: float = 180.0) -> Result:
    load = Load(emu, chats, questions, rate, give_up_s)
    sampler = RssSampler(bot)
    sampling = asyncio.create_task(sampler.run())
    started = time.monotonic()
    await load.start()
    phases = await script(load)
    asked_for = time.monotonic() - started
    await load.stop()
    sampling.cancel()
    sampler.sample()
    return Result(phases, load, asked_for, sampler.peak_rss_mb, bot.peak_rss_mb(), bot.proc.poll() is None, bot.log)


def steady_script(seconds: float, rebuild_at: float | None, bot: BotProcess, config: Path,
                  workdir: Path) -> Callable[[Load], Awaitable[list[Phase]]]:
    async def script(load: Load) -> list[Phase]:
        phase = Phase("load", now_ms())
        phases = [phase]
        if rebuild_at is not None and rebuild_at < seconds:
            await asyncio.sleep(rebuild_at)
            phase.end_ms = now_ms()
            phases.append(await rebuild_phase(load, bot, config, workdir, lead_s=0, tail_s=0))
            phase = Phase("load", now_ms())
            phases.append(phase)
        await asyncio.sleep(max(0.0, seconds - (now_ms() - phases[0].start_ms) / 1000))
        phase.end_ms = now_ms()
        return phases

    return script


def faults_script(kinds: list[str], window_s: float, lead_s: float, methods: list[str] | None,
                  retry_after: int | None, rebuild: bool, bot: BotProcess, config: Path,
                  workdir: Path) -> Callable[[Load], Awaitable[list[Phase]]]:
    async def script(load: Load) -> list[Phase]:
        phases = []
        for kind in kinds:
            phases.append(await fault_phase(load, kind, window_s, lead_s, methods=methods, retry_after=retry_after))
        if rebuild:
            phases.append(await rebuild_phase(load, bot, config, workdir, lead_s=lead_s))
        return phases

    return script


def make_world(base: Path, user_limit: int, extra: str = "") -> tuple[Path, Path]:
    """The sample corpus and a config (default values but the per-user limit, and no conversations: each
    chat asks unrelated questions in turn and each reply is compared with the reply to the question asked
    alone; follow-ups are tested in tests/test_bot_conversation.py); returns (config, workdir)."""
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE, corpus / SAMPLE.name)
    config = write_config(base / "config.toml", corpus, base / "index",
                          f"[telegram]\nrate_limit_per_minute = {user_limit}\nreload_check_seconds = 1.0\n"
                          f"[conversation]\nenabled = false\n{extra}")
    return config, base


FAULT_NAMES = {"500": "HTTP 500", "hang": "timeout (request held)", "429": "429 RetryAfter", "rebuild": "index rebuild"}


def report(result: Result, chats: int, rate: float, faults: bool) -> None:
    total = result.tally()
    lat = result.latencies_ms()
    answered_per_s = result.answers_per_s()
    print(f"\n{chats} chats, {'as fast as answered' if rate <= 0 else f'at most {rate:g} questions/s'}, "
          f"questions asked for {result.seconds:.1f} s")
    print(f"  asked {total.asked}  answered {total.answered}  lost {total.lost}  duplicated {total.duplicated}  "
          f"wrong {total.wrong}  stray replies {len(result.load.stray)}")
    if lat:
        print(f"  reply latency p50 {percentile(lat, 50):.0f} ms  p95 {percentile(lat, 95):.0f} ms  "
              f"p99 {percentile(lat, 99):.0f} ms  max {max(lat):.0f} ms")
    print(f"  answers/s {answered_per_s:.2f} (from the first question to the last answer)")
    hwm = f"{result.vm_hwm_mb:.0f} MB" if result.vm_hwm_mb is not None else "n/a"
    print(f"  bot peak RSS {result.peak_rss_mb:.0f} MB while loaded (VmHWM since start {hwm}); "
          f"bot {'still running' if result.bot_alive else 'EXITED'}; "
          f"tracebacks in its log: {result.log.count('Traceback')}")
    shown = [p for p in result.phases if p.window is not None] if faults else \
        [p for p in result.phases if p.name == "rebuild"]
    if shown:
        print(f"\n  {'fault':<24}{'window s':>9}{'asked':>7}{'answered':>9}{'lost':>6}{'dup':>5}{'wrong':>7}"
              f"{'recovery s':>12}")
        for p in shown:
            t = result.tally(p)
            assert p.window is not None
            rec = "never" if p.recovery_s is None else f"{p.recovery_s:.1f}"
            print(f"  {FAULT_NAMES.get(p.name, p.name):<24}{(p.window[1] - p.window[0]) / 1000:>9.1f}{t.asked:>7}"
                  f"{t.answered:>9}{t.lost:>6}{t.duplicated:>5}{t.wrong:>7}{rec:>12}")
            if p.note:
                print(f"    {p.note}")
        print("  (recovery: from the end of the window until the last question asked before it was answered)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--chats", type=int, default=50, help="chats asking at once (default 50)")
    ap.add_argument("--seconds", type=float, default=60, help="how long to ask, without --faults (default 60)")
    ap.add_argument("--rate", type=float, default=0, help="questions per second over all chats; 0: each chat "
                    "asks again as soon as it is answered (default)")
    ap.add_argument("--rebuild-at", type=float, default=None, metavar="S",
                    help="without --faults: run `newsqa index rebuild --full` S seconds into the load")
    ap.add_argument("--faults", action="store_true", help="500s, timeouts and 429s in turn, then a rebuild")
    ap.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), help="with --faults (default 500,hang,429)")
    ap.add_argument("--fault-seconds", type=float, default=30, help="length of each fault window (default 30)")
    ap.add_argument("--fault-methods", default="", help="Bot API methods that fail, comma-separated "
                    "(default: all, getUpdates and sendMessage included)")
    ap.add_argument("--retry-after", type=int, default=None,
                    help="429: fixed retry_after (default: the seconds left in the window, as Telegram does)")
    ap.add_argument("--lead", type=float, default=5, help="seconds of normal load before each fault (default 5)")
    ap.add_argument("--no-rebuild", action="store_true", help="with --faults: skip the rebuild phase")
    ap.add_argument("--user-limit", type=int, default=0, help="[telegram] rate_limit_per_minute (default 0: off)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (bot log, index)")
    args = ap.parse_args(argv)
    kinds = [k for k in args.fault_kinds.split(",") if k]
    if bad := [k for k in kinds if k not in FAULT_KINDS]:
        ap.error(f"--fault-kinds: unknown {', '.join(bad)} (expected {', '.join(FAULT_KINDS)})")
    if args.chats < 1:
        ap.error("--chats: at least 1")
    methods = [m for m in args.fault_methods.split(",") if m] or None

    with ExitStack() as stack:
        base = Path(tempfile.mkdtemp(prefix="newsqa-botload-"))
        if not args.keep:
            stack.callback(shutil.rmtree, base, True)
        config, workdir = make_world(base, args.user_limit)
        print(f"starting the emulator and `newsqa bot` (work folder {base}) ...", flush=True)
        emu = stack.enter_context(emulator())
        bot = stack.enter_context(running_bot(emu, config, workdir))
        if args.faults:
            script = faults_script(kinds, args.fault_seconds, args.lead, methods, args.retry_after,
                                   not args.no_rebuild, bot, config, workdir)
        else:
            script = steady_script(args.seconds, args.rebuild_at, bot, config, workdir)
        questions = reference_replies(emu)
        print(f"questions: {', '.join(q for q, _ in questions)}", flush=True)
        result = asyncio.run(drive(emu, bot, args.chats, args.rate, questions, script))
        report(result, args.chats, args.rate, args.faults)
        if args.keep:
            print(f"\nbot log: {bot.log_path}")
        ok = result.tally().clean and result.bot_alive and not result.load.stray
        ok = ok and all(p.recovery_s is not None for p in result.phases if p.window is not None)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
