"""Thin shells: parse input, call a use case, render output."""
