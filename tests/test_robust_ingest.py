"""Bad input in the corpus: whatever is wrong with a line, a record, some bytes
or a folder is reported once, in one line naming the file (and line), and
everything good around it is still indexed and answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.errors import CorpusError
from retrieval.ingest.corpus import SkippedFile, read_corpus
from retrieval.textnorm import clean_text
from retrieval.types import Article

from conftest import NEWSQA, ROOT, write_config

sys.path.insert(0, str(ROOT / "bench"))
from hostile import pdf_from_objects  # noqa: E402

BODY = "浦东新区今天开通了三条新公交线路，方便居民出行。新线路全长四十公里，沿途设站二十个。"
LEAD = "本报讯（记者 张三）"  # a news lead, so the page reader sees an article whatever else it does


def articles(files) -> dict[str, Article]:  # type: ignore[no-untyped-def]
    return {a.title: a for f in files for a in f.articles}


def messages(skipped: list[SkippedFile]) -> list[str]:
    return [s.message for s in skipped]


# ------------------------------------------------------------ JSON lines and records

def test_a_bad_jsonl_line_is_left_out_with_file_and_line_and_the_rest_is_indexed(tmp_path):
    (tmp_path / "news.jsonl").write_text(
        '{"title": "新闻一", "text": "第一段内容。"}\n'
        '{"title": "坏行", "text": \n'
        '{"title": "缺正文"}\n'
        '\n'
        '{"title": "新闻二", "text": "第二篇内容。"}\n', encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    arts = articles(files)
    assert set(arts) == {"新闻一", "新闻二"}
    assert arts["新闻二"].text == "第二篇内容。"
    assert messages(skipped) == [
        f"warning {tmp_path.name}/news.jsonl:2: invalid JSON (Expecting value); line left out",
        f"warning {tmp_path.name}/news.jsonl:3: missing or empty field 'text'; left out",
    ]


def test_a_json_record_without_title_is_left_out_naming_its_line(tmp_path):
    records = [{"title": "第一篇", "text": "内容一。"}, {"text": "没有标题的内容。"}, {"title": "第三篇", "text": "内容三。"}]
    (tmp_path / "list.json").write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert set(articles(files)) == {"第一篇", "第三篇"}
    # indent=1 puts "[" on line 1, the first record on lines 2-5, the second from line 6.
    assert messages(skipped) == [f"warning {tmp_path.name}/list.json:6: missing or empty field 'title'; left out"]


def test_a_line_separator_inside_a_jsonl_string_does_not_split_the_record(tmp_path):
    (tmp_path / "sep.jsonl").write_text(
        '{"title": "甲", "text": "第一段。\u2028第二段。\r第三段。"}\r\n{"title": "乙", "text": "乙文。"}\r\n', encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert skipped == []
    assert articles(files)["甲"].paragraphs == ("第一段。", "第二段。", "第三段。")
    assert set(articles(files)) == {"甲", "乙"}


def test_records_on_one_line_are_told_apart_by_number(tmp_path):
    (tmp_path / "one.json").write_text('[{"title": "甲", "text": "甲文。"}, 7]', encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert set(articles(files)) == {"甲"}
    assert [s.reason for s in skipped] == ["record 2: expected an object with title and text; left out"]


def test_a_file_with_no_usable_record_is_one_skipped_line(tmp_path):
    (tmp_path / "junk.jsonl").write_text("not json\nnor this\n", encoding="utf-8")
    (tmp_path / "good.jsonl").write_text('{"title": "好", "text": "好内容。"}\n', encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert set(articles(files)) == {"好"}
    assert len(skipped) == 1 and skipped[0].kind == "skipped"
    assert skipped[0].message.startswith(f"skipped {tmp_path.name}/junk.jsonl:1: no usable record (2 bad")


def test_strict_reading_still_fails_on_the_first_bad_record(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"title": "有", "text": "有。"}\n{"title": "缺"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2: missing or empty field 'text'$"):
        read_corpus([tmp_path], strict=True)


def test_the_skipped_line_names_the_file_once(tmp_path):
    (tmp_path / "a.json").write_text("{oops", encoding="utf-8")
    (tmp_path / "b.txt").write_text("标题\n\n" + LEAD + BODY, encoding="utf-8")
    _, skipped = read_corpus([tmp_path])
    assert messages(skipped) == [
        f"skipped {tmp_path.name}/a.json:1: invalid JSON (Expecting property name enclosed in double quotes)"]
    assert skipped[0].message.count("a.json") == 1


# ------------------------------------------------------------ duplicates

def test_the_same_id_in_two_files_keeps_the_first_and_warns_naming_both(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"id": "n1", "title": "朝阳区新建公园", "text": "公园今天开放。"}],
                                                ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        '{"id": "n2", "title": "另一篇", "text": "另一篇的内容。"}\n'
        '{"id": "n1", "title": "同号不同文", "text": "内容完全不同。"}\n', encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    arts = articles(files)
    assert set(arts) == {"朝阳区新建公园", "另一篇"}
    d = tmp_path.name
    assert messages(skipped) == [f"warning {d}/b.jsonl:2: duplicate id 'n1' (first in {d}/a.json:1); left out"]


def test_identical_articles_in_two_files_are_indexed_once_remembering_both(tmp_path):
    rec = {"title": "海淀区图书馆举办读书节", "text": "海淀区图书馆昨天举办了冬季读书节。"}
    (tmp_path / "a.json").write_text(json.dumps([rec], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({**rec, "id": "x9"}, ensure_ascii=False) + "\n", encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    found = [a for f in files for a in f.articles]
    d = tmp_path.name
    assert len(found) == 1
    assert found[0].file == f"{d}/a.json" and found[0].also_in == (f"{d}/b.jsonl",)
    assert messages(skipped) == [
        f"note {d}/b.jsonl:1: same article as {d}/a.json:1 (《海淀区图书馆举办读书节》); indexed once"]
    assert Article.from_dict(json.loads(json.dumps(found[0].to_dict()))) == found[0]


def test_a_page_copied_twice_is_indexed_once_with_one_note(tmp_path):
    page = ("浦东新区开通新公交线路\n\n" + LEAD + BODY + "\n\n"
            "海淀区图书馆举办读书节\n\n本报讯（记者 李四）海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。\n")
    (tmp_path / "p1.txt").write_text(page, encoding="utf-8")
    (tmp_path / "p2.txt").write_text(page, encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert [f.rel for f in files] == [f"{tmp_path.name}/p1.txt"]
    assert len(files[0].articles) == 2
    assert all(a.also_in == (f"{tmp_path.name}/p2.txt",) for a in files[0].articles)
    assert [(s.kind, s.path) for s in skipped] == [("note", f"{tmp_path.name}/p2.txt")]
    assert "2 articles are the same as in" in skipped[0].reason


# ------------------------------------------------------------ damaged bytes

def test_utf8_cut_short_is_read_with_a_warning(tmp_path):
    data = ("公交新线路\n\n" + LEAD + BODY * 3).encode("utf-8")
    (tmp_path / "cut.txt").write_bytes(data[:-2])
    files, skipped = read_corpus([tmp_path])
    art = articles(files)["公交新线路"]
    assert BODY * 2 in art.text
    assert art.text.endswith("沿途设站二十个")  # "。" lost 2 of its 3 bytes: the whole character goes
    assert "\ufffd" not in art.text
    assert messages(skipped) == [f"warning {tmp_path.name}/cut.txt:3: 1 byte that is not valid UTF-8 left out"]


def test_one_stray_byte_is_dropped_and_the_text_around_it_kept(tmp_path):
    (tmp_path / "ff.txt").write_bytes(("公交新线路\n\n" + LEAD + BODY).encode("utf-8") + b"\xff" + BODY.encode("utf-8"))
    files, skipped = read_corpus([tmp_path])
    assert articles(files)["公交新线路"].text.endswith("张三）" + BODY + BODY)
    assert [(s.kind, s.line) for s in skipped] == [("warning", 3)]


def test_many_bad_bytes_are_not_taken_for_damaged_utf8(tmp_path):
    # GBK text fails UTF-8 on every character: it must be read as GBK, not "repaired".
    (tmp_path / "gbk.txt").write_bytes(("公交新线路\n\n" + LEAD + BODY).encode("gbk"))
    files, skipped = read_corpus([tmp_path])
    assert articles(files)["公交新线路"].text.endswith("张三）" + BODY)
    assert skipped == []


def test_a_mostly_english_gbk_file_is_not_taken_for_damaged_utf8(tmp_path):
    english = "The metro line opens today and runs forty kilometres with twenty stations. " * 10
    (tmp_path / "mixed.json").write_bytes(
        json.dumps({"title": "Metro", "text": english + "浦东"}, ensure_ascii=False).encode("gbk"))
    files, skipped = read_corpus([tmp_path])
    assert articles(files)["Metro"].text.endswith("stations.浦东")
    assert skipped == []


# ------------------------------------------------------------ invisible and control characters

DIRTY = "浦\u200b东新区今天开通了三条\u00ad新公交线路，\x1b[31m方便\x1b[0m居民出行。\x00\x07\u200d\u202e新线路全长四十公里。\ufeff"
CLEAN = "浦东新区今天开通了三条新公交线路，方便居民出行。新线路全长四十公里。"


def test_clean_text_removes_invisible_characters_and_whole_escape_sequences():
    assert clean_text(DIRTY) == CLEAN
    assert clean_text("第一行\r\n第二行\r第三行\u2028第四行\t列") == "第一行\n第二行\n第三行\n第四行\t列"
    assert clean_text("标题\x1b]0;窗口\x07正文\x1b(B。") == "标题正文。"
    assert clean_text("\x1b]未结束的转义后面的正文。") == "未结束的转义后面的正文。"


def test_every_control_and_format_character_of_this_pythons_unicode_is_removed_and_nothing_else():
    # The removal table is stored for speed; this holds it to the Unicode database of the running Python.
    import sys
    import unicodedata

    def invisible(ch: str) -> bool:
        return (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t") or ch == "\ufffd"

    # Line breaks are turned into "\n" rather than removed; surrogates cannot stand alone in text.
    breaks = set("\r\x0b\x0c\x85\u2028\u2029")
    chars = [chr(c) for c in range(sys.maxunicode + 1)
             if not 0xD800 <= c <= 0xDFFF and chr(c) not in breaks and chr(c) not in "\x1b\x9b\x9d"]
    kept = "".join(ch for ch in chars if not invisible(ch))
    assert clean_text("".join(chars)) == kept


def test_a_file_name_with_an_escape_cannot_drive_the_terminal(tmp_path):
    (tmp_path / "red\x1b[31m.json").write_text("{oops", encoding="utf-8")
    _, skipped = read_corpus([tmp_path])
    assert skipped[0].message.startswith(f"skipped {tmp_path.name}/red\\x1b[31m.json:1: invalid JSON")


def test_a_question_with_a_zero_width_space_matches_the_same_words(tokenizer):
    assert tokenizer("浦\u200b东新区开\u00ad通了几条线路？") == tokenizer("浦东新区开通了几条线路？")
    assert "浦东" in tokenizer("浦\u200b东新区")


@pytest.mark.parametrize("name,content", [
    ("page.txt", "公交新线路\n\n" + LEAD + DIRTY),
    ("page.md", "# 公交新线路\n\n" + LEAD + DIRTY),
    ("page.html", "<html><body><h1>公交新线路</h1><p>" + DIRTY.replace("\u200b", "&#8203;").replace("\u00ad", "&shy;")
     + "</p></body></html>"),
    ("page.json", json.dumps({"title": "公交新线路\u200b", "text": DIRTY})),
    ("page.jsonl", json.dumps({"title": "公交\x1b[1m新线路", "text": DIRTY}) + "\n"),
])
def test_every_format_stores_the_text_without_invisible_characters(tmp_path, name, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert skipped == []
    arts = articles(files)
    assert set(arts) == {"公交新线路"}
    assert CLEAN in arts["公交新线路"].text.replace("\n", "")


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines``: each character is drawn
    as its own code point through an identity ToUnicode map, so any character,
    Chinese or control, comes back out of the text layer as written."""
    def hex_string(text: str) -> str:
        return "<" + "".join(f"{ord(c):04X}" for c in text) + ">"

    ops = "BT /F1 12 Tf 72 720 Td " + " ".join(f"{hex_string(line)} Tj 0 -16 Td" for line in lines) + " ET"
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Id def "
            "1 begincodespacerange <0000> <FFFF> endcodespacerange "
            "1 beginbfrange <0000> <FFFF> <0000> endbfrange endcmap "
            "CMapName currentdict /CMap defineresource pop end end")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops.encode("ascii")),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /Song /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Song "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap.encode("ascii")),
    ]
    return pdf_from_objects(objects)


