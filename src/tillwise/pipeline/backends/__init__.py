"""Bus backends: ``memory`` (unit tests), ``sql`` (embedded default), ``jetstream`` (scale-out).

Each implements :class:`tillwise.ports.bus.Bus` and passes the same contract suite
(``tests/contract/test_bus.py``). Import the one you need; nothing is imported here.
"""
