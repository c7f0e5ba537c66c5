"""The build, on the host: plan which sections run, run them on warm kernels (or a Dask cluster), render the report
in each format, and publish it with its record."""
