"""Infrastructure that no model or task formula depends on: processes (DDP), RNG states, atomic
files and run folders."""
