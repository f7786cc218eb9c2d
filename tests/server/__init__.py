"""Tests of twin.server."""
