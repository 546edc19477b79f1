"""property-bulk-upload: the upload model, the CSV schema and rows, chunking and results."""
