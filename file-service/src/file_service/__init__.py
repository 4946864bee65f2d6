"""file-service: blobs and file metadata events. Filled in by the file-service issue."""
