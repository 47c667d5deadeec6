"""The local backend: the whole SageMaker lifecycle on one machine, with no AWS account.

Training jobs and serving variants are the container's own programs run as processes (or inside
the built image with buildah), each with its own ``SAGEMAKER_BASE_DIR`` tree; an endpoint is a
real nginx router in front of them; records live as JSON under the project's state directory.
"""
