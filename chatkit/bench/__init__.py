"""``chatkit bench``: a load generator for a running chatkit server (or the bare relay).

Modules, one job each: ``provision`` (accounts and chats), ``direct`` (the same straight
into MongoDB, the only module that needs PyMongo), ``wire`` (a lean Socket.IO client),
``load`` (the modes, run by worker processes), ``measure`` (percentiles, /proc) and
``report`` (live progress, final table, JSON). It speaks only the wire: nothing here
imports the server, the domain or storage, so it measures what a client would see.
"""
