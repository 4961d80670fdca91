"""Package data (JSON files); no code."""
