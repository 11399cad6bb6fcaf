"""Files → Articles.

Reads .txt/.md (newspaper-page aware), .html/.htm, .json/.jsonl and the text
layer of .pdf. Plain text may be UTF-8 (with or without BOM), UTF-16 with BOM
or GB18030/GBK. A file that cannot be read is reported with its reason and
skipped; a JSON record missing a required field is an error naming the file,
line and field.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable

from retrieval.errors import CorpusError
from retrieval.newspaper import PageArticle, segment_page
from retrieval.textnorm import squeeze_spaces
from retrieval.types import Article, sha1

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | PDF_SUFFIXES
DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class CorpusFile:
    """One input file and the articles read from it."""

    path: Path
    rel: str
    size: int
    mtime_ns: int
    articles: list[Article] = field(default_factory=list)


def decode_bytes(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312; most Chinese legacy files are one of these.
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _looks_chinese(text):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise CorpusError(f"{name}: cannot detect the text encoding (not UTF-8, GB18030 or other known)")
    return str(best)


def _looks_chinese(text: str) -> bool:
    sample = text[:4000]
    cjk = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
    odd = sum(1 for ch in sample if "\ue000" <= ch <= "\uf8ff" or ch == "\ufffd")
    return cjk > 0 and odd * 20 < cjk


def iter_corpus_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[SkippedFile]]:
    """Expand files and folders (recursively) into (path, display name) pairs."""
    found: list[tuple[Path, str]] = []
    skipped: list[SkippedFile] = []
    for root in paths:
        if not root.exists():
            raise CorpusError(f"{root}: corpus path does not exist")
        if root.is_file():
            found.append((root, root.name))
            continue
        for p in sorted(root.rglob("*")):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
                continue
            rel = f"{root.name}/{p.relative_to(root).as_posix()}"
            if p.suffix.lower() in SUPPORTED:
                found.append((p, rel))
            else:
                skipped.append(SkippedFile(rel, f"unsupported file type {p.suffix or '(none)'}"))
    return found, skipped


def read_file(path: Path, rel: str) -> list[Article]:
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        return _read_json(path, rel)
    if suffix in PDF_SUFFIXES:
        pages = _read_pdf(path, rel)
        return _from_page_text("\n\n".join(pages), rel)
    text = decode_bytes(path.read_bytes(), rel)
    if suffix in HTML_SUFFIXES:
        return _read_html(text, rel)
    return _from_page_text(text, rel)


def _article_id(rel: str, index: int) -> str:
    return f"{sha1(rel)[:10]}-{index}"


def _date_from_name(rel: str) -> str | None:
    m = DATE_IN_NAME.search(Path(rel).name)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def _from_page_text(text: str, rel: str) -> list[Article]:
    date = _date_from_name(rel)
    return [_finish(a, rel, i, date) for i, a in enumerate(segment_page(text))]


def _finish(a: PageArticle, rel: str, index: int, date: str | None) -> Article:
    return Article(
        id=_article_id(rel, index), title=a.title or Path(rel).stem, paragraphs=tuple(a.paragraphs),
        file=rel, author=a.author, date=date, photographer=a.photographer,
        kicker=" / ".join(a.kicker) or None, continued_from=a.continued_from,
    )


def _paragraphs(text: str) -> tuple[str, ...]:
    paras = []
    for block in re.split(r"\n\s*\n|\r?\n", text):
        block = squeeze_spaces(block.strip())
        if block:
            paras.append(block)
    return tuple(paras)


def _read_json(path: Path, rel: str) -> list[Article]:
    text = decode_bytes(path.read_bytes(), rel)
    records: list[tuple[str, object]] = []
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append((f"{rel}:{n}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{rel}:{n}: invalid JSON ({exc.msg})") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{rel}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
        items = data if isinstance(data, list) else [data]
        records = [(f"{rel}[{i}]", item) for i, item in enumerate(items)]
    articles = []
    for i, (where, rec) in enumerate(records):
        if not isinstance(rec, dict):
            raise CorpusError(f"{where}: expected an object with title and text")
        for key in ("title", "text"):
            if not isinstance(rec.get(key), str) or not rec[key].strip():
                raise CorpusError(f"{where}: missing or empty field '{key}'")
        paragraphs = _paragraphs(rec["text"])
        optional = {k: str(rec[k]) if rec.get(k) is not None else None for k in ("author", "date", "url")}
        articles.append(Article(
            id=str(rec["id"]) if rec.get("id") is not None else _article_id(rel, i),
            title=squeeze_spaces(rec["title"].strip()), paragraphs=paragraphs, file=rel,
            author=optional["author"], date=optional["date"] or _date_from_name(rel), url=optional["url"],
        ))
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
    title = parser.h1 or html.unescape(parser.title).strip() or Path(rel).stem
    paragraphs = _paragraphs("".join(parser.parts))
    if not paragraphs:
        return []
    meta = parser.meta
    date = next((meta[k] for k in ("article:published_time", "pubdate", "date", "publishdate") if k in meta), None)
    return [Article(
        id=_article_id(rel, 0), title=squeeze_spaces(title), paragraphs=paragraphs, file=rel,
        author=meta.get("author"), date=(date[:10] if date else _date_from_name(rel)), url=meta.get("og:url"),
    )]


def _read_pdf(path: Path, rel: str) -> list[str]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover
        raise CorpusError(f"{rel}: reading PDF needs the 'pypdf' package") from exc
    try:
        reader = PdfReader(str(path))
        return [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise CorpusError(f"{rel}: unreadable PDF ({exc})") from exc


def read_corpus(paths: Iterable[Path], strict: bool = False) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """Read every supported file. Unreadable files are skipped with a reason,
    unless ``strict``; the caller decides whether an empty result is an error."""
    found, skipped = iter_corpus_files(paths)
    files: list[CorpusFile] = []
    seen_ids: set[str] = set()
    for path, rel in found:
        st = path.stat()
        try:
            articles = read_file(path, rel)
        except CorpusError as exc:
            if strict:
                raise
            skipped.append(SkippedFile(rel, str(exc).removeprefix(f"{rel}: ")))
            continue
        except OSError as exc:
            skipped.append(SkippedFile(rel, f"cannot read: {exc.strerror or exc}"))
            continue
        articles = [a for a in articles if a.paragraphs]
        for a in articles:
            if a.id in seen_ids:
                raise CorpusError(f"{rel}: duplicate article id '{a.id}'")
            seen_ids.add(a.id)
        if not articles:
            skipped.append(SkippedFile(rel, "no text found"))
            continue
        files.append(CorpusFile(path, rel, st.st_size, st.st_mtime_ns, articles))
    return files, skipped
