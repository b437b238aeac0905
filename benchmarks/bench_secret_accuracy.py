"""Secret detection accuracy of lr-ci and of `detect-secrets scan`, on the same labelled corpus.

Targets for lr-ci: recall at least 0.97, false positives at most 1% of the look-alikes.
The corpus (benchmarks/secret_corpus.py) is generated from a seed; see its docstring for what it holds.
A finding counts for a case when it is on the case's file and line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import secret_corpus

LR_CI = str(Path(sys.executable).with_name("lr-ci"))
DETECT_SECRETS = str(Path(sys.executable).with_name("detect-secrets"))


def lr_ci_lines(corpus: Path) -> set[tuple[str, int]]:
    done = subprocess.run(
        [LR_CI, "secrets", ".", "--format", "json"], cwd=corpus, capture_output=True, text=True, check=False
    )
    report = json.loads(done.stdout)
    return {(f["location"]["path"], f["location"]["line"]) for f in report["findings"]}


def detect_secrets_lines(corpus: Path) -> set[tuple[str, int]]:
    done = subprocess.run(
        [DETECT_SECRETS, "scan", "--all-files"], cwd=corpus, capture_output=True, text=True, check=True
    )
    results = json.loads(done.stdout)["results"]
    return {(path, entry["line_number"]) for path, entries in results.items() for entry in entries}


def main() -> int:
    corpus = Path(tempfile.mkdtemp(prefix="lr-ci-corpus-"))
    try:
        cases = secret_corpus.build(corpus)
        positives = sum(c.kind == "secret" for c in cases)
        print(
            f"corpus: {len({c.path for c in cases})} files, {positives} secrets, {len(cases) - positives} look-alikes"
        )
        print(f"{'tool':<16} {'recall':>7} {'false positives':>16}")
        failed = False
        tools = {"lr-ci": lr_ci_lines}
        if Path(DETECT_SECRETS).exists():
            tools["detect-secrets"] = detect_secrets_lines
        for name, scan in tools.items():
            score = secret_corpus.score(cases, scan(corpus))
            print(
                f"{name:<16} {score.recall:>7.3f} {score.false_positive_rate:>15.2%}"
                f"   ({score.found}/{score.positives} found, {score.false_alarms + score.unlabelled} false alarms)"
            )
            if name == "lr-ci":
                failed = score.recall < 0.97 or score.false_positive_rate > 0.01
        return 1 if failed else 0
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
