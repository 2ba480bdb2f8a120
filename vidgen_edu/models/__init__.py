"""Model families, one per file (``vae``, ``recurrent``, ``attention``, ``transformer``, ...)."""
