"""Secret detection on the honest evaluation corpus (issue 17): lr-ci, detect-secrets and gitleaks, one run.

The corpus (``secret_eval_corpus.py``) is split into a dev half (tune on it) and a test half (report it).
Targets for lr-ci on the test half: recall at least 0.95, false positives at most 1% of the look-alikes.
A finding counts for a case when it is on the case's file and line, at any severity; a finding on a line
no case labels counts as a false alarm.

Usage:
    python benchmarks/bench_secret_eval.py [--half dev|test] [--lr-ci PATH] [--show]

- ``--half``: which half to build and score (default ``test``, the one to report).
- ``--lr-ci``: the lr-ci to measure, e.g. another worktree's
  ``/work/wt-x/.venv/bin/lr-ci`` (default: the lr-ci beside this Python).
- ``--show``: list lr-ci's misses and false alarms (path:line, family, label). Dev half only: the test half
  refuses it, so nobody tunes on what it holds.
- ``--keep DIR``: write the corpus into DIR and leave it there, to read the files (dev half only). Keep it
  outside any checkout: lr-ci run inside one may pick up that checkout's ``lr-ci.toml``.
- ``--lr-ci-only``: skip detect-secrets and gitleaks (a quicker loop while tuning; report with all three).

detect-secrets runs as ``detect-secrets scan --all-files`` (the one beside this Python); gitleaks as
``gitleaks dir`` (or ``detect --no-git`` for older releases) when a ``gitleaks`` binary is on PATH.
Exit 1 when lr-ci misses a target (on either half: the dev half's numbers say where the test half will go).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import secret_eval_corpus

RECALL_TARGET = 0.95
FP_TARGET = 0.01
DETECT_SECRETS = str(Path(sys.executable).with_name("detect-secrets"))


def lr_ci_lines(lr_ci: str, corpus: Path, unreadable: list[str] | None = None) -> set[tuple[str, int]]:
    """lr-ci's findings, in batches of folders (a report lists at most 1,000 findings)."""
    program = str(Path(lr_ci).absolute())

    def scan(folders: list[str]) -> list[dict[str, object]]:
        done = subprocess.run(
            [program, "secrets", *folders, "--format", "json"],
            cwd=corpus,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode not in (0, 1):
            raise SystemExit(f"lr-ci exited {done.returncode}: {done.stderr.strip()[:500]}")
        findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
        return findings

    return secret_eval_corpus.scan_in_batches(corpus, scan, unreadable)


def detect_secrets_lines(corpus: Path) -> set[tuple[str, int]]:
    done = subprocess.run(
        [DETECT_SECRETS, "scan", "--all-files"], cwd=corpus, capture_output=True, text=True, check=True
    )
    results = json.loads(done.stdout)["results"]
    return {(path, entry["line_number"]) for path, entries in results.items() for entry in entries}


def gitleaks_lines(corpus: Path) -> set[tuple[str, int]]:
    gitleaks = shutil.which("gitleaks")
    assert gitleaks is not None
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        common = ["--report-format", "json", "--report-path", str(report), "--no-banner", "--exit-code", "0"]
        done = subprocess.run(
            [gitleaks, "dir", ".", *common], cwd=corpus, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not report.exists():
            subprocess.run(
                [gitleaks, "detect", "--no-git", "--source", ".", *common],
                cwd=corpus,
                capture_output=True,
                text=True,
                check=True,
            )
        leaks = json.loads(report.read_text() or "[]")
    out = set()
    for leak in leaks:
        path = str(leak["File"])
        if path.startswith("./"):
            path = path[2:]
        out.add((path, int(leak["StartLine"])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--half", choices=secret_eval_corpus.HALVES, default="test")
    parser.add_argument("--lr-ci", default=str(Path(sys.executable).with_name("lr-ci")), dest="lr_ci")
    parser.add_argument(
        "--show", action="store_true", help="list lr-ci's misses and false alarms (dev half only)"
    )
    parser.add_argument("--keep", metavar="DIR", help="write the corpus into DIR and keep it (dev half only)")
    parser.add_argument("--lr-ci-only", action="store_true", help="skip detect-secrets and gitleaks")
    args = parser.parse_args(argv)
    if (args.show or args.keep) and args.half != "dev":
        print(
            "--show and --keep open the cases: only for --half dev (the test half is reported, never looked into)",
            file=sys.stderr,
        )
        return 2
    if args.keep:
        corpus = Path(args.keep)
        if corpus.exists() and any(corpus.iterdir()):
            print(f"--keep {corpus}: not an empty folder", file=sys.stderr)
            return 2
        corpus.mkdir(parents=True, exist_ok=True)
    else:
        corpus = Path(tempfile.mkdtemp(prefix=f"lr-ci-eval-{args.half}-"))
    try:
        cases = secret_eval_corpus.build(corpus, args.half)
        positives = sum(c.kind == "secret" for c in cases)
        print(
            f"corpus ({args.half} half): {len({c.path for c in cases})} files, {positives} secrets of "
            f"{len(secret_eval_corpus.providers(cases))} providers, {sum(c.kind == 'benign' for c in cases)} look-alikes"
        )
        tools: dict[str, Callable[[], set[tuple[str, int]]]] = {
            "lr-ci": lambda: lr_ci_lines(args.lr_ci, corpus, unreadable)
        }
        unreadable: list[str] = []
        if Path(DETECT_SECRETS).exists() and not args.lr_ci_only:
            tools["detect-secrets"] = lambda: detect_secrets_lines(corpus)
        if shutil.which("gitleaks") and not args.lr_ci_only:
            tools["gitleaks"] = lambda: gitleaks_lines(corpus)
        print(f"{'tool':<16} {'recall':>7} {'false positives':>16}")
        mine = None
        for name, scan in tools.items():
            score = secret_eval_corpus.score(cases, scan())
            print(
                f"{name:<16} {score.recall:>7.3f} {score.false_positive_rate:>15.2%}"
                f"   ({score.found}/{score.positives} found, {score.false_alarms} false alarms: "
                f"{len(score.flagged)} look-alikes + {len(score.unlabelled)} unlabelled lines)"
            )
            if name == "lr-ci":
                mine = score
        assert mine is not None
        if unreadable:
            where = ": " + ", ".join(unreadable) if args.half == "dev" else ""
            print(
                f"\nlr-ci: {len(unreadable)} folder(s) whose JSON report does not parse, counted as finding "
                f"nothing (an lr-ci bug){where}"
            )
        print("\nlr-ci recall by family:")
        for family, (found, total) in mine.family_recall().items():
            print(f"  {family:<16} {found / total:>6.3f}  ({found}/{total})")
        if args.half == "dev":
            print("\nlr-ci false alarms by look-alike family (dev half only):")
            for family, (flagged, total) in mine.family_false_alarms().items():
                print(f"  {family:<20} {flagged / total:>6.1%}  ({flagged}/{total})")
        if args.show:
            print("\nmissed (lr-ci):")
            for case in sorted(mine.missed, key=lambda c: (c.family, c.path)):
                print(f"  {case.path}:{case.line}  {case.family}  {case.label}")
            print("\nfalse alarms (lr-ci):")
            for case in sorted(mine.flagged, key=lambda c: (c.family, c.path)):
                print(f"  {case.path}:{case.line}  {case.family}  {case.label}")
            for path, line in mine.unlabelled:
                print(f"  {path}:{line}  (unlabelled line)")
        return 1 if mine.recall < RECALL_TARGET or mine.false_positive_rate > FP_TARGET else 0
    finally:
        if not args.keep:
            shutil.rmtree(corpus, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
