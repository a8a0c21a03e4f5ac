"""Test helpers shared across apps (pytest fixtures that need more than one file)."""
