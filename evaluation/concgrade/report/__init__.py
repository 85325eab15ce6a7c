"""Writers: each turns the results model into one output format and reads nothing else."""
