"""Fuzz the ingestion: generated file names, bytes, sizes and formats, one file
at a time in a folder of its own, read as `newsqa index rebuild` reads a corpus
(``read_corpus``), and generated config files read as `--config` reads them.

    .venv/bin/python bench/fuzz_ingest.py --examples 10000

For every input: no exception and no warning on the terminal; every line about a file is one printable line;
a file is either indexed or named by a `skipped` line (never silently
dropped); what the index would store (names, articles, lines) encodes as UTF-8
JSON; every article chunks; and no file needed the last-resort "cannot be read
(…)" (an error nobody foresaw). A config file either loads or is one
ConfigError. Prints the number of inputs run. tests/test_reliability.py runs
a few hundred of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from _common import ROOT  # noqa: F401  (the repository importable)
from hostile import pdf_bytes, png_blank, png_header

from retrieval.config import ChunkingConfig, load_config
from retrieval.errors import ConfigError
from retrieval.ingest.chunking import chunk_article, embed_text
from retrieval.ingest.corpus import MAX_TITLE_CHARS, read_corpus

SUFFIXES = [".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf", ".png", ".jpg", ".jpeg", "", ".TXT", ".xyz"]
NEWS = "浦东新区开通新公交线路\n\n本报讯（记者 张三）浦东新区今天开通了三条新公交线路，方便居民出行。\n"

# ------------------------------------------------------------------ strategies

# A name is whatever bytes a file system takes: not UTF-8 (GBK, Latin-1, cut
# sequences), escapes, spaces, very long. Hidden names (".x") are left out by design.
name_bytes = st.one_of(
    st.binary(min_size=1, max_size=80),
    st.text(min_size=1, max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(alphabet="新闻报道人民日报第版", min_size=1, max_size=20).map(lambda t: t.encode("gbk")),
    st.sampled_from([b"\x1b[31mred", b"a\nb", b"\xff\xfe", b"caf\xe9", b"x" * 240, b" ", b"2020-01-01"]),
).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_")).filter(lambda b: not b.startswith(b".") and b)

encodings = st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "gbk", "big5", "utf-16", "utf-16-le", "latin-1"])
texts = st.one_of(st.text(max_size=400), st.just(NEWS),
                  st.builds(lambda a, b: a + NEWS + b, st.text(max_size=60), st.text(max_size=60)))
encoded = st.builds(lambda t, enc: t.encode(enc, "ignore"), texts, encodings)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                              st.dictionaries(st.text(max_size=8), inner, max_size=5)),
                          max_leaves=30)
record = st.fixed_dictionaries({}, optional={
    "title": st.one_of(st.text(max_size=30), json_value, st.just("长" * 500)),
    "text": st.one_of(st.text(max_size=200), st.just(NEWS), json_value),
    "id": json_value, "date": json_value, "author": json_value, "url": json_value,
})
json_docs = st.one_of(
    st.lists(st.one_of(record, json_value), max_size=8).map(lambda v: json.dumps(v, ensure_ascii=False)),
    json_value.map(json.dumps),
    st.lists(st.one_of(record.map(lambda r: json.dumps(r, ensure_ascii=False)), st.text(max_size=30)),
             max_size=8).map("\n".join),
    st.sampled_from(["[" * 5000, "{" * 5000, '[{"title": "a", "text": "b"},', "[1 2]", "[] []", "",
                     '{"title": "t", "text": "' + "x" * 5000 + '"}', "[" + ",".join(["{}"] * 3000) + "]"]),
).map(lambda s: s.encode("utf-8", "surrogatepass"))

html_parts = st.sampled_from(["<p>", "</p>", "<h1>", "</h1>", "<title>", "</title>", "<script>", "</script>",
                              "<div", ">", "<", "&#8203;", "&amp;", "&#xFFFFFFFF;", "<!--", "-->", "<![CDATA[",
                              '<meta name="author" content="记者">', '<meta property="article:published_time" '
                              'content="2020-01-01T00">', "\x00", "\u2028", NEWS])
html_docs = st.lists(st.one_of(html_parts, st.text(max_size=30)), max_size=40).map(
    lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))

odd_sizes = st.sampled_from([0, -1, 14400, 1e-9, 1e30, math.nan, math.inf, -math.inf])
# Any size: a page between about 300 and 3,300 points square, or one without
# a usable size (pdfium then takes US Letter), is rendered and read by OCR
# (seconds); ``quick`` runs keep to pages too small or too large for that.
sizes = st.one_of(st.floats(min_value=0, max_value=120), st.integers(-10**7, 10**7), odd_sizes)
quick_sizes = st.one_of(st.floats(min_value=1, max_value=120), st.integers(10**5, 10**7), st.just(1e30))
pdf_ops = st.lists(st.sampled_from([b"BT", b"ET", b"/F1 12 Tf", b"(\xd6\xd0) Tj", b"0 0 m", b"100 100 l", b"S",
                                    b"q", b"Q", b"1e308 0 0 1e308 0 0 cm", b"[", b"]", b"<<", b">>", b"9999999999 w"]),
                   max_size=20).map(b" ".join)


def pdfs(sizes: st.SearchStrategy) -> st.SearchStrategy[bytes]:  # type: ignore[type-arg]
    return st.one_of(
        st.builds(lambda w, h, c, z: pdf_bytes(w, h, c, z), sizes, sizes, pdf_ops, st.booleans()),
        # a well-formed file cut short or with bytes overwritten
        st.builds(lambda cut, w: pdf_bytes(w, w, b"BT ET")[:cut], st.integers(0, 700), st.floats(1, 100)),
        st.builds(lambda at, junk: (lambda b: b[:at] + junk + b[at + len(junk):])(pdf_bytes(50, 50, b"0 0 m S")),
                  st.integers(0, 600), st.binary(min_size=1, max_size=8)),
    )


images = st.one_of(
    st.builds(png_header, st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1)),
    st.builds(png_blank, st.integers(1, 48), st.integers(1, 48)),
    st.builds(lambda cut: png_blank(20, 20)[:cut], st.integers(0, 120)),
    st.just(b"\xff\xd8\xff\xe0" + b"\0" * 20),
)


@st.composite
def corpus_file(draw, quick: bool = False) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    """(file name, content): the content mostly fits the name's format, sometimes any bytes."""
    suffix = draw(st.sampled_from(SUFFIXES))
    stem = draw(name_bytes)[: 250 - len(suffix)]
    low = suffix.lower()
    fitting = {".json": json_docs, ".jsonl": json_docs, ".html": html_docs, ".htm": html_docs, ".pdf": pdfs(quick_sizes if quick else sizes),
               ".png": images, ".jpg": images, ".jpeg": images}.get(low, st.one_of(encoded, st.binary(max_size=600)))
    content = draw(st.one_of(fitting, fitting, fitting, st.binary(max_size=600), encoded))
    return stem + suffix.encode(), content


