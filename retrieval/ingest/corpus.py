"""Files → Articles.

Reads .txt/.md (newspaper-page aware), .html/.htm, .json/.jsonl, the text
layer of .pdf, and scanned pages (.png/.jpg/.jpeg images, PDF pages without a
text layer) by OCR. Plain text may be UTF-8 (with or without BOM), UTF-16 with BOM
or GB18030/GBK; UTF-8 with a few damaged bytes is read without them. Every
text is cleaned of terminal escapes and invisible characters before it is
segmented (``textnorm.clean_text``).

Nothing good is dropped for something bad next to it: a file that cannot be
read at all is reported and skipped; a bad line or record of a JSON file, a
duplicate id or a PDF page whose text cannot be extracted is reported as a warning and
the rest of the file is indexed; an article already read from another file is
indexed once and reported as a note.

What a folder holds is the outside world's to choose, so every input is
bounded: a file name that is not UTF-8 (an archive unpacked from Windows) is
shown decoded, links that lead nowhere or in a circle are reported, text files
over ``MAX_TEXT_BYTES`` are refused before they are read, a JSON file keeps at
most ``MAX_ARTICLES_PER_FILE`` articles and counts (not keeps) its bad records,
and a file that fails in a way nobody foresaw is one skipped line, not the end
of the rebuild.
"""

from __future__ import annotations

import errno
import html
import json
import os
import pickle
import re
import stat
import subprocess
import sys
import threading
import unicodedata
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Iterator, Literal

from retrieval.errors import CorpusError
from retrieval.ingest.epaper import looks_like_article, name_info, read_article
from retrieval.ingest.ocrpage import IMAGE_SUFFIXES, read_image
from retrieval.ingest.pdfpage import read_pdf
from retrieval.ingest import newspaper
from retrieval.ingest.newspaper import PageArticle, segment_page
from retrieval.textnorm import clean_text, squeeze_spaces
from retrieval.types import Article, ProgressFactory, sha1

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | PDF_SUFFIXES | IMAGE_SUFFIXES
# Page text this long (about 1 MB of UTF-8 Chinese) gets a progress bar when asked for.
PAGE_PROGRESS_CHARS = 350_000
# Page-text files segmented in worker processes (``[corpus] workers``, 0 = auto)
# only when there is this much of them (measured: 0.7 MB of pages gained nothing, 2.7 MB 1.6×): starting two workers costs about a
# second of CPU (jieba's dictionary and the line model, once each), a page
# of 7,000 characters 40–100 ms.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
# Automatic workers never exceed this: the main process reads files and
# deduplicates in order, and more workers than cores only wait.
MAX_AUTO_WORKERS = 8
# How far the main process reads ahead of the file it is at: what is read
# and not yet taken is held in memory (its text, and its articles once segmented).
AHEAD_FILES = 64
AHEAD_CHARS = 8_000_000

# UTF-8 with this few undecodable bytes is damaged UTF-8 (a stray byte, a cut
# tail), not another encoding: a GBK or Big5 text fails on nearly every
# Chinese character, far above both limits.
MAX_BAD_BYTES = 100
MAX_BAD_SHARE = 0.01
# Past this many warnings for one file the rest are counted, not listed.
MAX_WARNINGS_PER_FILE = 10
# Past this many file names that are not UTF-8, the rest are counted, not listed
# (an archive from Windows has them all).
MAX_NAME_WARNINGS = 10
# Text and HTML files larger than this are refused unread. Reading holds a few
# times the file (its bytes, its text, the articles): a 50 MB page file peaks
# at 353 MB; 64 MB keeps any one file well under 1 GB.
MAX_TEXT_BYTES = 64 * 1024 * 1024
# JSON grows most when parsed: one record, or one line, of ``[{},{},…]`` is
# 24 bytes of Python objects for each byte of file.
MAX_JSON_BYTES = 32 * 1024 * 1024
# A title longer than this is cut: every chunk of the article is embedded with
# its title, so a title of a megabyte would be embedded once per chunk.
MAX_TITLE_CHARS = 200
# A JSON file's records beyond this many are left out (one warning): each
# record of a few bytes becomes an article of a kilobyte or so.
MAX_ARTICLES_PER_FILE = 100_000

Kind = Literal["skipped", "warning", "note"]


