"""`python -m farmhand.server`: the same as `farmhand server`."""

from farmhand.server._command import main

main()
