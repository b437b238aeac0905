"""Findings of an lr-ci on third-party code and docs installed on this machine, per source and severity.

Issue 17's stand-in for "fewer findings than gitleaks on real histories": in site-packages, /usr/lib and
/usr/share almost every finding is false (test TLS keys are correct finds: key material committed on
purpose), so the count per source and severity says how often the filters let a false alarm through.
A report lists 1,000 findings at most, so a folder at the cap is scanned child by child.

Usage: python benchmarks/scan_third_party.py [--lr-ci PATH] [--tsv OUT]
(``--tsv`` writes source, rule, severity, path, line, column per finding: never the secret.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

CAP = 990
SOURCES: dict[str, list[str]] = {
    "site-packages": [
        str(Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages")
    ],
    "/usr/lib/python3*": ["/usr/lib/python3.11", "/usr/lib/python3"],
    "/usr/share": ["/usr/share"],
    "/usr/lib, /usr/include, /etc": [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/ruby",
        "/usr/lib/git-core",
        "/usr/include",
        "/etc",
    ],
    "/usr/lib/node_modules": ["/usr/lib/node_modules", "/usr/share/nodejs"],
}


def scan(lr_ci: str, paths: list[str]) -> list[dict[str, Any]]:
    """The findings of one ``lr-ci secrets PATHS --format json`` run (empty when it printed no report)."""
    run = subprocess.run(
        [lr_ci, "secrets", *paths, "--format", "json"], check=False, capture_output=True, text=True
    )
    try:
        findings: list[dict[str, Any]] = json.loads(run.stdout)["findings"]
    except (ValueError, KeyError):
        return []
    return findings


def walk(lr_ci: str, path: str) -> list[dict[str, Any]]:
    """A folder's findings; one at the report's cap is scanned child by child instead."""
    findings = scan(lr_ci, [path])
    if len(findings) < CAP or not os.path.isdir(path):
        return findings
    children = (os.path.join(path, name) for name in sorted(os.listdir(path)))
    return [f for child in children if not os.path.islink(child) for f in walk(lr_ci, child)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lr-ci", default=str(Path(sys.executable).with_name("lr-ci")))
    parser.add_argument("--tsv")
    args = parser.parse_args()
    rows: list[str] = []
    for label, roots in SOURCES.items():
        findings = [f for root in roots if os.path.exists(root) for f in walk(args.lr_ci, root)]
        by_severity = Counter(f["severity"] for f in findings)
        print(f"{label:32} {len(findings):5}  {dict(sorted(by_severity.items()))}")
        for f in findings:
            where = f["location"]
            rows.append(
                "\t".join(
                    [label, f["rule"], f["severity"], where["path"], str(where["line"]), str(where["column"])]
                )
            )
    if args.tsv:
        Path(args.tsv).write_text("".join(row + "\n" for row in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
