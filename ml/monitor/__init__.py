"""``invoke monitor``: captured traffic compared with the training baseline of the version that served it.

Reading (:mod:`.sources`, :mod:`.capture`) streams line by line; statistics (:mod:`.stats`) keep
fixed-size counters; nothing holds the window in memory, so the monitor's footprint does not grow
with the traffic it reads.
"""
