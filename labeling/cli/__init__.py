"""Command-line tools of the labeling stage (label-session, label-models)."""
