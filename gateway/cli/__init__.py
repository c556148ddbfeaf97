"""The ``ga4gw`` command line: ``main`` builds the parser and each command group registers itself from its
own module; ``gateway.errors.CommandError`` is what a command raises for the user to act on.

May import: every room.
"""
