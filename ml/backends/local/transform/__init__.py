"""Batch transform: stream CSV input through a serve process in MultiRecord mini-batches."""
