"""Sample data: synthetic driving clips, and importers for videos and MOTChallenge folders."""
