"""The ``lr-ci secrets`` command. Kept light: the scanner loads only when a scan runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lr_ci._run import GlobalOptions, run_check
from lr_ci.cli import DefaultCommandGroup, global_options

F = TypeVar("F", bound=Callable[..., Any])


def _targets(command: F) -> F:
    """What to scan: the same for a scan and for ``baseline`` (which accepts what that scan finds)."""
    decorators = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--staged", is_flag=True, help="Scan what is about to be committed (the staged blobs)."),
        click.option(
            "--range",
            "revision_range",
            metavar="BASE..HEAD",
            help="Scan the commits of a PR or push (BASE...HEAD: since HEAD's branch left BASE).",
        ),
        click.option("--history", is_flag=True, help="Scan every commit reachable from every ref."),
        click.option("--deepen", is_flag=True, help="In a shallow clone, fetch the history the scan needs."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@click.command("secrets")
@_targets
@click.option("--list-rules", is_flag=True, help="Print the detection rules and exit.")
@global_options
@click.pass_context
def scan_command(ctx: click.Context, /, list_rules: bool, **targets: Any) -> None:
    """Find secrets: in the working tree (default), PATHS, the index, a commit range or all history.

    `lr-ci secrets baseline [PATHS]` accepts every current finding into .lr-ci-secrets.json; a folder
    named `baseline` is scanned with `lr-ci secrets ./baseline`. Inline `lr-ci: allow-secret` and
    detect-secrets' `pragma: allowlist secret` comments allow one line. Fails at severity `fail_on`
    (default medium).
    """
    if list_rules:
        _print_rules(ctx.ensure_object(GlobalOptions).resolved_format())
        return
    from lr_ci.checks.secrets.check import Request, body

    request = Request(**targets)
    run_check(ctx, "secrets", lambda run: body(run, request, write_baseline=False))


@click.command("baseline")
@_targets
@global_options
@click.pass_context
def baseline_command(ctx: click.Context, /, **targets: Any) -> None:
    """Accept every current finding into the baseline (.lr-ci-secrets.json), keeping the reasons written.

    Scans what `lr-ci secrets` with the same arguments would; the baseline's entries are then quiet.
    """
    from lr_ci.checks.secrets.check import Request, body

    request = Request(**targets)
    run_check(ctx, "secrets", lambda run: body(run, request, write_baseline=True))


command = DefaultCommandGroup(scan_command, name="secrets", commands=[baseline_command])


def _print_rules(output_format: str) -> None:
    """The detection rules: a table for people, or with ``--format json`` a list a program can read.

    Every format but ``json`` prints the table. A rule scoped to file names (``Rule.paths``: pgbouncer's
    ``userlist.txt``) says so, since it finds nothing in a file of another name and a reader would
    otherwise wonder why: ``(only in: userlist.txt)`` at the end of its line, ``paths`` in JSON (``[]``
    for the rules that run on every file, so each entry has the same keys).
    """
    from lr_ci.secret_rules.engine import default_rules

    rules = [
        {
            "id": rule.id,
            "severity": rule.severity.value,
            "kind": "generic" if rule.generic else "provider",
            "description": rule.description,
            "verify": rule.verify,
            "paths": list(rule.paths),
        }
        for rule in default_rules().rules
    ]
    if output_format == "json":
        import json

        click.echo(json.dumps(rules, indent=2))
        return
    for rule in rules:
        checked = f" (verified: {rule['verify']})" if rule["verify"] else ""
        scoped = f" (only in: {', '.join(rule['paths'])})" if rule["paths"] else ""
        columns = f"{rule['id']:<28} {rule['severity']:<9} {rule['kind']:<9}"
        click.echo(f"{columns} {rule['description']}{checked}{scoped}")
