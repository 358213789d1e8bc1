"""Latent-flow paper, Table 4: the studies behind it, run through ``experiments/lfbm_table4.py SUBCOMMAND``."""
