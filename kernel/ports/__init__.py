"""The ports: what the application asks of the world, as Protocols the adapters implement, with the typed values
that cross them. One module per concern; the owner-writing port's names are re-exported here."""

from kernel.ports.owners import OwnerChange, OwnerReader, OwnerWriter, WriteResult

__all__ = ["OwnerChange", "OwnerReader", "OwnerWriter", "WriteResult"]
