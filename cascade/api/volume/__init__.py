"""The Block Storage API (Cinder v3) at `/volume`."""
