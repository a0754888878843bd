"""Wire-level simulators of the remote systems the collection drives (not shipped in the build)."""
