#!/usr/bin/env bash
# Latent-flow paper, Table 4 at digit 4: which anomaly protocol are the paper's rows consistent
# with? All five models under both protocols (meg: the paper's text, 35 % anomalies; mnist-test:
# the reference README's command, 9.8 %), one seed, at a CPU budget (the first 20 000 training
# images, one epoch, 30 scoring steps; otherwise the `full` budget of `genflows table`). The
# tables print each protocol's anomaly fraction (AUPRC's chance level) under the columns.
#   python experiments/lfbm_table4.py which_protocol DATA_ROOT
set -euo pipefail
DATA_ROOT="${1:?usage: python experiments/lfbm_table4.py which_protocol DATA_ROOT}"
for protocol in mnist-test meg; do
  genflows table anomaly --budget full --seeds 1 --holdouts 4 --models vae,lfbm-vae,abp,lfbm-mcmc,lebm --data-root "$DATA_ROOT" \
    --set data.protocol=$protocol --set train.epochs=1 --set data.train_size=20000 \
    --out experiments/runs/which-protocol-$protocol
done
