"""Lifecycle code for the bring-your-own-container model: config, backends, pipeline."""