@dataclass
class SkippedFile:
    """What the user is told about one input file.

    ``kind`` "skipped": nothing of the file (or folder) was indexed;
    "warning": the file was indexed but part of it was left out or repaired;
    "note": part of it was already indexed from another file.
    ``line`` is where in the file the problem is, when that is known.
    """

    path: str
    reason: str
    kind: Kind = "skipped"
    line: int | None = None

    @property
    def place(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    @property
    def message(self) -> str:
        """One line for the user, naming the file once. A file name or library
        message with a newline or terminal escape in it is shown escaped."""
        line = f"{self.kind} {self.place}: {self.reason}"
        return line if line.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


class FileProblem(CorpusError):
    """A file, or a line of it, that cannot be used; ``read_corpus`` turns it
    into a SkippedFile unless it reads strictly."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.entry = SkippedFile(path, reason, "skipped", line)
        super().__init__(f"{self.entry.place}: {reason}")


@dataclass
class CorpusFile:
    """One input file and the articles read from it."""

    path: Path
    rel: str
    size: int
    mtime_ns: int
    articles: list[Article] = field(default_factory=list)


@dataclass(frozen=True)
class Decoded:
    text: str
    bad_bytes: int = 0  # undecodable bytes left out
    first_bad_line: int | None = None
    encoding: str = "UTF-8"


def decode_bytes(data: bytes, name: str) -> Decoded:
    if data.startswith(b"\xef\xbb\xbf"):
        return _lenient(data, "utf-8", 3, name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _lenient(data, "utf-16", 0, name)
    utf8 = _utf8_with_few_errors(data, 0)
    if utf8 is not None and not utf8.bad_bytes:
        return utf8
    try:
        # GB18030 is a superset of GBK and GB2312; most Chinese legacy files are one of these.
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if utf8 is not None:
        # A few bad bytes among well-formed UTF-8 characters is damaged UTF-8; a
        # few among none is more likely a mostly-ASCII GBK file with a word or two of Chinese.
        well_formed = len(data) - utf8.bad_bytes - len(utf8.text)  # bytes beyond one per character
        if text is None or well_formed >= utf8.bad_bytes:
            return utf8
    if text is not None and _looks_chinese(text):
        return Decoded(text)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise FileProblem(name, "cannot detect the text encoding (not UTF-8, GB18030 or other known)")
    return Decoded(str(best))


def _lenient(data: bytes, encoding: str, start: int, name: str) -> Decoded:
    """A file whose BOM names its encoding: a few bad bytes are left out, more is an error."""
    if encoding == "utf-8":
        decoded = _utf8_with_few_errors(data, start)
        if decoded is None:
            raise FileProblem(name, "starts with a UTF-8 mark but is not UTF-8")
        return decoded
    text = data.decode(encoding, errors="replace")
    bad = text.count("\ufffd")
    if bad and (bad >= MAX_BAD_BYTES or bad > MAX_BAD_SHARE * len(text)):
        raise FileProblem(name, f"starts with a {encoding.upper()} mark but is not {encoding.upper()}")
    return Decoded(text.replace("\ufffd", "").removeprefix("\ufeff"), bad, 1 if bad else None, "UTF-16")


def _utf8_with_few_errors(data: bytes, start: int) -> Decoded | None:
    """UTF-8 without its undecodable bytes, or None when there are too many of
    them for this to be UTF-8. A character cut off at the very end (a truncated
    download) is always tolerated."""
    limit = min(MAX_BAD_BYTES - 1, int(len(data) * MAX_BAD_SHARE))
    parts: list[str] = []
    bad = 0
    first_bad: int | None = None
    pos = start
    while True:
        try:
            parts.append(data[pos:].decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            parts.append(data[pos : pos + exc.start].decode("utf-8"))
            if first_bad is None:
                first_bad = pos + exc.start
            bad += exc.end - exc.start
            cut_tail = pos + exc.end == len(data) and exc.end - exc.start < 4
            if bad > limit and not (cut_tail and bad - (exc.end - exc.start) <= limit):
                return None
            pos += exc.end
    line = data.count(b"\n", 0, first_bad) + 1 if first_bad is not None else None
    return Decoded("".join(parts), bad, line)


def _looks_chinese(text: str) -> bool:
    sample = text[:4000]
    cjk = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
    odd = sum(1 for ch in sample if "\ue000" <= ch <= "\uf8ff" or ch == "\ufffd")
    return cjk > 0 and odd * 20 < cjk


def _read_bytes(path: Path, rel: str, limit: int) -> bytes:
    """The file's bytes, refused unread when there are more than ``limit``
    (read with a limit, too: the file may grow while it is read)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        # size + 1, not limit + 1: read() sets aside as much as it is asked for.
        data = f.read(size + 1) if size <= limit else b""
        if len(data) > size:  # it grew since: the rest, up to the limit
            data += f.read(limit + 1 - len(data))
    if size > limit or len(data) > limit:
        raise FileProblem(rel, f"too large ({max(size, len(data)) / 2**20:,.0f} MB; newsqa reads {path.suffix.lower()} "
                               f"files up to {limit // 2**20} MB: split it)")
    return data


def _read_text(path: Path, rel: str, problems: list[SkippedFile] | None) -> str:
    """The file's text as decoded; damaged bytes are reported (or, strictly, refused)."""
    limit = MAX_JSON_BYTES if path.suffix.lower() in JSON_SUFFIXES else MAX_TEXT_BYTES
    decoded = decode_bytes(_read_bytes(path, rel, limit), rel)
    if decoded.bad_bytes:
        n = decoded.bad_bytes
        reason = f"{n} byte{'s' if n > 1 else ''} that {'are' if n > 1 else 'is'} not valid {decoded.encoding} left out"
        if problems is None:
            raise FileProblem(rel, reason, decoded.first_bad_line)
        problems.append(SkippedFile(rel, reason, "warning", decoded.first_bad_line))
    return decoded.text


class _NameWarning(SkippedFile):
    """A file indexed under a name decoded from bytes that are not UTF-8;
    withdrawn when the file is skipped anyway (its skipped line names it)."""


def shown_name(name: str) -> tuple[str, str | None]:
    """A file or folder name as newsqa shows and stores it, and how it was
    decoded when it is not UTF-8 (None when it is). Python hands such a name
    over with its bytes escaped as lone surrogates, which nothing downstream
    can encode (the article id, the index's JSON): it is decoded as GB18030
    (GBK names from Windows archives) where that fits, else its bytes are shown
    as \\xNN."""
    try:
        name.encode("utf-8")
        return name, None
    except UnicodeEncodeError:
        pass
    raw = name.encode("utf-8", "surrogateescape") if _only_escapes(name) else None
    if raw is not None:
        try:
            return raw.decode("gb18030"), "GBK"
        except UnicodeDecodeError:
            return raw.decode("utf-8", "backslashreplace"), "bytes"
    return name.encode("utf-8", "backslashreplace").decode("ascii"), "bytes"


def _only_escapes(name: str) -> bool:
    """Whether every surrogate in ``name`` stands for a byte (U+DC80–U+DCFF)."""
    return all(not "\ud800" <= c <= "\udfff" or "\udc80" <= c <= "\udcff" for c in name)


def _shown_path(root: Path, p: Path | None = None, as_bytes: bool = False) -> tuple[str, str | None]:
    """``root``'s name and ``p`` below it as shown, and how a part that is not
    UTF-8 was decoded; ``as_bytes``: such a part's bytes shown as \\xNN."""
    parts = [root.name or str(root), *(p.relative_to(root).parts if p is not None and p != root else ())]
    shown = [shown_name(x) for x in parts]
    if as_bytes:
        shown = [(os.fsencode(x).decode("utf-8", "backslashreplace"), "bytes") if how else (y, how)
                 for x, (y, how) in zip(parts, shown)]
    how = next((h for _, h in shown if h), None)
    return "/".join(x for x, _ in shown), how


def iter_corpus_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[SkippedFile]]:
    """Expand files and folders (recursively) into (path, display name) pairs.
    Hidden files and folders are left out; a folder that cannot be listed, a
    link that leads nowhere or in a circle and anything that is not a regular
    file are reported, not silently missing. A name that is not UTF-8 is
    shown decoded (``shown_name``) with one warning."""
    found: list[tuple[Path, str]] = []
    skipped: list[SkippedFile] = []
    decoded: list[tuple[int, str, Path]] = []  # (index in found, how, root) of names that are not UTF-8
    for root in paths:
        try:
            is_file = root.is_file()
            exists = is_file or root.exists()
        except OSError as exc:
            skipped.append(SkippedFile(_shown_path(root)[0], f"cannot read: {exc.strerror or exc}"))
            continue
        if not exists:
            raise CorpusError(f"{shown_name(str(root))[0]}: corpus path does not exist")
        if is_file:
            rel, how = shown_name(root.name)
            if how:
                decoded.append((len(found), how, root))
            found.append((root, rel))
            continue
        files, odd, unlisted = _walk(root)
        for folder, why in unlisted:
            skipped.append(SkippedFile(_shown_path(root, folder)[0], f"cannot list folder: {why}"))
        for p, why in odd:
            skipped.append(SkippedFile(_shown_path(root, p)[0], why))
        for p in files:
            rel, how = _shown_path(root, p)
            if p.suffix.lower() in SUPPORTED:
                if how:
                    decoded.append((len(found), how, root))
                found.append((p, rel))
            else:
                skipped.append(SkippedFile(rel, f"unsupported file type {shown_name(p.suffix)[0] or '(none)'}"))
    return found, [*_name_warnings(found, decoded), *skipped]


