"""What a real archive folder throws at newsqa never stops it answering (issue 33):
a file name that is not UTF-8, a PDF page asking for billions of pixels, a
compressed stream that inflates a thousandfold, JSON that grows twentyfold when
parsed, links that lead nowhere or in a circle, a config that is a folder or
carries a byte-order mark. Each is one line naming the file, the rest is
indexed, and `ask` answers. The hostile files are bench/hostile.py's, smaller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from retrieval.config import load_config
from retrieval.errors import ConfigError
from retrieval.ingest.corpus import SkippedFile, read_corpus

from conftest import NEWSQA, ROOT, write_config

sys.path.insert(0, str(ROOT / "bench"))
from hostile import GBK_NAME, PUDONG, SHUNYI, pdf_bytes, write_good, write_hostile  # noqa: E402


def lines(skipped: list[SkippedFile]) -> list[str]:
    return [s.message for s in skipped]


def titles(files) -> set[str]:  # type: ignore[no-untyped-def]
    return {a.title for f in files for a in f.articles}


def gbk_file(folder: Path, name: bytes = GBK_NAME, text: str = SHUNYI) -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as f:
        f.write(text.encode("utf-8"))


# ------------------------------------------------------------ file names

def test_a_gbk_file_name_is_indexed_under_its_decoded_name_with_one_warning(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pudong.txt").write_text(PUDONG, encoding="utf-8")
    gbk_file(corpus)
    files, skipped = read_corpus([corpus])
    assert {f.rel for f in files} == {"corpus/pudong.txt", "corpus/新闻.txt"}
    assert "顺义区排查隐患" in titles(files)
    assert lines(skipped) == ["warning corpus/新闻.txt: file name is not UTF-8; read as GBK, indexed under this name"]
    # What the index stores must encode: the old name carried surrogates and the rebuild died on them.
    json.dumps([a.to_dict() for f in files for a in f.articles], ensure_ascii=False).encode("utf-8")


def test_a_name_that_is_no_encoding_shows_its_bytes_and_a_clash_with_a_real_name_is_avoided(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    gbk_file(corpus, b"\xff\xfe-news.txt", PUDONG)
    gbk_file(corpus)  # 新闻.txt in GBK …
    (corpus / "新闻.txt").write_text(SHUNYI.replace("十二", "十三"), encoding="utf-8")  # … and in UTF-8
    files, skipped = read_corpus([corpus])
    rels = sorted(f.rel for f in files)
    assert rels == ["corpus/\\xd0\\xc2\\xce\\xc5.txt", "corpus/\\xff\\xfe-news.txt", "corpus/新闻.txt"]
    assert len(skipped) == 2 and all(s.kind == "warning" and "not UTF-8" in s.reason for s in skipped)


def test_a_folder_name_that_is_not_utf8_as_corpus_path_and_in_the_corpus(tmp_path):
    outer = os.path.join(os.fsencode(tmp_path), "旧档".encode("gbk"))
    os.mkdir(outer)
    inner = os.path.join(outer, "一月".encode("gbk"))
    os.mkdir(inner)
    with open(os.path.join(inner, b"pudong.txt"), "w", encoding="utf-8") as f:
        f.write(PUDONG)
    root = Path(os.fsdecode(outer))
    files, skipped = read_corpus([root])
    assert [f.rel for f in files] == ["旧档/一月/pudong.txt"]
    assert lines(skipped) == ["warning 旧档/一月/pudong.txt: file name is not UTF-8; read as GBK, indexed under this name"]
    # `--corpus` with such a folder: the index beside the configured one is named from its path.
    cfg = load_config(None).with_corpus([os.fsdecode(outer)])
    assert cfg.index_path.name.startswith("index-")


# ------------------------------------------------------------ links and other entries

def test_dangling_looping_and_folder_links_and_pipes_are_one_skipped_line_each(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pudong.txt").write_text(PUDONG, encoding="utf-8")
    write_hostile(corpus, only="dangling.txt")
    for name in ("loop-a.txt", "loop-b.txt", "up.txt", "pipe.txt"):
        write_hostile(corpus, only=name)
    files, skipped = read_corpus([corpus])
    assert titles(files) == {"浦东新区开通新公交线路"}
    assert lines(skipped) == [
        "skipped corpus/dangling.txt: broken link (its target nowhere.txt does not exist)",
        "skipped corpus/loop-a.txt: link loop (the link leads back to itself)",
        "skipped corpus/loop-b.txt: link loop (the link leads back to itself)",
        "skipped corpus/pipe.txt: not a regular file (a pipe, socket or device)",
        "skipped corpus/up.txt: link to a folder, not followed (name the folder itself in [corpus] paths)",
    ]


# ------------------------------------------------------------ sizes

def test_a_textless_pdf_page_too_large_to_render_is_one_skipped_line_and_is_not_rendered(tmp_path):
    # 5000 pt square is 108 million pixels at 150 dpi; 14,400 pt (the 448-byte file) took 5.7 GB.
    (tmp_path / "poster.pdf").write_bytes(pdf_bytes(5000, 5000, b"0 0 m 100 100 l S"))
    started = time.perf_counter()
    files, skipped = read_corpus([tmp_path / "poster.pdf"])
    assert files == [] and len(skipped) == 1
    assert skipped[0].message.startswith("skipped poster.pdf: page 1: page too large to render for OCR (176 × 176 cm, "
                                         "109 million pixels at 150 dpi; the limit is 36 million)")
    assert time.perf_counter() - started < 5  # measured, not rendered


def test_a_pdf_stream_that_inflates_past_the_limit_is_refused_not_inflated(tmp_path):
    (tmp_path / "bomb.pdf").write_bytes(pdf_bytes(content=b" " * 40_000_000, compress=True))  # 40 KB on disk
    assert (tmp_path / "bomb.pdf").stat().st_size < 100_000
    files, skipped = read_corpus([tmp_path])
    assert files == []
    assert lines(skipped) == [f"skipped {tmp_path.name}/bomb.pdf: page 1: text cannot be extracted "
                              f"(a compressed stream inflates to over 32 MB)"]


def test_a_text_file_over_the_size_limit_is_refused_unread(tmp_path):
    write_hostile(tmp_path, only="huge.txt")  # 65 MB, sparse
    (tmp_path / "pudong.txt").write_text(PUDONG, encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert titles(files) == {"浦东新区开通新公交线路"}
    assert lines(skipped) == [f"skipped {tmp_path.name}/huge.txt: too large (65 MB; newsqa reads .txt files up to "
                              f"64 MB: split it)"]


def _peak_bytes(path: Path) -> tuple[int, list[SkippedFile]]:
    """Python's peak allocation while ``path`` is read (what reading any file imports, already imported)."""
    warm = path.parent / "warm"
    warm.mkdir()
    (warm / "a.json").write_text('[{"title": "甲", "text": "甲文。"}]', encoding="utf-8")
    (warm / "a.jsonl").write_text('{"title": "乙", "text": "乙文。"}\n', encoding="utf-8")
    read_corpus([warm])
    tracemalloc.start()
    try:
        _, skipped = read_corpus([path])
        return tracemalloc.get_traced_memory()[1], skipped
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name, content, says", [
    # 3 bytes a record parsed whole were over 100 bytes of objects (a 9 MB file took 1.1 GB).
    ("empty.json", b"[" + b",".join([b"{}"] * 30_000) + b"]",
     "skipped {d}/empty.json:1: no usable record (30000 bad, the first: record 1: missing or empty field 'title')"),
    # Each bad line was a kept warning of 250 bytes (a 10 MB file took 1.2 GB).
    ("bad.jsonl", b"x\n" * 30_000, "skipped {d}/bad.jsonl:1: no usable record (30000 bad, the first: "
                                   "invalid JSON (Expecting value))"),
])
def test_json_that_grows_when_parsed_is_read_in_memory_bounded_by_the_file(tmp_path, name, content, says):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_bytes(content)
    peak, skipped = _peak_bytes(corpus)
    assert lines(skipped) == [says.format(d="corpus")]
    assert peak < 8 * len(content), f"{peak / 1e6:.1f} MB for a {len(content) / 1e6:.1f} MB file"


