"""The `labellake` command line: `main.py` holds the root group and the entry point, each
other module one command group; `python -m labellake.portal.cli` runs it too.

User errors print one line on stderr and exit with status 2; ``--help`` works
on every command; ``--home DIR`` works before every command.
"""