def _name_warnings(found: list[tuple[Path, str]], decoded: list[tuple[int, str, Path]]) -> list[SkippedFile]:
    """One warning per file name that is not UTF-8 (the first few; then a
    count). A decoded name that another file already has is shown as bytes
    instead: two files must never share a name in the index."""
    taken = Counter(rel for _, rel in found)
    out: list[SkippedFile] = []
    for i, how, root in decoded:
        path, rel = found[i]
        if taken[rel] > 1:
            taken[rel] -= 1
            rel = _shown_path(root, path, as_bytes=True)[0] if path != root else \
                os.fsencode(path.name).decode("utf-8", "backslashreplace")
            found[i] = (path, rel)
            how = "bytes"
        reason = ("file name is not UTF-8; read as GBK" if how == "GBK"
                  else "file name is not UTF-8; its bytes are shown as \\xNN") + ", indexed under this name"
        out.append(_NameWarning(rel, reason, "warning"))
    if len(out) > MAX_NAME_WARNINGS:
        rest = len(out) - MAX_NAME_WARNINGS
        out = [*out[:MAX_NAME_WARNINGS], _NameWarning(found[decoded[MAX_NAME_WARNINGS][0]][1],
               f"and {rest} more file name(s) that are not UTF-8, shown decoded like the above", "warning")]
    return out