def test_a_file_of_many_bad_lines_among_good_ones_keeps_ten_warnings_and_counts_the_rest(tmp_path):
    good = json.dumps({"title": "海淀区图书馆举办读书节", "text": "海淀区图书馆昨天举办了冬季读书节。"}, ensure_ascii=False)
    (tmp_path / "mixed.jsonl").write_text(good + "\n" + "oops\n" * 5000, encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert titles(files) == {"海淀区图书馆举办读书节"}
    assert [s.line for s in skipped[:10]] == list(range(2, 12))
    assert lines(skipped)[10:] == [f"warning {tmp_path.name}/mixed.jsonl: 4990 more line(s) or record(s) left out "
                                   f"like the above"]


def test_a_megabyte_title_is_cut_so_it_is_not_embedded_with_every_chunk(tmp_path):
    write_hostile(tmp_path, scale=0.005, only="long-title.json")
    files, skipped = read_corpus([tmp_path])
    [article] = [a for f in files for a in f.articles]
    assert len(article.title) == 201 and article.title.endswith("…")
    assert lines(skipped) == [f"warning {tmp_path.name}/long-title.json:1: a title of 1,000 characters cut to 200"]


def test_an_error_nobody_foresaw_in_one_file_is_one_skipped_line_and_the_rest_is_indexed(tmp_path, monkeypatch):
    import retrieval.ingest.corpus as corpus

    real = corpus.segment_page

    def segment(text, *args):  # type: ignore[no-untyped-def]
        if "顺义" in text:
            raise IndexError("list index out of range")
        return real(text, *args)

    monkeypatch.setattr(corpus, "segment_page", segment)
    (tmp_path / "pudong.txt").write_text(PUDONG, encoding="utf-8")
    (tmp_path / "shunyi.txt").write_text(SHUNYI, encoding="utf-8")
    files, skipped = read_corpus([tmp_path])
    assert titles(files) == {"浦东新区开通新公交线路"}
    assert lines(skipped) == [f"skipped {tmp_path.name}/shunyi.txt: cannot be read (IndexError: list index out of range)"]


# ------------------------------------------------------------ the config file

def test_a_config_saved_by_notepad_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + '[retrieval]\ntop_k = 7\n'.encode("utf-8"))
    assert load_config(path).retrieval.top_k == 7


