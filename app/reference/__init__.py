"""Bundled administrative reference data (communes, EPCI, départements, régions)."""
