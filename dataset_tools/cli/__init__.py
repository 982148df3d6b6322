"""Command-line tools of dataset_tools (one module per ``[project.scripts]`` entry)."""
