"""Fine-tuning the dense encoder on a collection's own corpus (above indexing/ and server/)."""
