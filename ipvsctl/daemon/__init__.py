"""The long-running director (`ipvsctl run`): the loop around health, reload and repair."""
