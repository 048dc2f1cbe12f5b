"""aioipc's benchmark suite, run by ``make bench`` (``python -m benchmarks``).

Each *scenario* (``_scenarios.py`` and the family modules ``_family_*.py``, all listed
in ``_catalog.py``) is measured for each *implementation* (``_impl_*.py`` and the
family modules) that has a client for it, on each event loop. For every measurement
``_runner.py`` makes a fresh channel of the scenario's kind (``_channels.py``: a
socketpair, a Unix or TCP connection, a pipe or FIFO pair, a pty, a UDP or Unix
datagram socket, a SysV queue or semaphore pair), and both sides inherit their ends: a
raw blocking peer process (``peer.py``) and a fresh worker process (``worker.py``)
running the implementation's client. Scenarios without a channel (signals, processes,
the pipeline, servers) have no peer: the client builds its own load. The runner
measures implementations side by side in alternating rounds; ``_report.py`` saves JSON
in ``benchmarks/results/`` and renders the tables, ``_chart.py`` the PNG chart. See
``docs/benchmarks.md``.

Nothing is imported here: the peer (``python -m benchmarks.peer``) imports this package
and should start in a few milliseconds.
"""