@pytest.mark.parametrize("content, says", [
    ("[retrieval]\ntop_k = 7\n".encode("utf-16"), "saved as UTF-16; save it as UTF-8"),
    ("[corpus]\npaths = [\"新闻\"]\n".encode("gbk"), "line 2: not UTF-8 text (byte 0xd0); save it as UTF-8"),
])
def test_a_config_in_another_encoding_is_refused_saying_which(tmp_path, content, says):
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: {says}"


def test_a_config_that_is_a_folder_or_unreadable_is_one_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r": is a folder, not a config file \(name the config.toml inside it\)$"):
        load_config(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text("[retrieval]\n", encoding="utf-8")
    real_open = Path.open

    def refuse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Tests run as root, where chmod 000 does not stop reading.
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: cannot read the config file: Permission denied"


def cli(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(NEWSQA + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_config_folder_is_one_line_and_exit_1(tmp_path):
    r = cli(["--config", str(tmp_path), "index", "status"], tmp_path, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"newsqa: error: {tmp_path}: is a folder, not a config file "
                                     f"(name the config.toml inside it)"]


# ------------------------------------------------------------ fuzzing

def test_generated_names_bytes_sizes_and_formats_never_stop_the_ingestion(tmp_path):
    """A few hundred of bench/fuzz_ingest.py's inputs (it runs ten thousand)."""
    import fuzz_ingest

    counts = fuzz_ingest.run(200, tmp_path, seed=0, quick=True)
    assert counts["files"] >= 200 and counts["configs"] >= 20


# ------------------------------------------------------------ a whole hostile folder, the real CLI and model

@pytest.fixture(scope="module")
def hostile_corpus(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Good articles beside one file of each hostile kind, rebuilt once with the real model."""
    base = tmp_path_factory.mktemp("hostile")
    corpus = base / "corpus"
    write_good(corpus)
    says = write_hostile(corpus, scale=0.002)
    cfg = write_config(base / "config.toml", corpus, base / "index")
    r = cli(["--config", str(cfg), "index", "rebuild"], base)
    return base, cfg, says, r


@pytest.mark.slow
def test_cli_a_hostile_folder_rebuilds_with_one_line_per_bad_file(hostile_corpus):
    _, _, says, r = hostile_corpus
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    reported = [x for x in r.stderr.splitlines() if x.startswith(("warning ", "skipped ", "note "))]
    for name, what in says.items():
        mine = [x for x in reported if x.split(":")[0].endswith(f"corpus/{name}")]
        assert len(mine) == 1, (name, mine)
        assert what in mine[0], (name, mine[0])
    assert "warning corpus/新闻.txt: file name is not UTF-8; read as GBK, indexed under this name" in reported
    assert len(reported) == len(says) + 1  # nothing else: the good files are silent
    assert "indexed 4 file(s): 4 articles" in r.stdout  # pudong, library, 新闻 and the cut long title


@pytest.mark.slow
@pytest.mark.parametrize("question, needle, file", [
    ("浦东新区开通了几条新公交线路？", "三", "corpus/pudong.txt"),
    ("顺义区总工会检查了多少家企业？", "十二", "corpus/新闻.txt"),
])
def test_cli_the_good_articles_of_a_hostile_folder_answer(hostile_corpus, question, needle, file):
    base, cfg, _, _ = hostile_corpus
    r = cli(["--config", str(cfg), "ask", question, "--json"], base)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    ans = json.loads(r.stdout)
    assert ans["found"] and needle in ans["answer"], ans
    assert ans["sources"][0]["file"] == file