config_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda section, key, value, bom: (b"\xef\xbb\xbf" if bom else b"")
              + f"[{section}]\n{key} = {value}\n".encode("utf-8", "surrogatepass"),
              st.sampled_from(["corpus", "index", "retrieval", "chunking", "milvus", "x", "corpus.paths"]),
              st.sampled_from(["paths", "top_k", "kind", "min_chars", "max_chars", "uri", "collection", "zz"]),
              st.one_of(st.integers().map(str), st.text(max_size=20).map(json.dumps), st.just("[1, 2]"),
                        st.just('"flat"'), st.just("1e400"), st.just("[" * 2000)), st.booleans()),
)

# ------------------------------------------------------------------ checks

RUN = {"files": 0, "configs": 0}


def check_file(work: Path, name: bytes, content: bytes) -> None:
    folder = Path(tempfile.mkdtemp(dir=work))
    try:
        with open(os.path.join(os.fsencode(folder), name), "wb") as f:
            f.write(content)
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("default")  # what a user's terminal shows
            files, lines = read_corpus([folder])
        RUN["files"] += 1
        quiet = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
        assert not [w for w in shown if not issubclass(w.category, quiet)], [str(w.message) for w in shown]
        for s in lines:
            assert "\n" not in s.message and s.message.isprintable(), s.message
            assert not s.reason.startswith("cannot be read ("), f"an error nobody foresaw: {s.message}"
        assert files or any(s.kind == "skipped" for s in lines), f"{name!r} dropped without a word: {lines}"
        # What the index writes: names, articles and reasons as UTF-8 JSON.
        stored = {"files": [f.rel for f in files], "articles": [a.to_dict() for f in files for a in f.articles],
                  "lines": [vars(s) for s in lines]}
        json.dumps(stored, ensure_ascii=False).encode("utf-8")
        for f in files:
            for a in f.articles:
                assert len(a.title) <= MAX_TITLE_CHARS + 1
                for c in chunk_article(a, ChunkingConfig(), 0):
                    embed_text(a, c).encode("utf-8")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_config(work: Path, content: bytes) -> None:
    path = work / "config.toml"
    path.write_bytes(content)
    RUN["configs"] += 1
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc), str(exc)


def run(examples: int, work: Path, seed: int | None = None, quick: bool = False) -> dict[str, int]:
    """Run ``examples`` generated files and a tenth as many config files; returns the counts run.
    ``seed``: the same inputs every run; ``quick``: no page big enough to be read by OCR."""
    common = dict(deadline=None, database=None, derandomize=seed is not None,
                  phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))

    @settings(max_examples=examples, **common)
    @given(corpus_file(quick))
    def files(item: tuple[bytes, bytes]) -> None:
        check_file(work, *item)

    @settings(max_examples=max(10, examples // 10), **common)
    @given(config_bytes)
    def configs(content: bytes) -> None:
        check_config(work, content)

    files()
    configs()
    return dict(RUN)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=10_000, help="generated files (config files: a tenth as many)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fuzz-ingest-"))
    try:
        counts = run(args.examples, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{counts['files']} generated files and {counts['configs']} generated config files read "
          f"without a traceback or a warning; each file indexed or named by a skipped line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
