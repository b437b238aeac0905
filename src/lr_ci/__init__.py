"""lr-ci: launch-readiness checks for small teams shipping internal tools.

The public surface is the ``lr-ci`` command. Modules whose names start with an underscore are private.
"""

__version__ = "0.1.0"
