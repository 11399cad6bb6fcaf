"""What every benchmark script starts with: the repository importable, the model
hub offline (it is unreachable here; weights come from the local cache), and
where the shared data sets are.

    from _common import ROOT, EVAL  # first import of a bench/ script
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# As `newsqa` itself runs (bot/cli.py): OpenBLAS on one thread, idle threads sleeping.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
SHARED = ROOT.parent / "shared"
EVAL = SHARED / "eval" / "cmrc2018_dev.jsonl"  # CMRC 2018 dev (CC BY-SA 4.0): measuring only
TRAIN = SHARED / "train" / "cmrc2018_train.jsonl"  # CMRC 2018 train (CC BY-SA 4.0)


def load_bench_config(reader: str | None = None):  # type: ignore[no-untyped-def]
    """The configuration a benchmark runs with: ./config.toml's, with ``reader``
    (a reader directory, e.g. from ``--reader``) in place of the configured one."""
    import dataclasses

    from retrieval.config import load_config

    cfg = load_config(None)
    if reader:
        cfg = cfg.replace(reader=dataclasses.replace(cfg.reader, path=str(Path(reader).resolve())))
    return cfg
