"""Terraform with the real AWS provider: the validation copy, ``terraform validate``, and apply against fakes."""
