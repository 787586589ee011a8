"""The Image API (Glance v2) at the top, under `/image`: the top's own Glance
(`[image] glance_url`) behind Cascade's endpoint, every request forwarded to it and its
answers relayed as they come (`proxy`), bodies streamed both ways."""
