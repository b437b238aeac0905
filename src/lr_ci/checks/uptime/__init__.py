"""``lr-ci uptime``: probes on a fixed schedule, an alert after N failures in a window, a bounded store.

The pure core lives here and imports nothing heavy: ``rule.py`` (the alert rule: results in, events out),
``schedule.py`` (when a probe starts, never a burst after a stall) and ``state.py`` (the SQLite file:
results, incidents, the notification outbox, bounded history). Probes, notifiers and the command plug
into these; time is always passed in as numbers, so every decision is testable with an injected clock.
"""
