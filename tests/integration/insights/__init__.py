"""Insight agents against the emulators: throttles under concurrency, templates, the loop."""
