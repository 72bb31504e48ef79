"""Training code: dataset readers and the character CNN. Never imported by `hcrbatch run`."""
