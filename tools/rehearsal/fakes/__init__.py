"""Fakes of the AWS services moto lacks or answers wrongly, one module per service."""
