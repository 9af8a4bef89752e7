"""`lbs import stores`: real store files in, rejects out, nothing guessed silently."""
