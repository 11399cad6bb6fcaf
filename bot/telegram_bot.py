"""The Telegram front end: updates in, ``QA.ask`` off the event loop, HTML replies out.

Everything heavy (model, index) is loaded by the caller and handed in; the
handlers only route, call the core and render. The core's exceptions are turned
into Chinese replies here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import time
import warnings
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import AsyncIterator, Mapping, Sequence
from urllib.parse import urlparse

from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message,
                      MessageEntity, ReplyParameters, Update)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, ApplicationHandlerStop,
                          CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, TypeHandler,
                          filters)

from bot.render import (Block, Run, answer_blocks, chat_answer_blocks, day_blocks, extra_hits, more_blocks, pack, pack_groups,
                        paragraph_blocks, render_group)
from retrieval.app import open_chat
from retrieval.archive import DayError, index_catalog, parse_day
from retrieval.config import Config
from retrieval.errors import ConfigError, NewsQAError, QuestionError
from retrieval.answer.qa import QA
from retrieval.conversation import Conversation, ConversationStore
from retrieval.types import Answer

log = logging.getLogger("newsqa.bot")

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_BASE_URL"
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
# BotFather tokens are "<bot id>:<35 characters>"; be a little lenient on the length.
_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TYPING_EVERY = 4.0  # Telegram shows a chat action for about 5 s
_EDIT_EVERY = 1.0  # how often a streamed answer's draft is edited (Telegram allows about one edit a second)
# While the Bot API is down (5xx, timeouts, flood limits) a reply keeps being
# retried this long, with these pauses between tries: an outage of a few
# minutes delays answers but loses none.
_SEND_PATIENCE = 300.0
_SEND_BACKOFF = (0.5, 5.0)  # first pause, longest pause (doubling in between)

COMMANDS = [
    ("ask", "提问，例如 /ask 谁获得了表彰？"),
    ("help", "用法说明"),
    ("about", "已收录的文章和索引信息"),
    ("day", "某一天的报纸：各版标题，例如 /day 2020-01-09"),
    ("new", "开始新的对话：之后的问题不再接着之前的问题"),
    ("start", "介绍"),
]


class BotError(NewsQAError):
    """The bot cannot start (token rejected, Bot API unreachable)."""


@dataclass(frozen=True)
class BotSettings:
    """What the bot needs besides the config: secrets from the environment."""

    token: str
    base_url: str
    webhook_secret: str


def settings_from_env(cfg: Config, environ: Mapping[str, str] = os.environ) -> BotSettings:
    """Token, Bot API URL and webhook secret; errors never repeat the token."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"{TOKEN_ENV} is not set: create a bot with @BotFather and export {TOKEN_ENV}=<token>")
    if not _TOKEN_RE.match(token):
        raise ConfigError(f"{TOKEN_ENV} is malformed: expected '<digits>:<35 letters, digits, - or _>' "
                          "as given by @BotFather")
    base_url = environ.get(BASE_URL_ENV, "").strip() or cfg.telegram.base_url
    if urlparse(base_url.replace("{token}", "")).scheme not in ("http", "https"):
        raise ConfigError(f"[telegram] base_url / {BASE_URL_ENV}: expected an http(s) URL")
    secret = environ.get(SECRET_ENV, "").strip()
    if secret and not _SECRET_RE.match(secret):
        raise ConfigError(f"{SECRET_ENV}: 1-256 characters of A-Z, a-z, 0-9, _ and - only")
    if cfg.telegram.mode == "webhook" and not cfg.telegram.webhook_url:
        raise ConfigError("[telegram] webhook_url: required when mode = \"webhook\" (the public https URL)")
    return BotSettings(token, base_url, secret or secrets.token_urlsafe(32))


class RedactingFormatter(logging.Formatter):
    """Never let the token reach a log line, whichever library logs a URL."""

    def __init__(self, secrets_: Sequence[str], fmt: str) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets_ if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for s in self._secrets:
            text = text.replace(s, "<redacted>")
        return text


