"""A sweep as a whole: its plan before launch, progress while it runs, its summary at the end, and the SLURM launcher's checks and watch."""
