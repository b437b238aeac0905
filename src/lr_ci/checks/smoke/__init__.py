"""``lr-ci smoke``: declared flows against a live deployment, one JUnit case per step."""
