"""Heavy batch compute backends: local process pool, Dask (from the replenishment issue on)."""
