"""paperzoo-rerank-feedback: Retrieve, re-rank and ReFIT query updates in a text-ranking pipeline."""
