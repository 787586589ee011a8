"""The property-based suite over every route (issue 11): the route catalogue, the request
generator (one generator for the in-process suite and `bin/devcloud fuzz`), the checks."""
