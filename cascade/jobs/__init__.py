"""Durable jobs: a queue in Cascade's database, handlers by type, workers that run them."""
