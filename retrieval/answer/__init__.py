"""Ranked passages → an answer with verbatim quotes and sources: the question
pipeline (qa) and the rule-based extractor kept for `[reader] enabled = false`.
The trained reader itself lives in retrieval/reader/."""
