"""What a crawler run does: list the lake, classify and read a sample of each folder's
files, infer and merge schemas, group folders into tables and partitions, and write the
result into the catalog according to the crawler's policies."""
