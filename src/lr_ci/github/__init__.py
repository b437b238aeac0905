"""Everything lr-ci does for GitHub: the actions' runtime (``action``), their generated files
(``generate``) and the REST calls they make (``api``). Workflow commands and step summaries are an output
format and stay in ``lr_ci.output``."""
