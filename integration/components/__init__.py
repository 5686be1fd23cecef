"""What Game Film installs into the CRMs: the manifest (the single source of truth), the
files generated from it, and the installers that put it into an org or a portal."""
