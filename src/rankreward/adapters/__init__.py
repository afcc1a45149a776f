"""Trainer adapters: TRL (`adapters.trl`); verl and OpenRLHF follow."""