def test_pdf_text_is_cleaned_too(tmp_path):
    (tmp_path / "metro.pdf").write_bytes(_pdf(["公交新线路", LEAD + DIRTY]))
    files, skipped = read_corpus([tmp_path])
    assert skipped == []
    assert CLEAN in articles(files)["公交新线路"].text


def test_a_damaged_pdf_is_one_clean_skipped_line_and_nothing_on_stderr(tmp_path, capfd):
    good = _pdf(["公交新线路", LEAD + BODY])
    (tmp_path / "broken.pdf").write_bytes(good[: len(good) // 2])
    (tmp_path / "good.pdf").write_bytes(good)
    files, skipped = read_corpus([tmp_path])
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert set(articles(files)) == {"公交新线路"}
    assert len(skipped) == 1
    assert skipped[0].message.startswith(f"skipped {tmp_path.name}/broken.pdf: unreadable PDF (")
    assert "\n" not in skipped[0].message


# ------------------------------------------------------------ folders

def test_a_folder_that_cannot_be_listed_is_reported(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    (root / "secret").mkdir(parents=True)
    (root / "secret" / "hidden.txt").write_text("标题\n\n" + LEAD + BODY, encoding="utf-8")
    (root / "open.txt").write_text("公交新线路\n\n" + LEAD + BODY, encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        # Tests run as root, where chmod 000 does not stop listing.
        if Path(path).name == "secret":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, skipped = read_corpus([root])
    assert set(articles(files)) == {"公交新线路"}
    assert messages(skipped) == ["skipped corpus/secret: cannot list folder: Permission denied"]


# ------------------------------------------------------------ end to end

def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(NEWSQA + args, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_a_messy_corpus_builds_warns_once_per_problem_and_answers(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pudong.txt").write_text("浦东新区开通新公交线路\n\n本报讯（记者 张三）" + DIRTY + "\n", encoding="utf-8")
    library = {"id": "n1", "title": "海淀区图书馆举办读书节", "text": "海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。"}
    (corpus / "a.json").write_text(json.dumps([library], ensure_ascii=False), encoding="utf-8")
    (corpus / "b.jsonl").write_text(
        json.dumps({"id": "n1", "title": "朝阳区新建公园", "text": "朝阳区新建的公园今天开放，占地五十公顷。"},
                   ensure_ascii=False) + "\n"
        + '{"title": "坏行", "text": \n'
        + json.dumps({**library, "id": "copy"}, ensure_ascii=False) + "\n", encoding="utf-8")
    (corpus / "cut.txt").write_bytes(("顺义区排查隐患\n\n本报讯（记者 李四）" + "顺义区总工会检查了十二家企业的消防设施。" * 2).encode("utf-8")[:-2])
    cfg = write_config(tmp_path / "config.toml", corpus, tmp_path / "index")

    r = cli(["--config", str(cfg), "index", "rebuild"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith(("warning ", "note ", "skipped "))]
    assert lines == [
        "warning corpus/b.jsonl:1: duplicate id 'n1' (first in corpus/a.json:1); left out",
        "warning corpus/b.jsonl:2: invalid JSON (Expecting value); line left out",
        "note corpus/b.jsonl:3: same article as corpus/a.json:1 (《海淀区图书馆举办读书节》); indexed once",
        "warning corpus/cut.txt:3: 1 byte that is not valid UTF-8 left out",
    ]
    assert "3 articles" in r.stdout

    r = cli(["--config", str(cfg), "ask", "浦东新区开通了几条新公交线路？", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    ans = json.loads(r.stdout)
    assert ans["found"] and "三条" in ans["answer"]
    top = ans["sources"][0]
    assert top["title"] == "浦东新区开通新公交线路" and "浦东新区今天开通了三条新公交线路" in top["quote"]
    assert not any(ch in r.stdout for ch in "\x1b\x07\x00\u200b\u00ad")

    r = cli(["--config", str(cfg), "ask", "海淀区图书馆举办了什么活动？", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    ans = json.loads(r.stdout)
    # On CPUs without VNNI the shipped int8 graph's saturating kernel once declined this (docs/reader.md,
    # "Backends: VNNI and the unsigned-weight graph"); the reader now picks an unsigned-weight graph there.
    assert ans["found"], ans
    sources = ans["sources"]
    assert [s["file"] for s in sources if s["title"] == "海淀区图书馆举办读书节"] == ["corpus/a.json"]


@pytest.mark.slow
def test_ask_refreshing_the_index_warns_about_a_new_bad_line_and_still_finds_its_neighbours(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.txt").write_text("浦东新区开通新公交线路\n\n本报讯（记者 张三）" + BODY + "\n", encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", corpus, tmp_path / "index")
    assert cli(["--config", str(cfg), "index", "rebuild"], tmp_path).returncode == 0
    (corpus / "more.jsonl").write_text(
        "\x00\x00garbage\n"
        + json.dumps({"title": "顺义区排查隐患", "text": "顺义区总工会检查了十二家企业的消防设施。"}, ensure_ascii=False)
        + "\n", encoding="utf-8")
    r = cli(["--config", str(cfg), "ask", "顺义区总工会检查了多少家企业？", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning corpus/more.jsonl:1: invalid JSON (Expecting value); line left out" in r.stderr.splitlines()
    ans = json.loads(r.stdout)
    assert ans["found"] and ans["sources"][0]["title"] == "顺义区排查隐患"
