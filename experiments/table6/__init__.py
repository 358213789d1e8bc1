"""CoopFlow paper, Tables 6 and 7: the studies behind them, run through ``experiments/coopflow_table6.py SUBCOMMAND``."""
