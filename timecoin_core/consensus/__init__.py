"""Consensus: masternode registry, instant-finality voting and BFT block commits (sans-IO)."""
