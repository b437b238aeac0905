"""``lr-ci uptime``: probes on a fixed schedule, an alert after N failures in a window, a bounded store.

The pure core imports nothing heavy: ``rule.py`` (the alert rule: results in, events out),
``schedule.py`` (when a probe starts, never a burst after a stall) and ``state.py`` (the SQLite file:
results, incidents, the notification outbox, bounded history); time is always passed in as numbers, so
every decision is testable with an injected clock. Around it: ``probes.py`` (HTTP, flow, SMTP and TLS
probes: settings in, a result out, bounded by the timeout, never raising for the target),
``notify.py`` (one outbox row to apprise or lr-ci's signed webhook: delivered or a masked reason) and
``monitor.py`` (``run_round``: probe, judge, record, deliver, compact, with the probes and the notifier
injected). The command (``check --once``, ``run``, ``test-alert``) plugs these together.
"""
