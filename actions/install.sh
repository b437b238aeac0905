#!/usr/bin/env bash
# Install lr-ci from this action's own checkout (the commit the workflow pinned) into a private
# virtualenv. Only the package index is contacted, for lr-ci's dependencies, pinned by constraints.txt.
# A second lr-ci step in the same job reuses the virtualenv.
set -euo pipefail

source_dir=$(cd "${LR_CI_SOURCE:?}" && pwd -P)
venv="${RUNNER_TEMP:?}/lr-ci-venv"
python="${LR_CI_PYTHON:-python3}"
extras="${LR_CI_EXTRAS:-}" # e.g. "load" for the p95 check (locust)
package="$source_dir${extras:+[$extras]}"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.lr-ci-source" 2>/dev/null)" != "$package" ]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
        # One line: a newline in the `python` input (or in what it prints) must not start a workflow command.
        shown=$(printf '%s is %s' "$python" "$("$python" -V 2>&1 | head -c 200)" | tr '\r\n' '  ')
        echo "::error title=lr-ci::lr-ci needs Python 3.10 or newer; $shown"
        exit 2
    }
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --constraint "$source_dir/actions/constraints.txt" "$package"
    printf '%s' "$package" > "$venv/.lr-ci-source"
fi
echo "LR_CI_PYTHON=$venv/bin/python" >> "${GITHUB_ENV:?}"
