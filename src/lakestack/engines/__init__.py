"""Adapters to the engines lakestack runs on (stream logs, SQL, tables, jobs), chosen by settings."""
