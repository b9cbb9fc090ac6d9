"""The experiment registry and run records: configs, run directories, the results index, reproductions."""
