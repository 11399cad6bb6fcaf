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
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Literal

from retrieval.errors import CorpusError
from retrieval.ingest.epaper import looks_like_article, name_info, read_article
from retrieval.ingest.ocrpage import IMAGE_SUFFIXES, read_image
from retrieval.ingest.pdfpage import read_pdf
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

# UTF-8 with this few undecodable bytes is damaged UTF-8 (a stray byte, a cut
# tail), not another encoding: a GBK or Big5 text fails on nearly every
# Chinese character, far above both limits.
MAX_BAD_BYTES = 100
MAX_BAD_SHARE = 0.01
# Past this many warnings for one file the rest are counted, not listed.
MAX_WARNINGS_PER_FILE = 10

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


def _read_text(path: Path, rel: str, problems: list[SkippedFile] | None) -> str:
    """The file's text as decoded; damaged bytes are reported (or, strictly, refused)."""
    decoded = decode_bytes(path.read_bytes(), rel)
    if decoded.bad_bytes:
        n = decoded.bad_bytes
        reason = f"{n} byte{'s' if n > 1 else ''} that {'are' if n > 1 else 'is'} not valid {decoded.encoding} left out"
        if problems is None:
            raise FileProblem(rel, reason, decoded.first_bad_line)
        problems.append(SkippedFile(rel, reason, "warning", decoded.first_bad_line))
    return decoded.text


def iter_corpus_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[SkippedFile]]:
    """Expand files and folders (recursively) into (path, display name) pairs.
    Hidden files and folders are left out; a folder that cannot be listed is
    reported, not silently missing."""
    found: list[tuple[Path, str]] = []
    skipped: list[SkippedFile] = []
    for root in paths:
        try:
            is_file = root.is_file()
            exists = is_file or root.exists()
        except OSError as exc:
            skipped.append(SkippedFile(root.name or str(root), f"cannot read: {exc.strerror or exc}"))
            continue
        if not exists:
            raise CorpusError(f"{root}: corpus path does not exist")
        if is_file:
            found.append((root, root.name))
            continue
        for p in _walk(root, skipped):
            rel = f"{root.name}/{p.relative_to(root).as_posix()}"
            if p.suffix.lower() in SUPPORTED:
                found.append((p, rel))
            else:
                skipped.append(SkippedFile(rel, f"unsupported file type {p.suffix or '(none)'}"))
    return found, skipped


