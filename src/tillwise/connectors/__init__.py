"""Platform connectors: one package per POS (verify + normalize, later client and write-back),
plus ``generic`` (the vendor-neutral JSON shape) and ``simulator`` (a built-in POS that replays
a real retail data set as live, signed ``generic`` webhooks). Signature code lives once, in
``_signatures``."""
