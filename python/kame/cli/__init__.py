"""The `kame` command line tools."""
