"""Configuration: the settings object, its specs and parsers, the keyrings, and the domain packages'
configurations built from the settings (``domain``).

Read once at start; everything else receives what it needs from here.

May import: the package's top-level modules (``gateway.errors``) and the standard library.
"""
