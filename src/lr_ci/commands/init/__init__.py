"""``lr-ci init``: look at a repository and write a commented lr-ci.toml (and, if asked, workflows)."""
