"""Trainer adapters, one module per trainer: TRL (`adapters.trl`), verl (`adapters.verl`),
OpenRLHF (`adapters.openrlhf`) and EasyR1 (`adapters.easyr1`)."""
