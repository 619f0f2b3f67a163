"""AWS Glue: the Data Catalog (databases, tables, partitions, statistics, functions),
classifiers and crawlers that discover the lake's schema from the data itself."""
