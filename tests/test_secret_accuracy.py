"""Accuracy on the labelled corpus (benchmarks/secret_corpus.py): recall >= 0.97, false positives <= 1%."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers.cli import ROOT, Cli

sys.path.insert(0, str(ROOT / "benchmarks"))
import secret_corpus


def test_recall_and_false_positive_rate(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = secret_corpus.build(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli("secrets", ".", "--format", "json")
    found = {(f["location"]["path"], f["location"]["line"]) for f in result.json()["findings"]}
    score = secret_corpus.score(cases, found)
    assert score.positives > 400 and score.negatives > 1000
    assert score.recall >= 0.97, [(c.path, c.label) for c in score.missed]
    assert score.false_positive_rate <= 0.01, [(c.path, c.label) for c in score.flagged]