def _walk(root: Path) -> tuple[list[Path], list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Files under ``root``, sorted; entries that are not regular files, with
    why they are left out; folders that cannot be listed, with why. Like
    ``rglob`` it does not follow links to folders (a link back up would loop)."""
    files: list[Path] = []
    odd: list[tuple[Path, str]] = []
    unlisted: list[tuple[Path, str]] = []
    todo = [root]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            unlisted.append((folder, exc.strerror or str(exc)))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file()
            except OSError:  # a link loop, for one
                is_dir = is_file = False
            if is_dir:
                todo.append(folder / entry.name)
            elif is_file:
                files.append(folder / entry.name)
            elif (why := _not_a_file(entry)) is not None:
                odd.append((folder / entry.name, why))
    return sorted(files), sorted(odd), sorted(unlisted)


def _not_a_file(entry: os.DirEntry) -> str | None:
    """Why an entry that is neither a folder nor a regular file is left out;
    None when it vanished since the folder was listed."""
    try:
        link = stat.S_ISLNK(os.lstat(entry.path).st_mode)
    except OSError:
        return None
    if not link:
        # Opening a named pipe would wait for a writer forever.
        return "not a regular file (a pipe, socket or device)"
    try:
        st = os.stat(entry.path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loop (the link leads back to itself)"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            try:
                target = shown_name(os.readlink(entry.path))[0]
            except OSError:
                target = "?"
            return f"broken link (its target {target} does not exist)"
        return f"cannot follow link: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return "link to a folder, not followed (name the folder itself in [corpus] paths)"
    return "link to something that is not a regular file"


def read_file(path: Path, rel: str, problems: list[SkippedFile] | None = None) -> list[Article]:
    """The articles of one file. Lines or records that cannot be used are
    added to ``problems`` as warnings; without a list, the first one raises."""
    return [a for a, _ in _read_located(path, rel, problems)]


def _read_located(path: Path, rel: str, problems: list[SkippedFile] | None,
                  progress: ProgressFactory | None = None, ocr_threads: int = 0,
                  layout: str = "auto") -> list[tuple[Article, int | None]]:
    """Articles with the line each starts on, where the format has one (JSON).
    ``progress``: a bar for segmenting a big page-text file; ``ocr_threads``:
    threads for reading scanned pages (0: the default); ``layout``: plain text
    as "page", "article" (one a file) or "auto" (``[corpus] layout``)."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES or suffix in IMAGE_SUFFIXES:
        if suffix in IMAGE_SUFFIXES:
            # A scanned page: OCR, then the PDF layout path (retrieval/ingest/ocrpage.py).
            found = read_image(path, rel, ocr_threads)  # ImageUnreadable is a CorpusError naming the file
        else:
            # Layout-aware: columns, reading order, headlines by size (retrieval/ingest/pdfpage.py).
            pdf = read_pdf(path, rel, ocr_threads=ocr_threads)  # PdfUnreadable is a CorpusError naming the file
            for reason in pdf.problems:
                if problems is None:
                    raise FileProblem(rel, reason)
                problems.append(SkippedFile(rel, reason, "warning"))
            found = pdf.articles
        date = _date_from_name(rel)
        out = []
        for i, a in enumerate(found):
            a.paragraphs = [p for p in (clean_text(x) for x in a.paragraphs) if p.strip()]
            a.title = clean_text(a.title) if a.title else a.title
            if a.paragraphs:
                out.append((_finish(a, rel, i, date), None))
        return out
    text = _read_text(path, rel, problems)
    # JSON and HTML are cleaned field by field after parsing: cleaning first
    # would turn a U+2028 inside a JSON string into a line break, and escapes
    # such as \u200b or &#8203; only become characters when parsed.
    if suffix in JSON_SUFFIXES:
        return _read_json(text, rel, suffix == ".jsonl", problems)
    if suffix in HTML_SUFFIXES:
        return [(a, None) for a in _read_html(text, rel)]
    return [(a, None) for a in _from_page_text(clean_text(text), rel, progress, layout)]


def _article_id(rel: str, index: int) -> str:
    return f"{sha1(rel)[:10]}-{index}"


def _date_from_name(rel: str) -> str | None:
    # the file name, else a dated folder ("2020-01-09/04-02.txt")
    return name_info(rel).date


def _stem(rel: str) -> str:
    return clean_text(Path(rel).stem)


def _from_page_text(text: str, rel: str, progress: ProgressFactory | None = None,
                    layout: str = "auto") -> list[Article]:
    if layout == "article" or (layout == "auto" and looks_like_article(text)):
        return _from_article_text(text, rel)
    date = _date_from_name(rel)
    if progress is None or len(text) < PAGE_PROGRESS_CHARS:
        return [_finish(a, rel, i, date) for i, a in enumerate(segment_page(text))]
    bar = progress(len(text), f"reading {rel}")
    shown = 0

    def advance(done: int, _total: int) -> None:
        nonlocal shown
        bar.update(done - shown)
        shown = done

    try:
        pages = segment_page(text, advance)
    finally:
        bar.close()
    return [_finish(a, rel, i, date) for i, a in enumerate(pages)]


def _finish(a: PageArticle, rel: str, index: int, date: str | None) -> Article:
    return Article(
        id=_article_id(rel, index), title=a.title or _stem(rel), paragraphs=tuple(a.paragraphs),
        file=rel, author=a.author, date=date, photographer=a.photographer,
        kicker=" / ".join(a.kicker) or None, continued_from=a.continued_from, page=name_info(rel).page,
        subtitle=a.subtitle, dateline=a.dateline,
    )


def _from_article_text(text: str, rel: str) -> list[Article]:
    """One e-paper article file (retrieval/ingest/epaper.py)."""
    art = read_article(text)
    if art is None or not art.paragraphs:
        return []
    where = name_info(rel)
    return [Article(
        id=_article_id(rel, 0), title=art.title, paragraphs=tuple(art.paragraphs), file=rel, author=art.author,
        date=where.date, photographer=art.photographer, kicker=art.kicker, page=where.page,
        subtitle=art.subtitle, dateline=art.dateline,
    )]


def _paragraphs(text: str) -> tuple[str, ...]:
    paras = []
    for block in re.split(r"\n\s*\n|\r?\n", text):
        block = squeeze_spaces(block.strip())
        if block:
            paras.append(block)
    return tuple(paras)


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class _BadLine:
    """A line of a .jsonl file that is not JSON."""

    reason: str


def _json_records(text: str, rel: str, lines: bool) -> Iterator[tuple[int, object, bool]]:
    """(line, record, whether another record shares its line), one at a time:
    a file of millions of tiny records must never be millions of objects at
    once (3 MB of ``{},`` parsed whole is 300 MB). For .jsonl a line that is
    not JSON comes as a _BadLine; for .json a syntax error anywhere makes the
    file unreadable (there is no telling where the next record starts): it
    raises when the walk reaches it."""
    if lines:
        # Only "\n" ends a JSON line: str.splitlines would also split at U+2028
        # and other separators that are legal inside a JSON string.
        n, pos = 0, 0
        while pos <= len(text):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            n += 1
            line = text[pos:end]
            pos = end + 1
            if line.strip():
                try:
                    yield n, json.loads(line, strict=False), False
                except (ValueError, RecursionError) as exc:
                    yield n, _BadLine(f"invalid JSON ({_json_msg(exc)})"), False
        return
    start = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
    line = text.count("\n", 0, start) + 1
    try:
        if not text.startswith("[", start):
            yield line, json.loads(text, strict=False), False
            return
        decoder = json.JSONDecoder(strict=False)
        nxt = _JSON_SPACE.match(text, start + 1).end()  # type: ignore[union-attr]
        line += text.count("\n", start, nxt)
        prev: int | None = None
        if text.startswith("]", nxt):
            pos = nxt + 1
        else:
            while True:
                item, end = decoder.raw_decode(text, nxt)
                after = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
                if text.startswith(",", after):
                    following = _JSON_SPACE.match(text, after + 1).end()  # type: ignore[union-attr]
                    next_line = line + text.count("\n", nxt, following)
                    yield line, item, line in (prev, next_line)
                    prev, line, nxt = line, next_line, following
                elif text.startswith("]", after):
                    yield line, item, line == prev
                    pos = after + 1
                    break
                else:
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, after)
        tail = _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if tail != len(text):
            raise json.JSONDecodeError("Extra data", text, tail)
    except (ValueError, RecursionError) as exc:
        raise FileProblem(rel, f"invalid JSON ({_json_msg(exc)})", getattr(exc, "lineno", None)) from exc


