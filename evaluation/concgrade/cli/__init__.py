"""The command line: argument parsing and the one-line errors and exit statuses users see."""
