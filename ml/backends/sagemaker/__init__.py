"""The ``sagemaker`` backend: the lifecycle on AWS, with names read from Terraform state.

Nothing here creates an AWS client at import time; :meth:`SageMakerBackend.from_project` does,
when a task asks for the backend.
"""
