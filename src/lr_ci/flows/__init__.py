"""Flows, shared by every check that sends requests in order and checks the answers.

``lr-ci smoke`` runs them after a deploy, ``lr-ci p95`` logs in with one before it loads a deployment, and
``uptime`` monitors will probe with them. :mod:`.model` holds the validated shape of a flow (as written in
``lr-ci.toml``), :mod:`.runner` runs flows and returns a result per step; the rest are its helpers (HTML
forms as a browser submits them, CSS selectors, JSON paths, regular expressions in a bounded process, URLs
without their credentials).
"""