def _json_msg(exc: BaseException) -> str:
    return getattr(exc, "msg", None) or "nested too deeply"


def _field(rec: dict, key: str) -> str | None:
    value = rec.get(key)
    if value is None or isinstance(value, (dict, list)):
        return None
    return clean_text(str(value)).strip() or None


def _page_field(rec: dict) -> int | None:
    """``page`` as a number: 4, "4", "04", "第4版", "A4" all say page 4."""
    value = _field(rec, "page")
    m = re.search(r"\d{1,4}", value or "")
    return (int(m.group()) or None) if m else None


class _Bad:
    """A file's bad lines and records: the first few as warnings, the rest
    counted (a file of a million bad lines must not be a million objects)."""

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.first: list[SkippedFile] = []
        self.count = 0

    def add(self, reason: str, line: int | None) -> None:
        self.count += 1
        if len(self.first) < MAX_WARNINGS_PER_FILE:
            self.first.append(SkippedFile(self.rel, reason, "warning", line))


class _MoreLeftOut(SkippedFile):
    """Stands for ``count`` more warnings like those before it (see ``_capped``)."""

    def __init__(self, rel: str, count: int) -> None:
        super().__init__(rel, f"{count} more line(s) or record(s) left out like the above", "warning")
        self.count = count


def _read_json(text: str, rel: str, lines: bool,
               problems: list[SkippedFile] | None) -> list[tuple[Article, int | None]]:
    bad = _Bad(rel)
    articles: list[tuple[Article, int | None]] = []
    beyond = 0  # records past MAX_ARTICLES_PER_FILE
    i = -1  # the record's number among the records that are JSON (its id when it has none)
    for line, rec, shared in _json_records(text, rel, lines):
        if isinstance(rec, _BadLine):
            bad.add(f"{rec.reason}; line left out", line)
            if problems is None:
                break
            continue
        i += 1
        what = f"record {i + 1}: " if shared else ""
        if not isinstance(rec, dict):
            bad.add(f"{what}expected an object with title and text; left out", line)
        elif not (title := clean_text(rec["title"]) if isinstance(rec.get("title"), str) else "").strip():
            bad.add(f"{what}missing or empty field 'title'; left out", line)
        elif not (body := clean_text(rec["text"]) if isinstance(rec.get("text"), str) else "").strip():
            bad.add(f"{what}missing or empty field 'text'; left out", line)
        elif len(articles) >= MAX_ARTICLES_PER_FILE:
            beyond += 1
            continue
        else:
            record_id = _field(rec, "id")
            articles.append((Article(
                id=record_id or _article_id(rel, i), title=squeeze_spaces(title.strip()),
                paragraphs=_paragraphs(body), file=rel, author=_field(rec, "author"),
                date=_field(rec, "date") or _date_from_name(rel), url=_field(rec, "url"),
                kicker=_field(rec, "kicker"), subtitle=_field(rec, "subtitle"), section=_field(rec, "section"),
                dateline=_field(rec, "dateline"), page=_page_field(rec) or name_info(rel).page,
            ), line))
            continue
        if problems is None:
            break
    if bad.count and problems is None:
        first = bad.first[0]
        raise FileProblem(rel, first.reason.removesuffix("; left out").removesuffix("; line left out"), first.line)
    if bad.count and not articles:
        first = bad.first[0]
        raise FileProblem(rel, f"no usable record ({bad.count} bad, the first: "
                               f"{first.reason.removesuffix('; left out').removesuffix('; line left out')})",
                          first.line)
    if problems is not None:
        problems.extend(bad.first)
        if bad.count > len(bad.first):
            problems.append(_MoreLeftOut(rel, bad.count - len(bad.first)))
        if beyond:
            problems.append(SkippedFile(rel, f"{beyond} record(s) past the first {MAX_ARTICLES_PER_FILE:,} left out "
                                             f"(split the file to index them)", "warning"))
    return articles


