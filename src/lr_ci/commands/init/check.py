"""``lr-ci init``: detect, then write the files that do not exist yet (or all of them with --force)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from lr_ci.build_info import built_from
from lr_ci.commands.init.detect import detect
from lr_ci.commands.init.templates import lr_ci_toml, pr_workflow, pre_commit, uptime_workflow
from lr_ci.errors import LrCiError
from lr_ci.report import Finding, Location, Report, Severity


def check_target(root: Path, relative: Path) -> None:
    """Refuse a target that is a symbolic link or whose folder leads outside ``root``.

    A cloned repository may hold ``lr-ci.toml -> ~/.bashrc`` (dangling or not) or a ``.github`` that links
    elsewhere; following either would let the repository choose which of the user's files ``init``
    (or ``init --force``) overwrites. Every target is checked before anything is written or created.
    """
    target = root / relative
    if target.is_symlink():
        raise LrCiError(f"{target}: is a symbolic link: lr-ci init does not write through links")
    folder = target.parent
    while not folder.exists() and folder != root:
        folder = folder.parent
    if not folder.resolve().is_relative_to(root.resolve()):
        raise LrCiError(f"{target}: its folder links outside the repository: lr-ci init does not write there")


def write_inside(root: Path, relative: Path, text: str) -> None:
    """Write ``root / relative`` (checked by :func:`check_target`); opened without following a link and
    non-blocking, so a link or FIFO put there since is exit 2 too, never a write elsewhere or a hang."""
    target = root / relative
    check_target(root, relative)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(target, flags | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LrCiError(
                f"{target}: is a symbolic link: lr-ci init does not write through links"
            ) from None
        raise LrCiError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise LrCiError(f"{target}: not a regular file: lr-ci init does not write there")
        os.set_blocking(descriptor, True)
        with os.fdopen(descriptor, "w", encoding="utf-8", closefd=False) as handle:
            handle.write(text)
    except OSError as exc:
        raise LrCiError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)


def run(root: Path, workflows: bool, force: bool) -> Report:
    repo = detect(root)
    planned = {Path("lr-ci.toml"): lr_ci_toml(repo, scheduled=workflows)}
    if workflows:
        commit = built_from()
        if commit is None:
            raise LrCiError(
                "cannot tell which lr-ci commit this is (it was built outside a git checkout), and the "
                "workflows must pin one: install lr-ci from a git checkout or a release, or run without "
                "--workflows"
            )
        planned[Path(".github/workflows/lr-ci.yml")] = pr_workflow(repo, commit)
        planned[Path(".github/workflows/lr-ci-uptime.yml")] = uptime_workflow(repo, commit)
        planned[Path(".pre-commit-config.yaml")] = pre_commit(commit)
    for path in planned:
        check_target(root, path)
    existing = [path for path in planned if (root / path).exists()]
    if Path("lr-ci.toml") in existing and not force:
        raise LrCiError(f"{root / 'lr-ci.toml'} exists: lr-ci init never overwrites a file (--force does)")
    report = Report(
        check="init",
        fail_at=None,
        rules={
            "init-skipped": "A file init would write already exists",
            "init-unread": "A manifest init could not read (detection went on without it)",
        },
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
        write_inside(root, path, text)
        written.append(path.as_posix())
    report.findings += [
        Finding(
            rule="init-unread",
            severity=Severity.LOW,
            message=note,
            location=Location(path=note.split(":")[0]),
        )
        for note in repo.notes
    ]
    report.metrics = {
        "written": written,
        "detected": {
            "bundler": repo.bundler,
            "build_dir": repo.build_dir,
            "framework": repo.python_framework,
            "secrets_baseline": repo.has_secrets_baseline,
            "workflows": repo.has_workflows,
            "health": repo.health_path,
        },
        "next": "lr-ci config check; lr-ci secrets; lr-ci smoke --base-url URL; lr-ci uptime test-alert",
    }
    return report
