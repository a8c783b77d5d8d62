"""Input sources: file readers and live TCP/UDP AIS feed clients."""
