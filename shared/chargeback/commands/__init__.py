"""One module per ``chargeback`` subcommand; each defines ``register(subparsers)``."""
