"""What section notebooks call (``import annual_review as ar``): figures from the registers, tables, charts and
narratives shown for the report. Runs in the kernels."""
