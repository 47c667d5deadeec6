"""Checks of AWS requests and permissions against AWS's own published models."""
