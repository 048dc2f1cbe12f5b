"""aioipc's benchmark suite, run by ``make bench`` (``python -m benchmarks``).

Each *scenario* (``_scenarios.py``) is measured for each *implementation*
(``_impl_*.py``, listed in ``_catalog.py``) on each event loop: a fresh worker process
(``worker.py``) runs the implementation against a raw blocking peer process
(``peer.py``) over a socketpair. ``_runner.py`` runs them side by side in alternating
rounds; ``_report.py`` saves JSON in ``benchmarks/results/`` and renders the tables.
See ``docs/benchmarks.md``.

Nothing is imported here: the peer (``python -m benchmarks.peer``) imports this package
and should start in a few milliseconds.
"""
