"""Imported once by the server process that read_corpus's page workers are
forked from (``corpus._PagePool``): it loads what segmenting a page loads on
first use — the page-line model, jieba's dictionary (about 1–2.5 s), zhconv's
tables — so that every worker starts with them, instead of each loading its own."""

from retrieval.ingest import newspaper

newspaper.line_model()
newspaper._jieba()
newspaper.segment_page("本报北京1月8日电 （记者张三）\n今天，這是一個測試。\n")
