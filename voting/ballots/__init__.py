"""Ballots (表决/票决): per-item votes, choose K of M, and satisfaction ratings."""
