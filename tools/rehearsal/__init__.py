"""The CodeBuild rehearsal: run the three pipelines' buildspecs as CodeBuild would, against fake AWS.

``invoke rehearse`` exports the tree without ``.git``, sets the variables CodeBuild and the
synthesized stacks set, and runs each buildspec's phases against a moto server on loopback
(with faithful fakes where moto lacks behaviour) and a real OCI registry on loopback.
See docs/rehearsal.md.
"""
