"""Version 1 of the admin API (`/v1`)."""
