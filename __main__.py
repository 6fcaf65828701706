"""``python -m attentrack ...``: the same as the ``attentrack`` command."""

from attentrack.tools.cli import main

main()
