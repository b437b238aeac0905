"""docs/ and the CLI agree: every command has a page, every option is documented, nothing documented is gone."""

from __future__ import annotations

import re

import click
import pytest

from helpers.cli import ROOT
from lr_ci.cli import DefaultCommandGroup, cli

DOCS = ROOT / "docs"
GLOBAL = {"--config", "--format", "--output", "--quiet", "--verbose", "--help", "--version", "-q", "-v", "-h"}


def commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    found: dict[str, click.Command] = {}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        if isinstance(command, DefaultCommandGroup):
            found[name] = command.default  # `lr-ci secrets` scans; `lr-ci secrets baseline` is below
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                subcommand = command.get_command(ctx, sub)
                assert subcommand is not None
                found[f"{name} {sub}"] = subcommand
        else:
            found[name] = command
    return found


def options(command: click.Command) -> set[str]:
    return {
        opt for p in command.params if isinstance(p, click.Option) for opt in p.opts if opt.startswith("--")
    } - GLOBAL


def options_section(page: str) -> str:
    match = re.search(r"## Options\n(.*?)(\n## |\Z)", page, re.DOTALL)
    return match.group(1) if match else ""


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_option_is_documented_on_the_commands_page(name: str) -> None:
    page = (DOCS / f"{name.split(maxsplit=1)[0]}.md").read_text()
    documented = set(re.findall(r"`(--[a-z][a-z-]*)", options_section(page)))
    for option in options(commands()[name]):
        assert option in documented, f"{name}: {option} is not in docs/{name.split(maxsplit=1)[0]}.md"
    exit_codes = page.split("## Exit codes")[1][:800] if "## Exit codes" in page else ""
    assert "0:" in exit_codes and "2:" in exit_codes, f"{name}: its exit codes are not documented"


def test_nothing_documented_is_missing_from_the_cli() -> None:
    known = set().union(*(options(c) for c in commands().values())) | GLOBAL
    names = {name.split()[0] for name in commands()}
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        if page.name == "architecture.md":  # its example check exists in test_architecture.py's copy only
            text = text.split("## Add a check in four steps")[0]
        for option in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text)):
            if option in {"--hook-type", "--hook-stage", "--unshallow"}:  # other tools' options
                continue
            assert option in known, f"{page.name}: {option} is not an option of lr-ci"
        for used in set(re.findall(r"(?:^|`)lr-ci ([a-z][a-z0-9]*)", text, re.MULTILINE)):
            assert used in names, f"{page.name}: lr-ci {used} is not a command"
