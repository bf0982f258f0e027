"""mtbridge: the reference export bridge of bridge-protocol/ (version 1), the serving side.

The protocol (handshake, framing, requests, paging, digests, errors) lives here once; each source of
MetaTrader data is a small backend behind `mtbridge.backend.Backend`.
"""

VERSION = "0.1.0"
