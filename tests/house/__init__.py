"""The house's own import-linter contract types (``[tool.importlinter]`` in
pyproject.toml names them; ``lint-imports`` runs from the repository root,
which it puts on ``sys.path``)."""
