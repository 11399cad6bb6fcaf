"""Scanned pages (retrieval/ingest/ocrpage.py): real RapidOCR on real rendered
page images; expected values are the page generator's truth (bench/pdfgen.py)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("rapidocr_onnxruntime")
pytest.importorskip("reportlab")
pytest.importorskip("paperang_p2_fonts_cjk")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import pdfgen  # noqa: E402
from pdfgen import cjk_font_file, make_articles_page, make_page, render_png  # noqa: E402

from conftest import CMRC_TRAIN_CONTEXTS_SAMPLE, SAMPLE, write_config  # noqa: E402

pdfgen.CONTEXTS = CMRC_TRAIN_CONTEXTS_SAMPLE
pdfgen._contexts.cache_clear()
from retrieval.ingest.corpus import read_corpus, read_file  # noqa: E402


def _squeeze(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def _dashes_folded(text: str | None) -> str:
    # A known weakness of the recogniser: a dash "——" is read as "一一" or
    # "－一" (bench/ocrscore.py counts it as wrong); a title is otherwise exact.
    return re.sub(r"[—－一‐–-]", "-", _squeeze(text))


def _char_f1(truth: str, found: str) -> float:
    from collections import Counter

    inter = sum((Counter(truth) & Counter(found)).values())
    return 2 * inter / (len(truth) + len(found)) if truth and found else 0.0


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory):
    """A three-column A4 page (seed 3: headlines over two and three columns,
    bodies going on in the next column, leads with one or two reporters),
    drawn and rendered to a 150 dpi greyscale PNG like a scan."""
    d = tmp_path_factory.mktemp("scan")
    page, data = make_page(3, columns=3, size="A4", font_file=cjk_font_file())
    png = d / "page_2020-03-05.png"
    render_png(data, png, dpi=150)
    return page, png


def _assert_reads_as(page, articles) -> None:
    assert any(t.columns >= 2 for t in page.articles)  # the page exercises the layout path
    assert len(articles) == len(page.articles)
    for t in page.articles:
        # the article whose body is most like the true body
        a = max(articles, key=lambda a: _char_f1(t.body, _squeeze("".join(a.paragraphs))))
        assert _char_f1(t.body, _squeeze("".join(a.paragraphs))) > 0.95, t.title
        if t.title is None:
            assert a.title.startswith("（上接")
        else:
            assert _dashes_folded(a.title) == _dashes_folded(t.title)
        # names in a byline are told apart by the spaces between them
        assert a.author == t.author, t.title


def test_image_of_a_page_gives_its_articles_with_their_titles(scanned) -> None:
    page, png = scanned
    articles = read_file(png, png.name)
    _assert_reads_as(page, articles)
    assert {a.date for a in articles} == {"2020-03-05"}  # from the file name, as for text pages
    assert all(a.file == png.name for a in articles)


def test_pdf_page_without_text_layer_is_read_by_ocr(scanned, tmp_path: Path) -> None:
    from PIL import Image

    page, png = scanned
    pdf = tmp_path / "scan.pdf"
    with Image.open(png) as img:
        img.save(pdf, resolution=150)  # an image-only PDF, as a scanner writes it
    _assert_reads_as(page, read_file(pdf, pdf.name))


def test_bad_images_are_skipped_with_a_reason_and_the_rest_is_indexed(scanned, tmp_path: Path) -> None:
    _, png = scanned
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    data = png.read_bytes()
    (corpus / "cut.png").write_bytes(data[: len(data) // 2])  # a download that stopped half-way
    (corpus / "notes.jpg").write_text("not a picture", encoding="utf-8")
    shutil.copy(SAMPLE, corpus / SAMPLE.name)

    files, skipped = read_corpus([corpus])

    assert [f.rel for f in files] == [f"corpus/{SAMPLE.name}"]
    assert len(files[0].articles) >= 7
    by_file = {s.path: s for s in skipped}
    assert set(by_file) == {"corpus/cut.png", "corpus/notes.jpg"}
    for s in by_file.values():
        assert s.kind == "skipped"
        assert s.reason.startswith("unreadable image") and "\n" not in s.message
    assert "truncated" in by_file["corpus/cut.png"].reason


@pytest.mark.slow
def test_question_is_answered_from_a_scan_of_the_sample_page(real_encoder, tokenizer, tmp_path: Path) -> None:
    from retrieval.answer.qa import QA
    from retrieval.app import load_reader
    from retrieval.config import load_config
    from retrieval.index.store import IndexStore
    from retrieval.ingest.newspaper import segment_page

    # the sample's articles laid out on a four-column page and scanned; only the image is indexed
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    articles = segment_page(SAMPLE.read_text(encoding="utf-8"))
    _, data = make_articles_page(articles, font_file=cjk_font_file())
    render_png(data, corpus / "sample.png", dpi=150)
    cfg = load_config(write_config(tmp_path / "config.toml", corpus, tmp_path / "index"))
    IndexStore(cfg.index_path).build(cfg, real_encoder, tokenizer)
    qa = QA(cfg, real_encoder, tokenizer, reader=load_reader(cfg))

    ans = qa.ask("谁获得了岗位标兵？")

    # OCR read the sentence right and the answer comes from it and from the right article.
    # The span's edges are the reader's, not OCR's, so the answer is held to the design card's
    # test (test_reader.py) and stays short. The default 12-layer reader tends to take in the
    # title before the name and "获岗位标兵" after it; on AVX2-only CPUs the int8 graph's rounding
    # has moved the first edge inside the name ("淼等45人").
    assert ans.found and "王院淼等45人" in ans.sources[0].quote and "等45人" in ans.text
    assert len(ans.text) <= 30
    assert ans.sources[0].title == "京津冀交通一体化劳动竞赛先进获表彰"
