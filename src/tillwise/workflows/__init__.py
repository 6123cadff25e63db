"""One package per capability; each depends on domain, ports (and ai) only."""
