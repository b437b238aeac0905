"""``lr-ci init``: detect, then write the files that do not exist yet (or all of them with --force)."""

from __future__ import annotations

from pathlib import Path

from lr_ci.checks.init.detect import detect
from lr_ci.checks.init.templates import PRE_COMMIT, lr_ci_toml, pr_workflow
from lr_ci.errors import LrCiError
from lr_ci.report import Finding, Location, Report, Severity


def run(root: Path, workflows: bool, force: bool) -> Report:
    repo = detect(root)
    planned = {Path("lr-ci.toml"): lr_ci_toml(repo)}
    if workflows:
        planned[Path(".github/workflows/lr-ci.yml")] = pr_workflow(repo)
        planned[Path(".pre-commit-config.yaml")] = PRE_COMMIT
    existing = [path for path in planned if (root / path).exists()]
    if Path("lr-ci.toml") in existing and not force:
        raise LrCiError(f"{root / 'lr-ci.toml'} exists: lr-ci init never overwrites a file (--force does)")
    report = Report(
        check="init", fail_at=None, rules={"init-skipped": "A file init would write already exists"}
    )
    written = []
    for path, text in planned.items():
        if path in existing and not force:
            report.findings.append(
                Finding(
                    rule="init-skipped",
                    severity=Severity.INFO,
                    location=Location(path=path.as_posix()),
                    message=f"{path} exists and was left alone (--force overwrites it)",
                )
            )
            continue
        target = root / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise LrCiError(f"{target}: cannot write: {exc.strerror or exc}") from None
        written.append(path.as_posix())
    report.metrics = {
        "written": written,
        "detected": {
            "bundler": repo.bundler,
            "build_dir": repo.build_dir,
            "framework": repo.python_framework,
            "secrets_baseline": repo.has_secrets_baseline,
            "workflows": repo.has_workflows,
        },
        "next": "lr-ci config check; lr-ci secrets; lr-ci smoke --base-url URL",
    }
    return report