class NetworkErrorsOneLine(logging.Filter):
    """PTB logs a full traceback for every failed Bot API call (connection
    refused, timeouts, 5xx). Those are expected outages, not bugs: keep one line
    naming the error, and none at all for the start-up attempt, whose failure
    the bot reports itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        # BadRequest is a NetworkError in PTB but means a bug of ours: keep its traceback.
        outage = isinstance(exc, (NetworkError, InvalidToken, RetryAfter)) and not isinstance(exc, BadRequest)
        if outage and record.name.startswith("telegram"):
            if "Bootstrap" in record.getMessage():
                return False
            record.msg = f"{record.getMessage()}: {exc.__class__.__name__}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(settings: BotSettings, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setLevel(level)  # some libraries set their own loggers to DEBUG
    handler.addFilter(NetworkErrorsOneLine())
    handler.setFormatter(RedactingFormatter([settings.token, settings.webhook_secret],
                                            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and Bot API URLs contain the token.
    for name in ("httpx", "httpcore", "tornado.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


class UserRateLimiter:
    """At most ``per_minute`` questions per user in any 60-second window."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}

    def wait_time(self, user_id: int) -> float:
        """0 and the question counts, or the seconds until one is allowed."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        q = self._seen.setdefault(user_id, deque())
        while q and now - q[0] >= 60.0:
            q.popleft()
        if len(q) >= self.per_minute:
            return 60.0 - (now - q[0])
        q.append(now)
        return 0.0


class AnswerCache:
    """Recent answers, so that inline buttons can expand them later."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[str, Answer] = OrderedDict()

    def put(self, answer: Answer) -> str:
        key = secrets.token_urlsafe(6)
        self._items[key] = answer
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Answer | None:
        return self._items.get(key)


