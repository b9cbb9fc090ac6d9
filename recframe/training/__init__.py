"""Training and evaluation as recorded runs: composition, ``fit``, callbacks, loggers, feedback updates."""
