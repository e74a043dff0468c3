"""`python -m labellake.portal.cli`: what `up` starts the API with."""

from labellake.portal.cli.main import main

main()
