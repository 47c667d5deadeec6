"""Checks of the AWS path without an AWS account: requests against botocore's models, permissions against the SAR."""
