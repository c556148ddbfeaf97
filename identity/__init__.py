"""Pseudonymous identity: keyed pseudonyms with key rotation, landing tokens, and the identity graph.

The graph (``IdentityGraph``) resolves typed identifiers to persons deterministically, with guards
against over-merging (shared identifiers, an edge window) and provenance (``explain``); its edges
persist in the warehouse (``EdgeStore``, ``load_graph``). For erasure, ``linked`` finds every
identifier of a person (never through a shared one) and ``without`` gives the graph without them.
It may import ``warehouse`` only.
"""

from .errors import IdentityError, InvalidIdentifier, UnknownIdentifier
from .explain import ExplainedEdge, Explanation, SharedIdentifier, explain
from .forget import Linked, linked, without
from .graph import GraphConfig, IdentityGraph, Resolution, person_id_of
from .landing import LANDING_AUDIENCE, LandingClaims, LandingTokens
from .model import PERSON_KINDS, SOURCES, Edge, Identifier, Kind, rotation_edges
from .pseudonym import Pseudonymizer, normalize_email
from .store import EdgeStore, load_graph

__all__ = [
    "LANDING_AUDIENCE",
    "PERSON_KINDS",
    "SOURCES",
    "Edge",
    "EdgeStore",
    "ExplainedEdge",
    "Explanation",
    "GraphConfig",
    "Identifier",
    "IdentityError",
    "IdentityGraph",
    "InvalidIdentifier",
    "Kind",
    "LandingClaims",
    "LandingTokens",
    "Linked",
    "Pseudonymizer",
    "Resolution",
    "SharedIdentifier",
    "UnknownIdentifier",
    "explain",
    "linked",
    "load_graph",
    "normalize_email",
    "person_id_of",
    "rotation_edges",
    "without",
]
