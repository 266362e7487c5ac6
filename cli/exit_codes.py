"""The exit codes of the photo commands, `fdp predict` and `fdp batch-predict` (their --help says them)."""

ALL_ANSWERED = 0  # every photo got its record with faces (or none found)
SOME_FAILED = 1  # some photos got an error record (unreadable, or the models could not answer); the rest ran
BAD_ARGUMENTS = 2  # nothing ran: bad options (argparse's own code), no photo found, no model to load

EPILOG = ("exit status: 0 every photo answered; 1 some photos got an error record (the others were answered); "
          "2 bad arguments (no photo found, no model).")
