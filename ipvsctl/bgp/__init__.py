"""Announcing the VIPs over BGP by health: BIRD 2's configuration (render), the pure step
that decides what to announce (announce) and the adapter that drives BIRD (speaker)."""
