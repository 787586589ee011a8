"""One module per OpenStack service: its config, its setup steps, its processes."""
