"""E-paper archives: one article a file (retrieval/ingest/epaper.py), read
with the right titles, pages, dates, bylines and datelines; page-layout
files are read as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive_fixture import write_archive
from conftest import ROOT, SAMPLE
from retrieval.ingest.corpus import _from_page_text, read_corpus
from retrieval.ingest.epaper import looks_like_article, name_info
from retrieval.textnorm import clean_text
from retrieval.types import Article

ARCHIVE = ROOT.parent / "shared" / "archive" / "rmrb-2020-01"


def by_title(root: Path, layout: str = "auto") -> dict[str, Article]:
    files, _ = read_corpus([root], layout=layout)
    return {a.title: a for f in files for a in f.articles}


def test_article_files_give_title_kicker_subtitle_page_and_date(tmp_path):
    arts = by_title(write_archive(tmp_path / "paper"))
    a = arts["全市新建二十座社区养老驿站"]
    assert a.kicker == "市政府常务会议部署——" and a.subtitle == "银发食堂同步开张"
    assert (a.date, a.page) == ("2020-01-09", 1)
    assert a.author == "林晓雨" and a.dateline == "本报北京1月8日电"
    assert a.paragraphs[0].startswith("本报北京1月8日电（记者林晓雨）市政府常务会议8日决定")
    assert len(a.paragraphs) == 3
    ice = arts["滨江公园冰雪节开幕"]
    assert (ice.page, ice.kicker, ice.subtitle, ice.author) == (1, None, None, "周明远")


def test_bylines_datelines_and_credits_become_metadata(tmp_path):
    arts = by_title(write_archive(tmp_path / "paper"))
    lift = arts["老旧小区加装电梯提速"]
    # a byline line is the author, not a paragraph
    assert lift.author == "陈思雨" and lift.paragraphs[0].startswith("今年以来")
    grain = arts["全国粮食产量再创新高"]
    assert grain.dateline == "新华社北京1月9日电" and grain.photographer == "王海涛"
    assert all("摄" not in p for p in grain.paragraphs)
    heat = arts["冬季供暖投诉量同比下降"]
    # date from the folder, page from the name; a dateline printed after the text
    assert (heat.date, heat.page) == ("2020-01-10", 3)
    assert heat.dateline == "本报北京1月10日电" and heat.author == "刘晨阳"


def test_the_same_story_on_two_pages_is_one_article_that_knows_both_files(tmp_path):
    files, skipped = read_corpus([write_archive(tmp_path / "paper")])
    elderly = [a for f in files for a in f.articles if a.title == "全市新建二十座社区养老驿站"]
    assert len(elderly) == 1
    assert elderly[0].also_in == ("paper/20200109/20200109-04-01.txt",)
    assert any(s.kind == "note" and "20200109-04-01" in s.path for s in skipped)


def test_layout_page_forces_the_old_reading(tmp_path):
    root = write_archive(tmp_path / "paper")
    arts = by_title(root, layout="page")
    # read as a printed page: the page segmenter (which keeps kicker and subtitle lines too, since
    # issue 31) reads no dateline; the e-paper reader would take "本报北京1月8日电" as one
    assert "全市新建二十座社区养老驿站" in arts
    assert all(a.dateline is None for a in arts.values())
    assert by_title(root)["全市新建二十座社区养老驿站"].dateline is not None


def test_layout_article_forces_one_article_a_file(tmp_path):
    # no header lines, no indent: "auto" reads a page, "article" one article headed by the first line
    (tmp_path / "note.txt").write_text("夜市开张\n\n本报讯（记者 张三）摊位一百个，营业到深夜。\n\n"
                                       "地铁加开夜班车\n\n本报讯（记者 李四）周末加开三趟夜班车。\n", encoding="utf-8")
    assert len(by_title(tmp_path, layout="auto")) == 2
    forced = by_title(tmp_path, layout="article")
    assert list(forced) == ["夜市开张"]
    assert forced["夜市开张"].paragraphs[-1] == "本报讯（记者李四）周末加开三趟夜班车。"


def test_page_layout_files_are_not_taken_for_article_files():
    text = clean_text(SAMPLE.read_text(encoding="utf-8"))
    assert not looks_like_article(text)
    auto = _from_page_text(text, SAMPLE.name, layout="auto")
    page = _from_page_text(text, SAMPLE.name, layout="page")
    assert [(a.title, a.paragraphs) for a in auto] == [(a.title, a.paragraphs) for a in page]


def test_name_info_reads_date_page_and_order():
    assert name_info("a/20200109/20200109-04-02.txt") == name_info("x/20200109-04-02.txt")
    assert (name_info("x/20200109-04-02.txt").page, name_info("x/20200109-04-02.txt").order) == (4, 2)
    assert name_info("2020-01-09/04-02.txt").date == "2020-01-09"
    assert name_info("2020-01-09/04-02.txt").page == 4
    assert name_info("000_1248635c6257c13a.txt").page is None


def test_json_records_accept_page_section_kicker_and_subtitle(tmp_path):
    rec = {"title": "地铁新线开通", "text": "十九号线今日开通。", "date": "2020-01-09", "page": "第4版",
           "section": "城市", "kicker": "出行更方便", "subtitle": "全长二十公里"}
    (tmp_path / "n.jsonl").write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    a = by_title(tmp_path)["地铁新线开通"]
    assert (a.page, a.section, a.kicker, a.subtitle) == (4, "城市", "出行更方便", "全长二十公里")


@pytest.mark.skipif(not ARCHIVE.exists(), reason="../shared/archive not available")
def test_the_real_archive_gives_one_article_a_file_with_page_and_date():
    files, _ = read_corpus([ARCHIVE])
    arts = [a for f in files for a in f.articles]
    assert len(arts) > 2000
    assert all(a.page and a.date for a in arts)
    sample = arts[::97]
    for a in sample:
        line2 = (ARCHIVE.parent / a.file).read_bytes().decode("utf-8").split("\r\n")[1]
        assert a.title == " ".join(line2.replace("\u3000", " ").replace("\u00a0", " ").split())


# ------------------------------------------------------------ through the index to the user

@pytest.fixture(scope="module")
def archive_qa(real_encoder, tokenizer, tmp_path_factory):
    """The hand-written archive indexed with the real model, as `newsqa` would."""
    from conftest import write_config
    from retrieval.answer.qa import QA
    from retrieval.app import load_reader
    from retrieval.config import load_config
    from retrieval.index.store import IndexStore

    base = tmp_path_factory.mktemp("archive")
    corpus = write_archive(base / "paper")
    cfg = load_config(write_config(base / "config.toml", corpus, base / "index"))
    IndexStore(cfg.index_path).build(cfg, real_encoder, tokenizer)
    return QA(cfg, real_encoder, tokenizer, reader=load_reader(cfg))


def test_a_quote_cites_date_and_every_page_the_story_was_printed_on(archive_qa):
    from bot.cli import format_answer
    from bot.render import citation

    ans = archive_qa.ask("今年全市新建多少座社区养老驿站？")
    assert ans.found
    top = ans.sources[0]
    assert top.title == "全市新建二十座社区养老驿站"
    assert (top.date, top.page, top.also_printed) == ("2020-01-09", 1, (("2020-01-09", 4),))
    assert "2020-01-09 · 第1、4版 · 第" in format_answer(ans)
    assert "林晓雨 · 2020-01-09 · 第1、4版 · 第1段" in citation(top)
    d = ans.to_dict()["sources"][0]
    assert d["page"] == 1 and d["date"] == "2020-01-09" and d["also_printed"] == [{"date": "2020-01-09", "page": 4}]
    # printed twice, indexed once: one source, never two
    assert len({s.article_id for s in ans.sources if s.title == top.title}) == 1


def test_kicker_and_subtitle_are_searchable(archive_qa):
    # "银发食堂" is printed only in the subtitle, "常务会议部署" only in the kicker
    for words in ("银发食堂", "常务会议部署"):
        hits = archive_qa.retrieve(words, 3, mode="bm25")
        assert hits and hits[0].article.title == "全市新建二十座社区养老驿站", words


def test_the_index_keeps_page_date_kicker_and_subtitle(archive_qa):
    arts = {a.title: a for a in archive_qa.index.articles.values()}
    a = arts["全市新建二十座社区养老驿站"]
    assert (a.page, a.date, a.kicker, a.subtitle) == (1, "2020-01-09", "市政府常务会议部署——", "银发食堂同步开张")
    assert archive_qa.index.manifest["issues"] == 2
    assert archive_qa.index.manifest["date_range"] == ["2020-01-09", "2020-01-10"]


def test_articles_date_lists_the_days_headlines_by_page(tmp_path):
    import subprocess

    from conftest import NEWSQA, write_config

    corpus = write_archive(tmp_path / "paper")
    cfg = write_config(tmp_path / "config.toml", corpus, tmp_path / "index")
    run = lambda *a: subprocess.run(NEWSQA + ["--config", str(cfg), "articles", *a], capture_output=True,  # noqa: E731
                                    text=True, cwd=tmp_path, timeout=120)
    r = run("--date", "2020-01-09")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "2020年1月9日 · 2 个版面 · 3 篇文章"
    assert lines[1] == "第1版" and "《全市新建二十座社区养老驿站》" in lines[2] and "《滨江公园冰雪节开幕》" in lines[3]
    assert lines[4] == "第4版" and "（同第1版）" in lines[5] and "《老旧小区加装电梯提速》" in lines[6]
    r = run("--date", "2020年1月10日", "--page", "3", "--json")
    day = json.loads(r.stdout)
    assert [p["page"] for p in day["pages"]] == [3]
    assert [h["title"] for h in day["pages"][0]["headlines"]] == ["冬季供暖投诉量同比下降"]
    r = run("--date", "2020-01-11")
    assert r.returncode == 1 and "2020-01-09 to 2020-01-10" in r.stderr
    r = run("--date", "2020-01-09", "--page", "7")
    assert r.returncode == 1 and "pages: 1, 4" in r.stderr


def test_a_days_list_shows_kicker_title_and_a_short_subtitle_once_dashed():
    from bot.render import headline_text
    from retrieval.archive import Headline

    h = Headline("新时代的生动实践", "x", 1, 1, kicker="评论员文章", subtitle="——论学习贯彻" + "会议精神" * 20)
    text = headline_text(h)
    assert text.startswith("评论员文章 《新时代的生动实践》——论学习贯彻") and "————" not in text
    assert text.endswith("…") and len(text) < 70


def test_printed_at_names_every_page_and_another_day():
    from bot.render import printed_at

    assert printed_at("2020-01-09", 1) == "第1版"
    assert printed_at("2020-01-09", 1, [("2020-01-09", 4)]) == "第1、4版"
    assert printed_at("2020-01-09", 3, [("2020-01-10", 2)]) == "第3版，又见2020-01-10第2版"
    assert printed_at("2020-01-09", None) is None


@pytest.mark.parametrize("line, author, photographer", [
    ("本报记者\u00a0崔\u00a0佳\u00a0李\u00a0坚文", "崔佳 李坚", None),  # 文: words by; names spaced per character
    ("本报记者\u00a0\u00a0方\u00a0\u00a0圆文\u00a0\u00a0新华社记者\u00a0\u00a0王\u00a0\u00a0松摄", "方圆", "王松"),
    ("本报记者\u00a0\u00a0贺\u00a0\u00a0勇摄", None, "贺勇"),
    ("（本报记者彭波、徐隽、张璁）", "彭波 徐隽 张璁", None),
    ("（综合本报记者梁宇、贺勇报道）", "梁宇 贺勇", None),
])
def test_byline_and_credit_lines_after_the_text(line, author, photographer):
    from retrieval.ingest.epaper import read_article

    body = "\n".join(["", "冬日街景", "", "\u3000\u3000市民在公园里赏雪，孩子们堆起了雪人。", "\u3000\u3000" + line])
    art = read_article(body)
    assert (art.author, art.photographer) == (author, photographer)


def test_narration_about_a_reporter_is_not_a_byline():
    from retrieval.ingest.epaper import read_article

    art = read_article("\n冬日街景\n\n\u3000\u3000本报记者日前走进社区，看到市民在公园里赏雪。\n\u3000\u3000孩子们堆起了雪人。")
    assert art.author is None and len(art.paragraphs) == 2


@pytest.mark.parametrize("signature, author", [("何\u00a0鼎\u00a0鼎", "何鼎鼎"), ("本报评论员", "本报评论员"),
                                                ("谢谢。", None)])
def test_a_commentary_signed_after_its_text(signature, author):
    from retrieval.ingest.epaper import read_article

    art = read_article("\n让制度为安居护航（人民时评）\n\n\u3000\u3000住房租赁市场的规范，关系千家万户。\n"
                       f"\u3000\u3000{signature}")
    assert art.author == author
    assert len(art.paragraphs) == (1 if author else 2)


def test_a_days_pages_are_named_by_their_section_where_the_records_say_it(tmp_path, capsys):
    from bot.cli import main

    recs = [{"title": f"新闻{i}", "text": f"第{i}条消息的正文。", "date": "2020-01-09", "page": p, "section": s}
            for i, (p, s) in enumerate([(1, "要闻"), (1, "要闻"), (2, "国际")])]
    (tmp_path / "n.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    assert main(["articles", str(tmp_path), "--date", "2020-01-09"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "第1版 · 要闻" and out[4] == "第2版 · 国际"


def test_an_index_of_the_previous_format_is_refused_with_what_to_do_and_rebuilt(tmp_path, tokenizer):
    from conftest import HashEncoder, write_config
    from retrieval.config import load_config
    from retrieval.errors import IndexMismatchError
    from retrieval.index.store import FORMAT_VERSION, IndexStore

    corpus = write_archive(tmp_path / "paper")
    cfg = load_config(write_config(tmp_path / "config.toml", corpus, tmp_path / "index",
                                   '[embedding]\nmodel = "test-hash"\n'))
    store = IndexStore(cfg.index_path)
    store.build(cfg, HashEncoder(), tokenizer)
    # what an index written before pages and subtitles were kept says of itself
    path = store.current_dir() / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["format_version"] = m["fingerprint"]["format_version"] = FORMAT_VERSION - 1
    path.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=rf"has format {FORMAT_VERSION - 1}, this newsqa reads "
                                                 rf"{FORMAT_VERSION}; run 'newsqa index rebuild --full'"):
        store.check_compatible(store.manifest(), cfg)
    assert store.is_stale(cfg) == (True, "settings changed")
    enc = HashEncoder()
    report = store.build(cfg, enc, tokenizer)  # a plain rebuild re-reads and re-embeds everything
    assert enc.embedded == report.chunks > 0
    loaded = store.load(cfg)
    assert {a.page for a in loaded.articles.values()} == {1, 3, 4}


def test_changing_the_layout_makes_the_index_stale_and_a_bad_one_is_refused(tmp_path, tokenizer):
    from conftest import HashEncoder
    from retrieval.config import load_config
    from retrieval.errors import ConfigError
    from retrieval.index.store import IndexStore

    corpus = write_archive(tmp_path / "paper")

    def config(name: str, layout: str):  # type: ignore[no-untyped-def]
        path = tmp_path / name
        path.write_text(f'[corpus]\npaths = ["{corpus}"]\nlayout = "{layout}"\n[index]\npath = "{tmp_path / "index"}"\n'
                        '[embedding]\nmodel = "test-hash"\n', encoding="utf-8")
        return load_config(path)

    cfg = config("a.toml", "auto")
    IndexStore(cfg.index_path).build(cfg, HashEncoder(), tokenizer)
    paged = config("b.toml", "page")
    assert IndexStore(paged.index_path).is_stale(paged) == (True, "settings changed")
    with pytest.raises(ConfigError, match=r"\[corpus\] layout: must be one of article, auto, page"):
        config("c.toml", "pages")