def _walk(root: Path, skipped: list[SkippedFile]) -> list[Path]:
    """Files under ``root``, sorted; like ``rglob`` it does not follow links to
    folders, unlike it a folder it cannot list is reported."""
    files: list[Path] = []
    todo = [root]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            shown = root.name if folder == root else f"{root.name}/{folder.relative_to(root).as_posix()}"
            skipped.append(SkippedFile(shown, f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(folder / entry.name)
                elif entry.is_file():
                    files.append(folder / entry.name)
            except OSError:
                continue  # vanished or unreadable entry: reading it would fail the same way
    return sorted(files)


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


def _json_records(text: str, rel: str, lines: bool) -> tuple[list[tuple[int, object]], list[SkippedFile]]:
    """(line, record) pairs; for .jsonl each bad line is a warning, for .json a
    syntax error anywhere makes the file unreadable (there is no telling where
    the next record starts)."""
    bad: list[SkippedFile] = []
    if lines:
        records: list[tuple[int, object]] = []
        # Only "\n" ends a JSON line: str.splitlines would also split at U+2028
        # and other separators that are legal inside a JSON string.
        for n, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    records.append((n, json.loads(line, strict=False)))
                except (ValueError, RecursionError) as exc:
                    bad.append(SkippedFile(rel, f"invalid JSON ({_json_msg(exc)}); line left out", "warning", n))
        return records, bad
    try:
        data = json.loads(text, strict=False)
    except (ValueError, RecursionError) as exc:
        raise FileProblem(rel, f"invalid JSON ({_json_msg(exc)})", getattr(exc, "lineno", None)) from exc
    start = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
    first_line = text.count("\n", 0, start) + 1
    if not isinstance(data, list):
        return [(first_line, data)], bad
    # Walk the list once more to learn the line each record starts on.
    decoder = json.JSONDecoder(strict=False)
    records = []
    pos, line = start + 1, first_line
    for _ in data:
        nxt = _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]
        line += text.count("\n", pos, nxt)
        item, end = decoder.raw_decode(text, nxt)
        records.append((line, item))
        line += text.count("\n", nxt, end)
        pos = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
        line += text.count("\n", end, pos)
        pos += 1  # the comma
    return records, bad


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


def _read_json(text: str, rel: str, lines: bool,
               problems: list[SkippedFile] | None) -> list[tuple[Article, int | None]]:
    records, bad = _json_records(text, rel, lines)
    shared = {ln for ln, n in Counter(ln for ln, _ in records).items() if n > 1}
    articles: list[tuple[Article, int | None]] = []
    for i, (line, rec) in enumerate(records):
        what = f"record {i + 1}: " if line in shared else ""
        if not isinstance(rec, dict):
            bad.append(SkippedFile(rel, f"{what}expected an object with title and text; left out", "warning", line))
            continue
        title = clean_text(rec["title"]) if isinstance(rec.get("title"), str) else ""
        body = clean_text(rec["text"]) if isinstance(rec.get("text"), str) else ""
        missing = next((k for k, v in (("title", title), ("text", body)) if not v.strip()), None)
        if missing:
            bad.append(SkippedFile(rel, f"{what}missing or empty field '{missing}'; left out", "warning", line))
            continue
        paragraphs = _paragraphs(body)
        record_id = _field(rec, "id")
        articles.append((Article(
            id=record_id or _article_id(rel, i), title=squeeze_spaces(title.strip()), paragraphs=paragraphs,
            file=rel, author=_field(rec, "author"), date=_field(rec, "date") or _date_from_name(rel),
            url=_field(rec, "url"), kicker=_field(rec, "kicker"), subtitle=_field(rec, "subtitle"),
            section=_field(rec, "section"), dateline=_field(rec, "dateline"),
            page=_page_field(rec) or name_info(rel).page,
        ), line))
    bad.sort(key=lambda s: s.line or 0)
    if bad and problems is None:
        raise FileProblem(rel, bad[0].reason.removesuffix("; left out").removesuffix("; line left out"), bad[0].line)
    if bad and not articles:
        first = bad[0]
        raise FileProblem(rel, f"no usable record ({len(bad)} bad, the first: "
                               f"{first.reason.removesuffix('; left out').removesuffix('; line left out')})",
                          first.line)
    if problems is not None:
        problems.extend(bad)
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
                ocr_threads: int = 0, layout: str = "auto") -> tuple[list[CorpusFile], list[SkippedFile]]:
    """Read every supported file. Unreadable files are skipped with a reason,
    bad lines and records of a file are left out with a warning, and an article
    that was already read (same title and text) is kept once, remembering the
    other files in ``Article.also_in``. ``strict`` makes any skip or warning an
    error; the caller decides whether an empty result is an error. ``progress``
    makes a bar (characters) for each page-text file over ~1 MB while it is segmented;
    ``ocr_threads``: threads for OCR of scanned pages (``[corpus] ocr_threads``);
    ``layout``: how plain text is read (``[corpus] layout``)."""
    found, skipped = iter_corpus_files(paths)
    files: list[CorpusFile] = []
    first_id: dict[str, str] = {}  # article id → where it was first read
    first_text: dict[str, tuple[list[Article], int, str]] = {}  # content hash → (its file's list, index, where)
    for path, rel in found:
        problems: list[SkippedFile] | None = None if strict else []
        try:
            st = path.stat()
            located = _read_located(path, rel, problems, progress, ocr_threads, layout)
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
        warned = list(problems or ())
        kept: list[Article] = []
        same: dict[str, list[tuple[Article, int | None, str]]] = {}  # first file → articles already read there
        for a, line in located:
            if not a.paragraphs:
                continue
            where = f"{rel}:{line}" if line is not None else rel
            earlier = first_text.get(a.content_hash)
            if earlier is not None:
                their_list, i, their_where = earlier
                if their_list[i].file != rel and rel not in their_list[i].also_in:
                    first = their_list[i]
                    printed = ((a.date, a.page),) if a.page is not None else ()
                    their_list[i] = replace(first, also_in=(*first.also_in, rel),
                                            also_printed=(*first.also_printed, *printed))
                same.setdefault(their_list[i].file, []).append((a, line, their_where))
                continue
            if a.id in first_id:
                warned.append(SkippedFile(rel, f"duplicate id '{a.id}' (first in {first_id[a.id]}); left out",
                                          "warning", line))
                continue
            first_id[a.id] = where
            first_text[a.content_hash] = (kept, len(kept), where)
            kept.append(a)
        warned.sort(key=lambda s: s.line or 0)
        if strict and warned:
            raise FileProblem(rel, warned[0].reason, warned[0].line)
        skipped.extend(_capped(warned, rel))
        skipped.extend(_same_notes(rel, same))
        if kept:
            files.append(CorpusFile(path, rel, st.st_size, st.st_mtime_ns, kept))
        elif not same:
            skipped.append(SkippedFile(rel, "no article left to index" if warned else "no text found"))
    return files, skipped


def _capped(warned: list[SkippedFile], rel: str) -> list[SkippedFile]:
    if len(warned) <= MAX_WARNINGS_PER_FILE:
        return warned
    rest = len(warned) - MAX_WARNINGS_PER_FILE
    return [*warned[:MAX_WARNINGS_PER_FILE],
            SkippedFile(rel, f"{rest} more line(s) or record(s) left out like the above", "warning")]


def _same_notes(rel: str, same: dict[str, list[tuple[Article, int | None, str]]]) -> list[SkippedFile]:
    notes = []
    for other, dups in same.items():
        a, line, their_where = dups[0]
        if len(dups) == 1:
            notes.append(SkippedFile(rel, f"same article as {their_where} (《{a.title}》); indexed once", "note", line))
        else:
            notes.append(SkippedFile(rel, f"{len(dups)} articles are the same as in {other} (《{a.title}》, …); "
                                          f"indexed once", "note"))
    return notes
