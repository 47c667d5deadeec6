"""The bring-your-own-container programs: ``train`` and ``serve`` under the SageMaker contract.

This package is what the image holds. It imports only itself and its pinned libraries
(numpy, scikit-learn, skops, granian), never the rest of the repository.
"""
