"""The OpenStackClient plugin (`plugin`) and its commands."""
