"""Helpers shared by the test modules (issue 15: tests are code too, typed and checked by ``mypy --strict``).

Fixtures stay in ``tests/conftest.py``, where pytest finds them; what they and the tests build on lives here:

- :mod:`helpers.cli`: the checkout's root, the in-process run's :class:`~helpers.cli.Result` and the
  ``cli`` fixture's type, the ``lr-ci`` script of the running environment;
- :mod:`helpers.git`: git in a test repository, a copy of this checkout;
- :mod:`helpers.hostile`: lr-ci on hostile input in a bounded subprocess with its peak memory;
- servers on loopback: :mod:`helpers.asgi_server` (any ASGI app in a thread), :mod:`helpers.opsapp_server`
  (the sample ops app in its own process), :mod:`helpers.sync_slots_server` (N sync worker slots, also run
  by path), :mod:`helpers.recording_server`, :mod:`helpers.hostile_servers`, :mod:`helpers.fake_github`,
  :mod:`helpers.fake_frameworks`;
- :mod:`helpers.actions_runner` (a composite action run as the GitHub runner runs it),
  :mod:`helpers.browser` (Debian's Chromium through selenium), :mod:`helpers.reports` (sample reports),
  :mod:`helpers.sample_check` (a small check registered by the ``sample_check`` fixture).
"""
