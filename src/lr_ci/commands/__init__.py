"""The commands: what helps a person set lr-ci up or try it (``init``, ``demo``, ``config``).

They are not checks (``lr_ci.checks``): ``lr-ci --help`` lists them apart, and the registry marks them
``kind="command"``. ``lr_ci.config`` stays the config loader every check uses; ``lr_ci.commands.config``
is only the ``lr-ci config check|schema`` command on top of it.
"""
