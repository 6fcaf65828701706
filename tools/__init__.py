"""The ``attentrack`` command line."""
