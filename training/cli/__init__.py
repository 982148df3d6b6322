"""Command-line entry points: ``train``, ``evaluate``, ``predict``."""
