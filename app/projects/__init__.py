"""Projects (dossiers): what a collectivité files, what may be funded, and how a dossier moves."""
