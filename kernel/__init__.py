"""The bottom layer, which every other layer may import: the error types, the port Protocols with the values
they carry, and the clock. It imports nothing of Baton's."""
