"""A worker process that segments page text for ``read_corpus``
(``corpus._PagePool``), started as ``python -m retrieval.ingest.pageworker``.

It reads pickled objects on stdin — first the page-line model to use (None:
the shipped one), then one chunk of page text at a time — and answers each
chunk with the pickled list of its articles (None when segmenting it failed:
the main process then reads the file itself, so the error is the serial one).
Its own process, not a fork of the caller: the caller may hold threads (an
encoder, the bot) and its main module must not run again (a fork server or
spawn would import it anew)."""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    from retrieval.ingest import newspaper

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed must not get into the answers
    model = pickle.load(inp)
    if model is not None:  # weights other than the shipped ones (bench/pages/fit.py)
        newspaper.use_line_model(model)
    while True:
        try:
            chunk = pickle.load(inp)
        except EOFError:  # the pool is closed
            return
        try:
            found = newspaper._segment_chunk(chunk)
        except Exception:  # noqa: BLE001 - raised again, as it is, by the main process
            found = None
        pickle.dump(found, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main()
