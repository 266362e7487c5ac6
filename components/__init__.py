"""Data ingestion: dataset parsers (free of TFX), the Beam ingest transform, and the ExampleGens."""
