"""Trainer adapters, one module per trainer: TRL (`adapters.trl`), verl (`adapters.verl`),
OpenRLHF (`adapters.openrlhf`), EasyR1 (`adapters.easyr1`) and ms-swift (`adapters.swift`)."""
