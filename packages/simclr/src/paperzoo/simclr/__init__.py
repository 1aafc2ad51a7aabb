"""paperzoo-simclr: SimCLR contrastive pretraining with linear and kNN evaluation."""
