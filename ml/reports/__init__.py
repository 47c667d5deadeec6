"""Training reports a reviewer reads before approving a model version (issue 12).

A report is a folder: ``index.html`` (metrics, per-class precision and recall, the lineage, the
baseline summary, and the candidate beside the version now serving) plus ``confusion.png`` and
``scores.json``. It is made outside the container, from the registered artifact and the data the
version was trained on, so matplotlib never enters the image.
"""
