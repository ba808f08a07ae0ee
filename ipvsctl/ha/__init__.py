"""Director HA: which director of the pair this host is, what it should run, what keepalived
needs. Pure steps: they turn the file's `ha` section into desired state and text; the planner,
executor and printer `apply` uses do the rest."""
