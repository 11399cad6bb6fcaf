"""Layout-aware reading of newspaper PDF pages (retrieval/ingest/pdfpage.py), on pages
rendered by bench/pdfgen.py; expected values are the generator's truth."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pdfplumber")
pytest.importorskip("reportlab")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import pdfgen  # noqa: E402
from pdfgen import make_page  # noqa: E402

from conftest import CMRC_TRAIN_CONTEXTS_SAMPLE  # noqa: E402

pdfgen.CONTEXTS = CMRC_TRAIN_CONTEXTS_SAMPLE
pdfgen._contexts.cache_clear()

from retrieval.errors import CorpusError  # noqa: E402
from retrieval.ingest.pdfpage import PdfUnreadable, read_pdf  # noqa: E402


def _squeeze(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


# seed 1: a continued article at the top, headlines over two columns;
# seed 4: headlines centred over three columns and over two
@pytest.fixture(scope="module", params=[1, 4])
def page3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("pdf") / "page.pdf"
    page, _ = make_page(request.param, columns=3, size="A4", out=path)
    return page, read_pdf(path, "page.pdf")


def test_three_column_page_gives_the_printed_articles(page3) -> None:
    page, read = page3
    # the page exercises what it is meant to: a headline spanning columns and a
    # body going on in the next column
    assert any(t.columns >= 2 and t.title for t in page.articles)
    assert read.problems == [] and read.textless_pages == []
    assert len(read.articles) == len(page.articles)
    for t in page.articles:
        found = [a for a in read.articles if _squeeze("".join(a.paragraphs)) == t.body]
        assert len(found) == 1, f"body of {t.title!r} not read as one article"
        a = found[0]
        if t.title is None:
            assert a.continued_from and a.title.startswith("（上接")
        else:
            assert _squeeze(a.title) == _squeeze(t.title)
        assert a.author == t.author


def test_reading_order_keeps_sentences_whole(page3) -> None:
    page, read = page3
    # a paragraph read across a column break reads on in the next column, not
    # into the article beside it: every printed sentence is found in one piece
    text = "\n".join(p for a in read.articles for p in a.paragraphs)
    flat = _squeeze(text)
    for t in page.articles:
        for sentence in re.findall(r"[^。！？]+[。！？]", t.body)[:3]:
            assert sentence in flat


def test_pdf_without_text_layer_gives_no_article(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path), pagesize=(595, 842))
    c.setFillGray(0.5)
    c.rect(50, 50, 400, 600, stroke=0, fill=1)  # a picture, no text
    c.showPage()
    c.save()
    read = read_pdf(path, "scan.pdf")
    assert read.articles == []
    assert read.textless_pages == [1]


@pytest.mark.parametrize("data", [b"hello, not a pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ntrash"])
def test_damaged_pdf_is_one_clear_error_naming_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    with pytest.raises(PdfUnreadable) as info:
        read_pdf(path, "papers/bad.pdf")
    msg = str(info.value)
    assert isinstance(info.value, CorpusError)  # ingest reports it as a skipped file
    assert msg.startswith("papers/bad.pdf: unreadable PDF") and "\n" not in msg


def test_cut_off_pdf_is_an_error_not_a_crash(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pdf"
    make_page(2, columns=3, size="A4", out=whole)
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        read = read_pdf(cut, "cut.pdf")
    except PdfUnreadable as exc:
        assert str(exc).startswith("cut.pdf: unreadable PDF")
    else:  # a parser that recovers may read what is left; it must not invent text
        assert all(len(a.paragraphs) for a in read.articles)
