"""Batch transform across instances: split one input into parts, spread them, join the outputs.

SageMaker gives each transform instance whole S3 objects, so one large object keeps one instance
busy and leaves the rest idle. Both backends split such an input on line boundaries into parts
(streamed, never the whole input in memory), run one job over the parts, and join the parts'
``.out`` back in input order. What the data contract says about headers and labels lives in
:mod:`ml.backends.split.contract`; the cutting in :mod:`ml.backends.split.cutter`; which instance
gets which object in :mod:`ml.backends.split.spread`.
"""
