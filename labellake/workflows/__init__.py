"""Domain services, one subpackage per domain, each a service plus the Protocols of its
seams: labeling, models, documents, benchmarks, people (accounts and workforce),
imports (video, MOT, Ground Truth), samples (synthetic data and the demo) and aws
(the state table, the template, bootstrap, the Step Functions worker loop).

compose.py is the composition root: what runs under a profile, built from the
settings, in one file; services take what they need in their constructors. Beside it:
home.py (a home's stores and API token), statedb.py (the SQLite state db every
subsystem keeps its own tables in), loop.py (the loop of every background worker) and
doctor.py (the checks of `labellake doctor`).
"""
