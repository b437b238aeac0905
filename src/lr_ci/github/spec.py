"""What a check's GitHub Action needs that its click command cannot say (the registry holds one per
check, built only when the actions' code asks: ``lr-ci --help`` never pays for it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionInput:
    """One input of a check's GitHub Action.

    An input passes ``option`` of the check's click command: whether it is a flag (``history: true`` ->
    ``--history``) or takes a value (``base-url: URL`` -> ``--base-url URL``) is read from the click
    parameter itself, and the input is named after the option unless ``name`` says otherwise. The
    ``args`` input has no option: it is split into the command's arguments.
    """

    description: str
    option: str | None = None
    name: str = ""
    required: bool = False

    @property
    def input_name(self) -> str:
        """``name``, else the option without ``--``; the arguments' input is ``args`` unless named."""
        return self.name or (self.option.removeprefix("--") if self.option else "args")

    @property
    def env_name(self) -> str:
        """The variable the action passes it in (``INPUT_BASELINE_FILE``), never ``${{ }}`` in a script."""
        return "INPUT_" + self.input_name.upper().replace("-", "_")


@dataclass(frozen=True)
class ActionSpec:
    """What ``actions/<check>/action.yml`` says that the check's click command cannot: it is generated
    from this and one template (``lr_ci.github.generate``), and ``lr_ci.github.action`` runs it."""

    description: str
    icon: str
    color: str
    args: ActionInput
    """The input split into the command's arguments (``args``, or ``dirs`` / ``files``)."""
    inputs: tuple[ActionInput, ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    """The check's own numbers (report metrics, ``files_checked`` -> ``files-checked``) and what each is."""
    command: tuple[str, ...] = ()
    """The command words when they are not just the check's name (``config check``)."""
    report: str = "Path of the JSON report."
    findings: str = "Number of findings."
    fail: str = "Fail the step when the check fails. A check that cannot run always fails it."
    working_directory: str = "Directory to run in (where lr-ci.toml is found)."
    extras: str = ""
    """Package extras the action installs (``load`` brings locust)."""
    upload_sarif: bool = False
    """Offer the ``upload-sarif`` input, its step and the ``sarif-path`` output (file locations)."""
    baseline_artifact: str = ""
    """On a pull request, fetch the ``baseline-file`` input from the base branch's artifact (this file
    name in it) and comment the report on the pull request; empty for neither. The inputs and steps
    this needs come with it (``lr_ci.github.generate``)."""