class _HTMLText(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "blockquote"}
    SKIP = {"script", "style", "noscript", "nav", "footer", "header", "aside"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self.meta: dict[str, str] = {}
        self._skip = 0
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        if tag == "meta":
            a = {k: v or "" for k, v in attrs}
            key = (a.get("name") or a.get("property") or "").lower()
            if key and a.get("content"):
                self.meta[key] = a["content"]
        if tag in self.BLOCKS:
            self.parts.append("\n")
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "title":
            self.title += data
        elif self._skip:
            return
        elif current == "h1" and not self.h1:
            self.h1 = data.strip()
        else:
            self.parts.append(data)


def _read_html(text: str, rel: str) -> list[Article]:
    parser = _HTMLText()
    parser.feed(text)
    # Cleaned again after parsing: entities such as &#8203; or &shy; only become
    # invisible characters here.
    title = clean_text(parser.h1).strip() or clean_text(html.unescape(parser.title)).strip() or _stem(rel)
    paragraphs = _paragraphs(clean_text("".join(parser.parts)))
    if not paragraphs:
        return []
    meta = {k: clean_text(v).strip() for k, v in parser.meta.items()}
    date = next((meta[k] for k in ("article:published_time", "pubdate", "date", "publishdate") if meta.get(k)), None)
    return [Article(
        id=_article_id(rel, 0), title=squeeze_spaces(title), paragraphs=paragraphs, file=rel,
        author=meta.get("author") or None, date=(date[:10] if date else _date_from_name(rel)),
        url=meta.get("og:url") or None,
    )]


def read_corpus(paths: Iterable[Path], strict: bool = False, progress: ProgressFactory | None = None,
                ocr_threads: int = 0, layout: str = "auto", workers: int = 0
                ) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """Read every supported file. Unreadable files are skipped with a reason,
    bad lines and records of a file are left out with a warning, and an article
    that was already read (same title and text) is kept once, remembering the
    other files in ``Article.also_in``. ``strict`` makes any skip or warning an
    error; the caller decides whether an empty result is an error. ``progress``
    makes a bar (characters) for each page-text file over ~1 MB while it is segmented;
    ``ocr_threads``: threads for OCR of scanned pages (``[corpus] ocr_threads``);
    ``layout``: how plain text is read (``[corpus] layout``); ``workers``:
    processes that segment page-text files (``[corpus] workers``; 0: one a
    core when there is enough page text, 1: none) — the result, warnings and
    errors are the same either way."""
    found, skipped = iter_corpus_files(paths)
    pool = _PagePool.open(found, workers, strict, layout)
    try:
        files = _read_all(found, skipped, pool, strict, progress, ocr_threads, layout)
    finally:
        if pool is not None:
            pool.close()
    gone = {s.path for s in skipped if s.kind == "skipped"}
    # A name warning is withdrawn for a file skipped anyway: its skipped line names it.
    return files, [s for s in skipped if not (isinstance(s, _NameWarning) and s.path in gone)]


def _read_all(found: list[tuple[Path, str]], skipped: list[SkippedFile], pool: _PagePool | None, strict: bool,
              progress: ProgressFactory | None, ocr_threads: int, layout: str) -> list[CorpusFile]:
    """``read_corpus``'s files in order, adding to ``skipped``; page-text files
    come from ``pool`` when there is one."""
    files: list[CorpusFile] = []
    first_id: dict[str, str] = {}  # article id → where it was first read
    first_text: dict[str, tuple[list[Article], int, str]] = {}  # content hash → (its file's list, index, where)
    for i, (path, rel) in enumerate(found):
        ahead = pool.take(i) if pool is not None else None
        problems: list[SkippedFile] | None = (None if strict else []) if ahead is None else ahead.problems
        try:
            if ahead is None:
                st = path.stat()
                located = _read_located(path, rel, problems, progress, ocr_threads, layout)
            else:
                st, located = pool.result(ahead, rel, progress)
        except FileProblem as exc:
            if strict:
                raise
            skipped.extend(problems or ())
            skipped.append(exc.entry)
            continue
        except CorpusError as exc:
            if strict:
                raise
            skipped.append(SkippedFile(rel, str(exc).removeprefix(f"{rel}: ")))
            continue
        except OSError as exc:
            skipped.append(SkippedFile(rel, f"cannot read: {exc.strerror or exc}"))
            continue
        except MemoryError:
            skipped.append(SkippedFile(rel, "not enough memory to read it"))
            continue
        except Exception as exc:  # noqa: BLE001 - a parser's own bug in one file must not end the rebuild
            if strict:
                raise
            skipped.append(SkippedFile(rel, f"cannot be read ({type(exc).__name__}: {str(exc)[:160]})"))
            continue
        warned = list(problems or ())
        kept: list[Article] = []
        same: dict[str, tuple[tuple[Article, int | None, str], int]] = {}  # first file → (first already read there, how many)
        for a, line in located:
            if not a.paragraphs:
                continue
            if len(a.title) > MAX_TITLE_CHARS:
                warned.append(SkippedFile(rel, f"a title of {len(a.title):,} characters cut to {MAX_TITLE_CHARS}",
                                          "warning", line))
                a = replace(a, title=a.title[:MAX_TITLE_CHARS] + "…")
            where = f"{rel}:{line}" if line is not None else rel
            earlier = first_text.get(a.content_hash)
            if earlier is not None:
                their_list, i, their_where = earlier
                if their_list[i].file != rel and rel not in their_list[i].also_in:
                    original = their_list[i]
                    printed = ((a.date, a.page),) if a.page is not None else ()
                    their_list[i] = replace(original, also_in=(*original.also_in, rel),
                                            also_printed=(*original.also_printed, *printed))
                first, n = same.get(their_list[i].file, ((a, line, their_where), 0))
                same[their_list[i].file] = (first, n + 1)
                continue
            if a.id in first_id:
                warned.append(SkippedFile(rel, f"duplicate id '{a.id}' (first in {first_id[a.id]}); left out",
                                          "warning", line))
                continue
            first_id[a.id] = where
            first_text[a.content_hash] = (kept, len(kept), where)
            kept.append(a)
        warned.sort(key=lambda s: (isinstance(s, _MoreLeftOut), s.line or 0))
        if strict and warned:
            raise FileProblem(rel, warned[0].reason, warned[0].line)
        if not kept and not same and len(warned) == 1 and warned[0].line is None:
            # Nothing of the file is indexed and one reason says why (a PDF whose
            # only page is too large to render): that is the one skipped line.
            skipped.append(SkippedFile(rel, warned[0].reason.removesuffix("; left out")))
            continue
        skipped.extend(_capped(warned, rel))
        skipped.extend(_same_notes(rel, same))
        if kept:
            files.append(CorpusFile(path, rel, st.st_size, st.st_mtime_ns, kept))
        elif not same:
            skipped.append(SkippedFile(rel, "no article left to index" if warned else "no text found"))
    return files


def corpus_workers(wanted: int, found: list[tuple[Path, str]]) -> int:
    """Processes to segment page text in (1: in this one). ``wanted`` 0 is
    one a core (at most MAX_AUTO_WORKERS) when the page-text files hold at
    least PARALLEL_MIN_BYTES; any other number is taken as it is."""
    if wanted:
        return max(1, wanted)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        return 1
    total = 0
    for path, _ in found:
        if path.suffix.lower() in TEXT_SUFFIXES:
            try:
                total += path.stat().st_size
            except OSError:
                continue
            if total >= PARALLEL_MIN_BYTES:
                return min(cores, MAX_AUTO_WORKERS)
    return 1


class _Worker:
    """One ``pageworker`` process, owned by one thread of the pool."""

    def __init__(self, model: dict | None) -> None:
        env = dict(os.environ)
        # the worker imports this copy of newsqa, wherever the caller found it
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        self.proc = subprocess.Popen([sys.executable, "-m", "retrieval.ingest.pageworker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.send(model)

    def send(self, obj: object) -> None:
        assert self.proc.stdin is not None
        pickle.dump(obj, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def segment(self, chunk: str) -> list[PageArticle] | None:
        self.send(chunk)
        return pickle.load(self.proc.stdout)  # type: ignore[arg-type]

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.proc.stdout.close()  # type: ignore[union-attr]


@dataclass
class _Ahead:
    """A page-text file read by the main process ahead of its turn, its chunks
    handed to the workers; a failure is kept and raised when its turn comes."""

    problems: list[SkippedFile] | None
    st: os.stat_result | None = None
    error: Exception | None = None
    text: str = ""  # cleaned, before NFC (what the progress bar counts)
    chunks: list[str] = field(default_factory=list)
    futures: list[Future] = field(default_factory=list)


class _PagePool:
    """Worker processes segmenting page-text files (and the chunks of a big
    one, which ``segment_page`` segments apart anyway) while the main process
    takes the results in file order: read, warned about, deduplicated and
    reported exactly as when read alone."""

    def __init__(self, found: list[tuple[Path, str]], workers: int, strict: bool, layout: str) -> None:
        self.found = found
        self.strict = strict
        self.layout = layout
        self.ready: dict[int, _Ahead] = {}
        self.next = 0
        self.broken = False
        # Worker processes of our own (pageworker.py), each fed by one thread:
        # a fork would inherit the caller's threads mid-lock, and a fork server
        # or spawn would run the caller's main module again in every worker.
        self.model = newspaper._LINE_MODEL
        self.local = threading.local()
        self.workers: list[_Worker] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="newsqa-pages")

    def _segment(self, chunk: str) -> list[PageArticle] | None:
        """In a pool thread: the chunk's articles from this thread's worker."""
        worker = getattr(self.local, "worker", None)
        if worker is None:
            worker = self.local.worker = _Worker(self.model)
            with self.lock:
                self.workers.append(worker)
        return worker.segment(chunk)

    @classmethod
    def open(cls, found: list[tuple[Path, str]], workers: int, strict: bool, layout: str) -> _PagePool | None:
        n = corpus_workers(workers, found) if layout != "article" else 1
        if n < 2:
            return None
        try:
            return cls(found, n, strict, layout)
        except (OSError, ValueError, ImportError):  # no processes to be had here: read serially
            return None

    def take(self, i: int) -> _Ahead | None:
        """File ``i`` read ahead (None: not a page-text file), reading more ahead."""
        self.next = max(self.next, i)
        while (self.next < len(self.found) and self.next - i < AHEAD_FILES
               and sum(len(a.text) for a in self.ready.values()) < AHEAD_CHARS):
            path, rel = self.found[self.next]
            if path.suffix.lower() in TEXT_SUFFIXES:
                self.ready[self.next] = self._prepare(path, rel)
            self.next += 1
        return self.ready.pop(i, None)

    def _prepare(self, path: Path, rel: str) -> _Ahead:
        ahead = _Ahead(None if self.strict else [])
        try:
            ahead.st = path.stat()
            ahead.text = clean_text(_read_text(path, rel, ahead.problems))
        except Exception as exc:  # noqa: BLE001 - raised when its turn comes, and handled there
            ahead.error = exc
            return ahead
        if self.broken or (self.layout == "auto" and looks_like_article(ahead.text)):
            return ahead  # one article a file is quick: read in its turn
        ahead.chunks = list(newspaper._chunks(unicodedata.normalize("NFC", ahead.text)))
        try:
            ahead.futures = [self.executor.submit(self._segment, c) for c in ahead.chunks]
        except Exception:  # noqa: BLE001 - the pool broke or cannot start: the rest is read here
            self.broken = True
            ahead.futures = []
        return ahead

    def result(self, ahead: _Ahead, rel: str, progress: ProgressFactory | None
               ) -> tuple[os.stat_result, list[tuple[Article, int | None]]]:
        """The file's stat and articles, as ``_read_located`` gives them."""
        if ahead.error is not None:
            raise ahead.error
        assert ahead.st is not None
        if not ahead.futures:
            return ahead.st, [(a, None) for a in _from_page_text(ahead.text, rel, progress, self.layout)]
        bar = None
        if progress is not None and len(ahead.text) >= PAGE_PROGRESS_CHARS:
            bar = progress(len(ahead.text), f"reading {rel}")
        pages: list[PageArticle] = []
        try:
            for chunk, future in zip(ahead.chunks, ahead.futures):
                try:
                    got = future.result()
                except Exception:  # noqa: BLE001 - a worker died or cannot start: read here
                    self.broken = True
                    got = None
                if got is None:
                    for f in ahead.futures:
                        f.cancel()
                    if bar is not None:
                        bar.close()
                        bar = None
                    return ahead.st, [(a, None) for a in _from_page_text(ahead.text, rel, progress, self.layout)]
                pages.extend(got)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        date = _date_from_name(rel)
        return ahead.st, [(_finish(a, rel, i, date), None) for i, a in enumerate(pages)]

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for worker in self.workers:
            worker.close()


def _capped(warned: list[SkippedFile], rel: str) -> list[SkippedFile]:
    """The first MAX_WARNINGS_PER_FILE warnings, then one line counting the rest
    (those a reader already counted included)."""
    more = sum(s.count for s in warned if isinstance(s, _MoreLeftOut))
    warned = [s for s in warned if not isinstance(s, _MoreLeftOut)]
    rest = max(0, len(warned) - MAX_WARNINGS_PER_FILE) + more
    if not rest:
        return warned
    return [*warned[:MAX_WARNINGS_PER_FILE],
            SkippedFile(rel, f"{rest} more line(s) or record(s) left out like the above", "warning")]


def _same_notes(rel: str, same: dict[str, tuple[tuple[Article, int | None, str], int]]) -> list[SkippedFile]:
    notes = []
    for other, ((a, line, their_where), n) in same.items():
        if n == 1:
            notes.append(SkippedFile(rel, f"same article as {their_where} (《{a.title}》); indexed once", "note", line))
        else:
            notes.append(SkippedFile(rel, f"{n} articles are the same as in {other} (《{a.title}》, …); "
                                          f"indexed once", "note"))
    return notes
