"""``lr-ci bundle``: a frontend build's compressed sizes against budgets and against the base branch."""
