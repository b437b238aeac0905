"""``lr-ci p95``: a staging latency regression gate with locust as the load engine.

Only ``load.py`` imports locust (and so gevent's monkey-patching), and only when a load test runs.
"""