def question_for_bot(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question in a plain text message, or None if it is not meant for the bot.

    Private chats: every message. Groups: a mention of the bot (the mention is
    removed) or a reply to one of the bot's messages.
    """
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    handle = "@" + bot_username.lower()
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if (entity.type == MessageEntity.MENTION and value.lower() == handle) or (
                entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id):
            return text.replace(value, " ", 1).strip()
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        return text
    return None


class NewsBot:
    """Handlers and the state they share. One instance per running bot."""

    def __init__(self, cfg: Config, qa: QA) -> None:
        self.cfg = cfg
        self.tg = cfg.telegram
        self.qa = qa
        self.limiter = UserRateLimiter(self.tg.rate_limit_per_minute)
        self.answers = AnswerCache()
        self.executor = ThreadPoolExecutor(max_workers=self.tg.workers or os.cpu_count() or 2,
                                           thread_name_prefix="newsqa-qa")
        self._refused: set[int] = set()
        # Conversations (in memory only): a private chat is one; in a group, each
        # thread of replies to the bot's answers is one. ``_threads`` maps the
        # bot's answer messages to the thread they belong to.
        self.chat = open_chat(cfg, qa)
        self.conversations = ConversationStore(cfg.conversation)
        self._threads: OrderedDict[tuple[int, int], tuple] = OrderedDict()
        self._sending: dict[int, set[asyncio.Event]] = {}  # chat → answers being sent there now
        self._reload_task: asyncio.Task[None] | None = None
        self._bot_id = 0

    # ------------------------------------------------------------ wiring
    def build_application(self, settings: BotSettings) -> Application:
        app = (ApplicationBuilder()
               .token(settings.token)
               .base_url(settings.base_url)
               .rate_limiter(AIORateLimiter(max_retries=3))  # waits out Telegram's RetryAfter
               .concurrent_updates(True)  # questions from different chats are answered in parallel
               .post_init(self._post_init)
               .post_shutdown(self._post_shutdown)
               .build())
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler("start", self.cmd_start))
        app.add_handler(CommandHandler("help", self.cmd_help))
        app.add_handler(CommandHandler("about", self.cmd_about))
        app.add_handler(CommandHandler("ask", self.cmd_ask))
        app.add_handler(CommandHandler("day", self.cmd_day))
        app.add_handler(CommandHandler("new", self.cmd_new))
        app.add_handler(MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, self.cmd_unknown))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, self.on_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self.on_error)
        return app

    async def _post_init(self, app: Application) -> None:
        try:
            await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        except TelegramError as exc:  # a missing menu is no reason not to answer
            log.warning("could not register the command menu: %s", exc)
        if self.tg.reload_check_seconds > 0:
            self._reload_task = asyncio.get_running_loop().create_task(self._watch_index())
        await asyncio.get_running_loop().run_in_executor(self.executor, self.qa.warm_up)
        m = self.qa.index.manifest
        log.info("serving %d articles, %d chunks (index build %s) as @%s", m["counts"]["articles"],
                 m["counts"]["chunks"], self.qa.index.build_id, app.bot.username)

    async def _post_shutdown(self, app: Application) -> None:
        if self._reload_task is not None:
            self._reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload_task
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _watch_index(self) -> None:
        """Pick up a finished `newsqa index rebuild`. Loading happens in a worker
        thread and the swap is atomic, so questions in flight never notice."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tg.reload_check_seconds)
            try:
                if await loop.run_in_executor(self.executor, self.qa.reload_if_changed):
                    c = self.qa.index.manifest["counts"]
                    log.info("switched to index build %s: %d articles, %d chunks", self.qa.index.build_id,
                             c["articles"], c["chunks"])
            except NewsQAError as exc:
                log.warning("new index not loaded, still serving the previous one: %s", exc)
            except Exception:  # a half-cleaned build dir, say; try again next tick
                log.exception("new index not loaded, still serving the previous one")

    # ------------------------------------------------------------ access
    def _allowed(self, update: Update) -> bool:
        users, chats = self.tg.allowed_users, self.tg.allowed_chats
        if not users and not chats:
            return True
        user, chat = update.effective_user, update.effective_chat
        return bool((user and user.id in users) or (chat and chat.id in chats))

    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs before every handler; stops updates from people not on the allow-list."""
        if self._allowed(update):
            return
        if update.callback_query is not None:
            await update.callback_query.answer("抱歉，你没有使用这个机器人的权限。")
            raise ApplicationHandlerStop
        message = update.effective_message
        user = update.effective_user
        addressed = message is not None and (
            message.chat.type == ChatType.PRIVATE
            or (message.text or "").startswith("/")
            or question_for_bot(message, context.bot.username, context.bot.id) is not None)
        who = user.id if user else (message.chat.id if message else 0)
        if addressed and message is not None and who not in self._refused:
            self._refused.add(who)  # one refusal per person, not one per message
            log.info("refused user=%s chat=%s (not on the allow-list)", who, message.chat.id)
            await message.reply_text("抱歉，这个机器人只对受邀用户开放，你暂时无法使用。",
                                     do_quote=message.chat.type != ChatType.PRIVATE)
        raise ApplicationHandlerStop

    # ------------------------------------------------------------ commands
    def _intro(self, username: str) -> list[Block]:
        n = self.qa.index.manifest["counts"]["articles"]
        lines = [
            Run("你好！我是 "), Run("newsqa", "b"),
            Run(f"，新闻问答机器人。我读过 {n} 篇新闻文章；用中文问我问题，我会给出答案，"
                "并逐字引用原文句子，注明出处（标题、作者、日期、段落）。"),
        ]
        blocks = [Block(tuple(lines))]
        if self.tg.example_question:
            blocks.append(Block((Run("试试问："), Run(self.tg.example_question, "b"))))
        blocks.extend(self._usage(username))
        return blocks

    def _usage(self, username: str) -> list[Block]:
        return [Block((
            Run("用法", "b"),
            Run("\n• 私聊：直接发送问题"
                f"\n• 群组：@{username} 问题，回复我的消息，或 /ask 问题"
                "\n• 可以接着追问，例如「他担任什么职务？」「还有呢？」（群组里回复我的回答）；/new 开始新的对话"
                "\n• 答案下方的按钮：「查看原文」展开引用的整段，「更多来源」列出其他相关段落"
                "\n• /day 日期［版次］：那一天报纸各版的标题，例如 /day 2020-01-09 1"
                "\n• /about 已收录的文章和索引信息"),
        ))]

    async def cmd_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._send(update, context, self._intro(context.bot.username))

    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._send(update, context, self._usage(context.bot.username))

    async def cmd_about(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        m = self.qa.index.manifest
        c = m["counts"]
        dates = m.get("date_range")
        issues = f"，{m['issues']} 期" if dates and m.get("issues") else ""
        text = (f"\n已收录：{c['articles']} 篇文章，{c['chunks']} 个文本块（来自 {c['files']} 个文件）"
                f"\n日期范围：{' 至 '.join(dates) + issues if dates else '未知（文章未注明日期）'}"
                f"\n嵌入模型：{m['model']}（{m['dim']} 维）"
                f"\n检索方式：{self.cfg.retrieval.mode}（向量 + BM25）"
                f"\n索引构建时间：{m['built_at']}")
        await self._send(update, context, [Block((Run("关于 newsqa", "b"), Run(text)))])

    async def cmd_ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        question = " ".join(context.args or [])
        if not question and message.reply_to_message is not None:
            question = message.reply_to_message.text or ""  # "/ask" in reply to someone's question
        if not question.strip():
            await self._send(update, context, [Block((Run("用法：/ask 问题，例如 /ask 谁获得了表彰？"),))])
            return
        await self._answer(update, context, question)

    async def cmd_day(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        dates = self.qa.index.manifest.get("date_range")
        held = f"已收录 {dates[0]} 至 {dates[1]}。" if dates else "已收录的文章都没有日期。"
        usage = f"用法：/day 日期［版次］，例如 /day 2020-01-09 或 /day 2020-01-09 1。{held}"
        if not args or len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
            await self._send(update, context, [Block((Run(usage),))])
            return
        page = int(args[1]) if len(args) == 2 else None
        try:
            date = parse_day(args[0])
            # The catalog is built once per index build, in a worker: a Milvus index fetches its articles.
            catalog = await asyncio.get_running_loop().run_in_executor(self.executor, index_catalog, self.qa.index)
            day = catalog.day(date, page)
        except DayError as exc:
            if exc.reason == "invalid":
                text = f"看不懂日期「{args[0]}」。{usage}"
            elif page is not None and date in catalog.dates:
                pages = "、".join(f"第{p.page}版" for p in catalog.day(date).pages if p.page is not None)
                text = f"{date} 没有第{page}版的文章（有：{pages or '版次不详'}）。"
            else:
                text = f"{date} 没有收录的文章。{held}"
            await self._send(update, context, [Block((Run(text),))])
            return
        await self._send(update, context, day_blocks(day))

    async def _conversation_key(self, message: Message) -> tuple:
        """Private chat: the chat. Group: the thread of the bot's answer replied
        to, or a new thread for a question that replies to none."""
        chat_id = message.chat.id
        if message.chat.type == ChatType.PRIVATE:
            return ("chat", chat_id)
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == self._bot_id:
            where = (chat_id, reply.message_id)
            pending = [e.wait() for e in self._sending.get(chat_id, ())]
            if where not in self._threads and pending:
                # A reply can arrive before the answer it replies to has been
                # filed under its thread (the send has not returned yet).
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*pending), 30)
            return self._threads.get(where, ("thread", chat_id, reply.message_id))
        return ("thread", chat_id, message.message_id)

    def _remember_thread(self, chat_id: int, message_ids: list[int], key: tuple) -> None:
        for mid in message_ids:
            self._threads[(chat_id, mid)] = key
        while len(self._threads) > 4 * self.cfg.conversation.max_conversations:
            self._threads.popitem(last=False)

    async def cmd_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        self._bot_id = context.bot.id
        self.conversations.reset(await self._conversation_key(message))
        await self._send(update, context, [Block((Run("好的，开始新的对话。接下来的问题不再接着之前的问题。"),))])

    async def cmd_unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        command = (message.text or "").split()[0]
        target = command.partition("@")[2]
        if message.chat.type != ChatType.PRIVATE and target.lower() != (context.bot.username or "").lower():
            return  # in a group, a bare /foo is probably for another bot
        await self._send(update, context, [Block((Run(f"不认识的命令 {command}。"),))] + self._usage(context.bot.username))

    # ------------------------------------------------------------ questions
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        question = question_for_bot(message, context.bot.username, context.bot.id)
        if question is None:
            return  # group chatter
        if not question.strip():
            await self._send(update, context, self._usage(context.bot.username))
            return
        await self._answer(update, context, question)

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        who = update.effective_user.id if update.effective_user else chat.id
        wait = self.limiter.wait_time(who)
        if wait:
            log.info("rate limited user=%s chat=%s", who, chat.id)
            await self._send(update, context, [Block((Run(
                f"你提问太快了，请 {max(1, round(wait))} 秒后再问。"
                f"（每人每分钟最多 {self.tg.rate_limit_per_minute} 个问题）"),))])
            return
        started = time.perf_counter()
        self._bot_id = context.bot.id
        key = await self._conversation_key(message)
        conv = self.conversations.get(key)
        done = asyncio.Event()
        self._sending.setdefault(chat.id, set()).add(done)
        try:
            await self._answer_in(update, context, question, key, conv, started)
        finally:
            done.set()
            waiting = self._sending.get(chat.id, set())
            waiting.discard(done)
            if not waiting:
                self._sending.pop(chat.id, None)

    async def _answer_in(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str, key: tuple,
                         conv: Conversation, started: float) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        who = update.effective_user.id if update.effective_user else chat.id
        loop = asyncio.get_running_loop()
        stream = _DraftStream(self, context, chat.id, message.message_id if chat.type != ChatType.PRIVATE else None,
                              loop) if self.chat.llm is not None else None
        try:
            async with self._typing(context, chat.id):
                if stream is not None:
                    stream.start()
                try:
                    reply = await loop.run_in_executor(self.executor, self.chat.ask, conv, question, None,
                                                       stream.push if stream is not None else None)
                finally:
                    if stream is not None:
                        await stream.stop()
                answer = reply.answer
        except QuestionError as exc:
            text = (f"问题太长了，请控制在 {exc.limit} 字以内。" if exc.reason == "too_long"
                    else "请发送一个问题，例如：谁获得了表彰？")
            await self._send(update, context, [Block((Run(text),))])
            return
        latency = (time.perf_counter() - started) * 1000
        # Never the text itself: questions can be personal.
        log.info("question chat=%s user=%s chars=%d found=%s confidence=%.2f latency_ms=%.0f follow_up=%s",
                 chat.id, who, len(question), answer.found, answer.confidence, latency, reply.follow_up)
        keyboard = None
        if answer.found:
            akey = self.answers.put(answer)
            buttons = [InlineKeyboardButton("查看原文", callback_data=f"p:{akey}:0")]
            if extra_hits(answer):
                buttons.append(InlineKeyboardButton("更多来源", callback_data=f"m:{akey}"))
            keyboard = InlineKeyboardMarkup([buttons])
        blocks = chat_answer_blocks(reply)
        if stream is not None and stream.message_id is not None:
            sent = await stream.finish(blocks, keyboard)
        else:
            sent = await self._send(update, context, blocks, keyboard)
        if chat.type != ChatType.PRIVATE:
            self._remember_thread(chat.id, sent, key)

    @contextlib.asynccontextmanager
    async def _typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> AsyncIterator[None]:
        async def keep_typing() -> None:
            while True:
                try:
                    await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
                except TelegramError as exc:  # cosmetic; the answer matters more
                    log.debug("chat action failed: %s", exc)
                await asyncio.sleep(_TYPING_EVERY)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------ buttons
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        kind, _, rest = (query.data or "").partition(":")
        key, _, index = rest.partition(":")
        answer = self.answers.get(key)
        if kind not in ("p", "m") or answer is None or query.message is None:
            await query.answer("这条回答已过期，请重新提问。", show_alert=True)
            return
        chat_id = query.message.chat.id
        reply_to = query.message.message_id
        if kind == "p":
            i = int(index) if index.isdigit() else 0
            if i >= len(answer.sources):
                await query.answer("这条回答已过期，请重新提问。", show_alert=True)
                return
            source = answer.sources[i]
            article = next(h.article for h in answer.hits if h.article.id == source.article_id)
            await query.answer()
            await self._deliver(context, chat_id, paragraph_blocks(source, article), reply_to)
            return
        hits = extra_hits(answer)
        if not hits:
            await query.answer("没有更多来源了。")
            return
        await query.answer()
        await self._deliver(context, chat_id, more_blocks(hits), reply_to)

    # ------------------------------------------------------------ sending
    async def _send(self, update: Update, context: ContextTypes.DEFAULT_TYPE, blocks: list[Block],
                    keyboard: InlineKeyboardMarkup | None = None) -> list[int]:
        message, chat = update.effective_message, update.effective_chat
        assert chat is not None
        # In groups the reply quotes the question, so it is clear whom it answers.
        reply_to = message.message_id if message is not None and chat.type != ChatType.PRIVATE else None
        return await self._deliver(context, chat.id, blocks, reply_to, keyboard)

    async def _deliver(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, blocks: list[Block],
                       reply_to: int | None = None, keyboard: InlineKeyboardMarkup | None = None) -> list[int]:
        """Send ``blocks`` as one or more HTML messages (the keyboard under the
        last); a message Telegram cannot parse goes again as plain text.
        Returns the ids of the messages sent."""
        sent: list[int] = []
        groups = pack_groups(blocks)
        for i, group in enumerate(groups):
            last = i == len(groups) - 1
            kwargs = dict(
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to and i == 0 else None,
                reply_markup=keyboard if last else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
            try:
                msg = await self._send_message(context, chat_id, render_group(group), parse_mode=ParseMode.HTML,
                                               **kwargs)
                sent.append(msg.message_id)
            except BadRequest as exc:
                if "entit" not in str(exc).lower() and "parse" not in str(exc).lower():
                    raise
                log.warning("HTML rejected (%s); sending as plain text", exc)
                plain = pack(group, as_html=False)
                for j, text in enumerate(plain):
                    msg = await self._send_message(context, chat_id, text, **{
                        **kwargs, "reply_markup": kwargs["reply_markup"] if j == len(plain) - 1 else None,
                        "reply_parameters": kwargs["reply_parameters"] if j == 0 else None})
                    sent.append(msg.message_id)
        return sent

    async def _send_message(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str,
                            **kwargs: object) -> Message:
        """``send_message`` that outlasts a Bot API outage: on a 5xx, a timeout or a
        flood limit the rate limiter did not wait out, try again until the API is
        back (or ``_SEND_PATIENCE`` runs out, or the bot stops). A rejected message
        (BadRequest, Forbidden) fails at once. A timed-out call may rarely have
        been delivered after all; a duplicate then is better than a lost answer."""
        started = time.monotonic()
        pause = _SEND_BACKOFF[0]
        attempt = 0
        while True:
            attempt += 1
            try:
                sent = await context.bot.send_message(chat_id, text, **kwargs)  # type: ignore[arg-type]
            except BadRequest:
                raise
            except (NetworkError, RetryAfter) as exc:
                wait = max(pause, _retry_after_seconds(exc))
                if time.monotonic() + wait > started + _SEND_PATIENCE or not context.application.running:
                    raise
                # One warning per reply held up, not one per try: with many chats waiting, that would flood the log.
                log.log(logging.WARNING if attempt == 1 else logging.DEBUG,
                        "sending to chat %s failed (%s: %s); trying again until the Bot API is back", chat_id,
                        exc.__class__.__name__, exc)
                await asyncio.sleep(wait)
                pause = min(pause * 2, _SEND_BACKOFF[1])
                continue
            if attempt > 1:
                log.info("sent to chat %s after %d tries (%.1f s)", chat_id, attempt, time.monotonic() - started)
            return sent

    # ------------------------------------------------------------ errors
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        if update is None and isinstance(error, (NetworkError, RetryAfter)) and not isinstance(error, BadRequest):
            # Fetching updates failed: PTB tries again by itself, and no update is lost.
            log.warning("getting updates failed (%s: %s); PTB retries", error.__class__.__name__, error)
            return
        if isinstance(context.error, Forbidden):  # the user blocked the bot; nothing to tell them
            log.info("update %s: %s", update_id, context.error)
            return
        log.error("update %s failed", update_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(update.effective_chat.id, "抱歉，处理这条消息时出了点问题，请稍后再试。")


class _DraftStream:
    """A language model's answer shown as it is written: one message, edited
    with the text so far at most every ``_EDIT_EVERY`` seconds (Telegram limits
    edits), and at the end replaced by the checked answer."""

    def __init__(self, bot: NewsBot, context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply_to: int | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.bot, self.context, self.chat_id, self.reply_to, self.loop = bot, context, chat_id, reply_to, loop
        self.text = ""
        self.shown = ""
        self.message_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def push(self, piece: str) -> None:
        """From the worker thread the model streams in."""
        self.loop.call_soon_threadsafe(self._add, piece)

    def _add(self, piece: str) -> None:
        self.text += piece

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._closed:
            # The first words as soon as they come; then an edit at most every _EDIT_EVERY.
            await asyncio.sleep(_EDIT_EVERY if self.message_id is not None else 0.25)
            await self._show()

    async def _show(self) -> None:
        draft = ("✍️ " + self.text.strip() + " …")[:3500]
        if not self.text.strip() or draft == self.shown:
            return
        try:
            if self.message_id is None:
                msg = await self.context.bot.send_message(
                    self.chat_id, draft, reply_parameters=ReplyParameters(self.reply_to, allow_sending_without_reply=True)
                    if self.reply_to else None)
                self.message_id = msg.message_id
            else:
                await self.context.bot.edit_message_text(draft, chat_id=self.chat_id, message_id=self.message_id)
            self.shown = draft
        except TelegramError as exc:  # a draft is cosmetic; the checked answer is sent regardless
            log.debug("draft not shown: %s", exc)

    async def stop(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def finish(self, blocks: list[Block], keyboard: InlineKeyboardMarkup | None) -> list[int]:
        """The draft message becomes the first part of the checked answer."""
        assert self.message_id is not None
        groups = pack_groups(blocks)
        try:
            await self.context.bot.edit_message_text(
                render_group(groups[0]), chat_id=self.chat_id, message_id=self.message_id, parse_mode=ParseMode.HTML,
                reply_markup=keyboard if len(groups) == 1 else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except TelegramError as exc:
            log.warning("could not replace the draft (%s); sending the answer anew", exc)
            return await self.bot._deliver(self.context, self.chat_id, blocks, self.reply_to, keyboard)
        rest = [b for g in groups[1:] for b in g]
        sent = [self.message_id]
        if rest:
            sent += await self.bot._deliver(self.context, self.chat_id, rest, None, keyboard)
        return sent


def run(cfg: Config, qa: QA, settings: BotSettings) -> None:
    """Serve until SIGINT/SIGTERM, by long polling or webhook as configured."""
    bot = NewsBot(cfg, qa)
    app = bot.build_application(settings)
    tg = cfg.telegram
    updates = [Update.MESSAGE, Update.CALLBACK_QUERY]
    try:
        if tg.mode == "webhook":
            path = urlparse(tg.webhook_url).path.strip("/") or "telegram"
            log.info("webhook mode: listening on %s:%d/%s", tg.webhook_listen, tg.webhook_port, path)
            app.run_webhook(listen=tg.webhook_listen, port=tg.webhook_port, url_path=path,
                            webhook_url=tg.webhook_url, secret_token=settings.webhook_secret,
                            allowed_updates=updates)
        else:
            log.info("polling %s", _safe_url(settings.base_url))
            app.run_polling(allowed_updates=updates)
    except InvalidToken:
        # PTB's own message repeats the token.
        raise BotError(f"the Bot API at {_safe_url(settings.base_url)} rejected {TOKEN_ENV}; "
                       "check the token with @BotFather") from None
    except NetworkError as exc:
        raise BotError(f"cannot reach the Bot API at {_safe_url(settings.base_url)}: "
                       f"{str(exc).replace(settings.token, '<redacted>')}") from None


def _retry_after_seconds(exc: TelegramError) -> float:
    """RetryAfter's wait in seconds (0 for other errors), without PTB's warning
    about the attribute's type changing."""
    if not isinstance(exc, RetryAfter):
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[union-attr]


def _safe_url(base_url: str) -> str:
    parsed = urlparse(base_url.replace("{token}", ""))
    return f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
