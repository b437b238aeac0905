"""A small internal-operations app: the system lr-ci's checks are tested and demonstrated against.

Homepage, an HTML login with a CSRF token (hidden input plus cookie) and a session cookie, a JSON API with
bearer tokens, an invoice approval workflow, a report job that a worker completes asynchronously,
``/healthz`` with the deployed version and its dependencies (database, report queue; 503 when one is
down), and a built frontend in ``dist/`` with hashed asset names. Environment knobs (see
:mod:`opsapp.knobs`) make it misbehave on purpose: latency, errors, a broken login, a down database or
queue, a slow start; ``POST /admin/knobs`` changes them while it runs (with ``OPSAPP_ADMIN_TOKEN``).
"""

__version__ = "1.4.2"
