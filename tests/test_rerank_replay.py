"""bench/rerank_sweep.py replays the pipeline's choices from recorded readings;
its "not found" must be the pipeline's, or its F1 drifts from `newsqa eval`'s
(it did: half a point, from replaying the has-answer score for a reader
calibrated on has-answer + span)."""

from __future__ import annotations

import itertools
import sys

import pytest

from conftest import ROOT
from retrieval.reader.answering import Reading, answerable
from retrieval.reader.decode import SpanCandidate
from retrieval.reader.model import PassageReading

sys.path.insert(0, str(ROOT / "bench"))
import rerank_sweep  # noqa: E402


@pytest.mark.parametrize("score", ["has", "span"])
def test_replayed_not_found_score_is_the_pipelines(score):
    grid = [-4.0, -1.0, 0.5, 3.0]
    for has_best, has_other, slp in itertools.product(grid, grid, [-6.0, -2.0, -0.1]):
        span = SpanCandidate(0, 0, 2, 0.0, slp, has_best)
        readings = [Reading(None, PassageReading(0, has_best, span), 0.0, "ab"),  # type: ignore[arg-type]
                    Reading(None, PassageReading(1, has_other, None), 0.0, "cd")]  # type: ignore[arg-type]
        rows = [{"has": has_best, "span": "ab", "span_logprob": slp},
                {"has": has_other, "span": "", "span_logprob": -99.0}]
        assert rerank_sweep.answerable(rows, rows[0], score) == pytest.approx(
            answerable(readings, readings[0], score))


def test_replay_declines_by_the_readers_own_score():
    # A confident chunk with an unlikely span: answered when judged by the has-answer head alone,
    # declined when the reader is calibrated on has-answer + span (what newsqa eval does).
    rows = [{"id": "q", "n": 0, "context": "A", "answers": ["x"],
             "hits": [{"article": "A", "score": 1.0, "has": 2.0, "span": "x", "span_logprob": -8.0,
                       "f1": 100.0, "em": 100.0}]}]
    assert rerank_sweep.simulate(rows, 1, 15.0, "log", 0.05, "has")[1] == 100.0
    assert rerank_sweep.simulate(rows, 1, 15.0, "log", 0.05, "span")[1] == 0.0
