"""Terraform constructs (CDK for Terraform) for the build, train and deploy pipelines.

Every cdktf import of the project lives in this package and in ``main.py``; the rest of the
repository never imports it, so swapping cdktf for its fork is an import change here only.
"""
