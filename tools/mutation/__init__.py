"""Mutation testing of the decision modules (``invoke mutation``); see docs/testing.md."""
