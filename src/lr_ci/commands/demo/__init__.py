"""``lr-ci demo``: every check against the bundled sample ops app, narrated, in under two minutes."""
